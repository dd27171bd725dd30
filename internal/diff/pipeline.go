package diff

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/report"
)

// Comparer exposes the steps of table-diff, so that other capabilities (persistent trees,
// replication-aware verification) run the same code instead of copying it:
//
//	c, _ := diff.Prepare(ctx, pools, opts)      // catalog, comparable columns, filter checked
//	c.Open(ctx, workers, hook)                  // one snapshot per node; hook runs right after it
//	ranges, _ := c.PlanRanges(ctx)              // or diff.RangesFromBounds(bounds)
//	sums, _ := c.HashRange(ctx, w, r)           // (count, sum of mixed row hashes) per sub-range
//	for _, sub := range diff.DifferingSubs(sums, len(r.Subs)) {
//		entries, _ := c.DrillDown(ctx, w, r, sums, sub)
//		... sink.Entry(&entries[i])
//	}
//	c.FetchEntries(ctx, w, keys)                // verdict for given keys, by key equality
//	c.Close(ctx)
//
// Worker w (0 <= w < Workers()) uses connection w of every node's session; one worker must not
// be used by two goroutines at once.
type Comparer struct {
	e *engine
}

// Prepare reads the table on every node, checks it is comparable and validates the filter.
func Prepare(ctx context.Context, pools cluster.Pools, opts Options) (*Comparer, error) {
	e, err := prepare(ctx, pools, opts)
	if err != nil {
		return nil, err
	}
	return &Comparer{e: e}, nil
}

// Table returns what is compared: the table, its key and compared columns.
func (c *Comparer) Table() *catalog.Comparison { return c.e.cmp }

// Nodes returns the node names, in pool order (entries refer to nodes by these positions).
func (c *Comparer) Nodes() []string { return c.e.nodes }

// Header returns a diff header for this comparison (row hash rule and version included), to
// begin a sink with.
func (c *Comparer) Header(started time.Time) *report.Diff { return c.e.newReport(started) }

// Open starts one read-only snapshot per node shared by up to workers connections (the same
// number on every node; fewer when pools are busy). hook, if not nil, runs on each node's first
// connection right after its snapshot is exported, node by node: node i+1's snapshot is taken
// after node i's hook returned. It returns the number of workers opened.
func (c *Comparer) Open(ctx context.Context, workers int, hook SnapshotHook) (int, error) {
	return c.open(ctx, workers, hook, true)
}

// OpenAll is Open for a hook that does not depend on the order of the nodes' snapshots: the
// nodes take theirs at once.
func (c *Comparer) OpenAll(ctx context.Context, workers int, hook SnapshotHook) (int, error) {
	return c.open(ctx, workers, hook, false)
}

func (c *Comparer) open(ctx context.Context, workers int, hook SnapshotHook, ordered bool) (int, error) {
	s, err := openSessions(ctx, c.e.pools, max(1, workers), hook, ordered)
	if err != nil {
		return 0, err
	}
	c.e.sessions = s
	c.e.workers = len(s[0].txs)
	return c.e.workers, nil
}

// Workers returns the number of workers opened.
func (c *Comparer) Workers() int { return c.e.workers }

// Close ends the snapshots and releases the connections.
func (c *Comparer) Close(ctx context.Context) {
	closeSessions(ctx, c.e.sessions)
	c.e.sessions = nil
}

// PlanRanges plans key ranges of about Options.BlockSize rows on the node holding the most rows,
// half-open, the first open below and the last open above, each split into sub-ranges.
func (c *Comparer) PlanRanges(ctx context.Context) ([]Range, error) {
	e := c.e
	planner, est, err := e.plannerNode(ctx)
	if err != nil {
		return nil, err
	}
	ranges, err := planRanges(ctx, e.sessions[planner].txs[0], e.q, est, e.opts.BlockSize)
	if err != nil {
		return nil, nodeErr(e.nodes[planner], "table "+e.cmp.Table.Ident(), err)
	}
	return ranges, nil
}

// RangesFromBounds turns ascending key boundaries (e.g. stored leaf boundaries) into ranges:
// every perRange-th boundary ends a range, the others split it into sub-ranges; the first range
// is open below and the last open above.
func RangesFromBounds(bounds []Key, perRange int) []Range {
	return groupBounds(bounds, max(1, perRange))
}

// HashRange returns, per node, the (count, checksum) of every sub-range of r that holds rows.
func (c *Comparer) HashRange(ctx context.Context, w int, r Range) ([]map[int]RangeSum, error) {
	return c.e.hashRange(ctx, w, r)
}

// DifferingSubs lists the sub-ranges (0..nSubs) whose checksums are not equal on every node.
func DifferingSubs(sums []map[int]RangeSum, nSubs int) []int { return differingSubs(sums, nSubs) }

// DrillDown returns the entries of the differing keys of sub-range sub of r, in key order, read
// in the open snapshots.
func (c *Comparer) DrillDown(ctx context.Context, w int, r Range, sums []map[int]RangeSum, sub int) ([]report.Entry, error) {
	return c.e.drillDown(ctx, w, r.sub(sub), sums, sub, nil)
}

// FetchEntries reads the rows of keys on every node (by key equality, in the open snapshots) and
// returns the entries of the keys on which nodes disagree, in the order of keys.
func (c *Comparer) FetchEntries(ctx context.Context, w int, keys []Key) ([]report.Entry, error) {
	all, err := c.e.fetchEntries(ctx, w, keys)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, en := range all {
		if en.Versions != nil {
			out = append(out, en)
		}
	}
	return out, nil
}

// fetchEntries returns, per key, its entry on every node (zero Entry when the nodes agree or no
// node holds it), reading on worker w of the open sessions.
func (e *engine) fetchEntries(ctx context.Context, w int, keys []Key) ([]report.Entry, error) {
	f := newFound(len(e.nodes))
	var mu sync.Mutex
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		return e.fetchKeys(ctx, tx, keys, func(k Key, row *nodeRow) {
			mu.Lock()
			f.put(k, i, row)
			mu.Unlock()
		})
	}, w)
	if err != nil {
		return nil, err
	}
	reps := make([]int, len(e.nodes))
	for i := range reps {
		reps[i] = i
	}
	out := make([]report.Entry, len(keys))
	for i, k := range keys {
		if _, ok := f.byID[k.id()]; !ok {
			continue
		}
		if en, ok := f.entry(k, reps); ok {
			out[i] = en
		}
	}
	return out, nil
}

// ReadHashes reads the current row hashes of keys on node (a position in Nodes) outside the open
// snapshots, in fresh statements on the node's pool: a later read than the snapshot's. It
// returns, per key, its row hash, or nil where the node lacks the row. Keyed tables only.
func (c *Comparer) ReadHashes(ctx context.Context, node int, keys []Key) ([]*int64, error) {
	e := c.e
	got := make(map[string]int64, len(keys))
	err := e.fetchKeysAs(ctx, e.pools[node], keys, true, func(k Key, row *nodeRow) { got[k.id()] = row.hash })
	if err != nil {
		return nil, nodeErr(e.nodes[node], "re-read", err)
	}
	out := make([]*int64, len(keys))
	for i, k := range keys {
		if h, ok := got[k.id()]; ok {
			out[i] = &h
		}
	}
	return out, nil
}

// CountHashes counts, on node (a position in Nodes) outside the open snapshots, the rows whose
// row hash is each of hashes: the whole-row (no key) counterpart of ReadHashes. It reads the
// whole table once per call.
func (c *Comparer) CountHashes(ctx context.Context, node int, hashes []int64) ([]int64, error) {
	e := c.e
	sql := "SELECT h, count(*) FROM (SELECT " + e.q.hash + " AS h FROM " + e.q.from + whereClause(e.q.where) +
		") AS s WHERE h = ANY($1::int8[]) GROUP BY h"
	got := make(map[int64]int64, len(hashes))
	rows, err := e.pools[node].Query(ctx, sql, hashes)
	if err != nil {
		return nil, nodeErr(e.nodes[node], "count rows of "+e.cmp.Table.Ident(), err)
	}
	var h, n int64
	if _, err := pgx.ForEachRow(rows, []any{&h, &n}, func() error { got[h] = n; return nil }); err != nil {
		return nil, nodeErr(e.nodes[node], "count rows of "+e.cmp.Table.Ident(), err)
	}
	out := make([]int64, len(hashes))
	for i, h := range hashes {
		out[i] = got[h]
	}
	return out, nil
}

// OnNode runs fn on node i's first snapshot connection (worker 0), e.g. to read state that must
// be seen in the comparison's snapshot. Errors are attributed to the node.
func (c *Comparer) OnNode(ctx context.Context, i int, fn func(tx pgx.Tx) error) error {
	s := c.e.sessions[i]
	if err := fn(s.txs[0]); err != nil {
		return &cluster.NodeError{Node: s.node, Err: err}
	}
	return nil
}
