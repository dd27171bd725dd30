package merkle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Options say which table's tree to bring up to date (and compare).
type Options struct {
	Cluster       string
	Schema, Table string
	Concurrency   int
	Tool          string
}

// Result is what a Sync or Build did.
type Result struct {
	Diff      *report.Diff // the finished header and summary (Sync with a sink only)
	Leaves    int
	Rehashed  int      // leaves hashed in this run (on every node)
	Differing int      // leaves whose sums differ across nodes
	Marks     int64    // change marks consumed, all nodes
	Skipped   []string // nodes whose state was not stored: another update ran meanwhile
	Lost      []string // nodes that had no usable stored tree (never built there, or a crash)
	Splits    int      // leaves split because they grew past twice the block size
	Merges    int      // leaves merged into a neighbour because they shrank
}

// Sync brings the table's trees up to date on every node: inside one snapshot per node it
// rehashes every leaf that a change mark (visible in that snapshot) falls in, on every node, and,
// when sink is not nil, compares the leaves across nodes and drills into the differing ones with
// table-diff's row-level code, streaming differing keys to sink. Then each node stores its new
// leaf sums and deletes the marks its snapshot saw, unless another update stored meanwhile.
// Trackers must have drained their change stream before Sync is called.
func Sync(ctx context.Context, pools cluster.Pools, opts Options, sink report.Sink) (*Result, error) {
	started := time.Now().UTC()
	step := func(name string) { slog.Debug("mtree sync", "step", name, "seconds", time.Since(started).Seconds()) }
	tree, pls, err := locate(ctx, pools, opts.Schema, opts.Table)
	if err != nil {
		return nil, err
	}
	c, err := prepare(ctx, pools, opts, tree.BlockSize)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(c.Table().Table.Key, tree.Key) {
		return nil, fault.Input("the key of %s is %v now but was %v when its tree was built: run `pgparity mtree build` again",
			c.Table().Table.Ident(), c.Table().Table.Key, tree.Key)
	}
	step("prepared")
	ks := newKeySQL(c.Table())
	states := make([]*nodeState, len(pools))
	_, err = c.Open(ctx, opts.Concurrency, func(ctx context.Context, i int, tx pgx.Tx) error {
		st, err := readState(ctx, tx, tree, pls[i], ks)
		states[i] = st
		return err
	})
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	step("snapshots and stored state read")
	res := &Result{Leaves: tree.Leaves()}
	dirty := make([]bool, tree.Leaves())
	for i, st := range states {
		res.Marks += st.marks
		if !st.usable {
			res.Lost = append(res.Lost, pools[i].Node.Name)
		}
		for l := range dirty {
			dirty[l] = dirty[l] || st.all || st.dirty[l]
		}
	}
	fresh, err := rehash(ctx, c, tree, dirty)
	if err != nil {
		return nil, err
	}
	res.Rehashed = len(fresh)
	step("dirty leaves rehashed")
	sums := make([][]diff.RangeSum, len(pools)) // per node, per leaf, as of the snapshots
	for n := range sums {
		sums[n] = make([]diff.RangeSum, tree.Leaves())
		for l := range sums[n] {
			if dirty[l] {
				sums[n][l] = fresh[l][n]
			} else {
				sums[n][l] = states[n].sums[l]
			}
		}
	}
	if sink != nil {
		sum := func(leaf, node int) diff.RangeSum { return sums[node][leaf] }
		if res.Diff, res.Differing, err = compare(ctx, c, tree, sum, sink, started); err != nil {
			return nil, err
		}
	}
	step("compared")
	relayout, err := rebalance(ctx, c, pools, tree, sums, dirty, &res.Splits, &res.Merges)
	if err != nil {
		return nil, err
	}
	res.Leaves = tree.Leaves()
	c.Close(ctx)
	stored := make([]bool, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			var err error
			stored[i], err = store(gctx, p, tree, pls[i].relid, states[i], sums[i], dirty, false, relayout)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	step("stored")
	for i, p := range pools {
		if !stored[i] {
			res.Skipped = append(res.Skipped, p.Node.Name)
		}
	}
	return res, nil
}

// prepare opens table-diff's comparer for the table.
func prepare(ctx context.Context, pools cluster.Pools, opts Options, blockSize int) (*diff.Comparer, error) {
	c, err := diff.Prepare(ctx, pools, diff.Options{
		Cluster: opts.Cluster, Schema: opts.Schema, Table: opts.Table,
		BlockSize: max(10, blockSize), Concurrency: max(1, opts.Concurrency), Tool: opts.Tool,
	})
	if err != nil {
		return nil, err
	}
	if c.Table().Table.KeyKind == catalog.KeyNone {
		return nil, fault.Input("%s has no usable key (no primary key and no unique index on NOT NULL columns): a tree needs one", c.Table().Table.Ident())
	}
	return c, nil
}

// maxSpan is how many adjacent leaves one hashing query covers.
const maxSpan = 50

// rehash hashes the dirty leaves on every node in the open snapshots: fresh[leaf][node].
func rehash(ctx context.Context, c *diff.Comparer, t *Tree, dirty []bool) (map[int][]diff.RangeSum, error) {
	var spans [][2]int
	for l := 0; l < len(dirty); l++ {
		if !dirty[l] {
			continue
		}
		first := l
		for l+1 < len(dirty) && dirty[l+1] && l+1-first < maxSpan {
			l++
		}
		spans = append(spans, [2]int{first, l})
	}
	fresh := make(map[int][]diff.RangeSum, len(spans))
	work := make(chan [2]int)
	results := make(chan map[int][]diff.RangeSum)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, s := range spans {
			select {
			case work <- s:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	wg, wctx := errgroup.WithContext(gctx)
	for w := 0; w < c.Workers(); w++ {
		wg.Go(func() error {
			for s := range work {
				sums, err := c.HashRange(wctx, w, t.span(s[0], s[1]))
				if err != nil {
					return err
				}
				out := map[int][]diff.RangeSum{}
				for l := s[0]; l <= s[1]; l++ {
					out[l] = make([]diff.RangeSum, len(sums))
					for node := range sums {
						out[l][node] = normal(sums[node][l-s[0]])
					}
				}
				select {
				case results <- out:
				case <-wctx.Done():
					return wctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		err := wg.Wait()
		close(results)
		return err
	})
	for r := range results {
		for l, s := range r {
			fresh[l] = s
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return fresh, nil
}

// compare finds the leaves whose sums differ across nodes, drills into them in the open
// snapshots, and streams their differing keys to sink in leaf order.
func compare(ctx context.Context, c *diff.Comparer, t *Tree, sum func(leaf, node int) diff.RangeSum, sink report.Sink, started time.Time) (*report.Diff, int, error) {
	nodes := c.Nodes()
	d := c.Header(started)
	d.Options.BlockSize = t.BlockSize
	if err := sink.Begin(d); err != nil {
		return nil, 0, err
	}
	rows := make([]int64, len(nodes))
	var differing []int
	for l := 0; l < t.Leaves(); l++ {
		first := sum(l, 0)
		same := true
		for n := range nodes {
			s := sum(l, n)
			rows[n] += s.Count
			same = same && s == first
		}
		if !same {
			differing = append(differing, l)
		}
	}
	tally := report.NewTally(nodes)
	spans, err := drillSpans(t, differing, sum, len(nodes))
	if err != nil {
		return nil, 0, err
	}
	for start := 0; start < len(spans); start += c.Workers() {
		batch := spans[start:min(len(spans), start+c.Workers())]
		found := make([][]report.Entry, len(batch))
		g, gctx := errgroup.WithContext(ctx)
		for w, sp := range batch {
			g.Go(func() error {
				r := t.span(sp.first, sp.last)
				r.Subs = nil
				var err error
				found[w], err = c.DrillDown(gctx, w, r, sp.sums, 0)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, 0, err
		}
		for _, entries := range found {
			for i := range entries {
				if err := sink.Entry(&entries[i]); err != nil {
					return nil, 0, err
				}
				tally.Add(&entries[i])
			}
		}
	}
	d.FinishedAt = time.Now().UTC()
	s := &d.Summary
	s.DurationSeconds = d.FinishedAt.Sub(started).Seconds()
	s.RowsCompared = map[string]int64{}
	for n, name := range nodes {
		s.RowsCompared[name] = rows[n]
	}
	s.Ranges, s.RangesDiffering = t.Leaves(), len(differing)
	tally.Fill(s)
	s.Status = report.StatusMatch
	if s.DifferingKeys > 0 {
		s.Status = report.StatusDiffer
	}
	if err := sink.End(d); err != nil {
		return nil, 0, err
	}
	return d, len(differing), nil
}

// drillRows bounds the rows of adjacent differing leaves drilled into at once.
const drillRows = 10000

// span is a run of adjacent differing leaves drilled into at once, with each node's sum of them.
type span struct {
	first, last int
	sums        []map[int]diff.RangeSum
}

// drillSpans groups adjacent differing leaves (up to maxSpan leaves and drillRows rows on any
// node) so that a bulk change costs a few drill-downs, not one per leaf.
func drillSpans(t *Tree, differing []int, sum func(leaf, node int) diff.RangeSum, nodes int) ([]span, error) {
	var out []span
	for i := 0; i < len(differing); {
		first, last := differing[i], differing[i]
		rows := make([]int64, nodes)
		for n := range rows {
			rows[n] = sum(first, n).Count
		}
		i++
		for i < len(differing) && differing[i] == last+1 && last+1-first < maxSpan {
			fits := true
			for n := range rows {
				fits = fits && rows[n]+sum(last+1, n).Count <= drillRows
			}
			if !fits {
				break
			}
			last++
			for n := range rows {
				rows[n] += sum(last, n).Count
			}
			i++
		}
		sp := span{first: first, last: last, sums: make([]map[int]diff.RangeSum, nodes)}
		for n := range sp.sums {
			parts := make([]diff.RangeSum, 0, last-first+1)
			for l := first; l <= last; l++ {
				parts = append(parts, sum(l, n))
			}
			s, err := addSums(parts)
			if err != nil {
				return nil, err
			}
			sp.sums[n] = map[int]diff.RangeSum{0: s}
		}
		out = append(out, sp)
	}
	return out, nil
}

// store writes node p's leaf sums (sums[l] for every leaf l with write[l]) and deletes the change
// marks its snapshot saw, in one transaction, only if no other update stored since the snapshot
// (generation check). replace writes a new tree (build); all rewrites every leaf (a node without
// a usable tree, or new boundaries after a split or merge). It reports whether it stored.
func store(ctx context.Context, p *cluster.Pool, t *Tree, relid uint32, st *nodeState, sums []diff.RangeSum, write []bool, replace, all bool) (bool, error) {
	fail := func(what string, err error) (bool, error) {
		return false, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("store the tree of %s.%s: %s: %w", t.Schema, t.Table, what, err)}
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		return fail("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var tag int64
	if replace || st.generation < 0 {
		if replace {
			if _, err := tx.Exec(ctx, "DELETE FROM pgparity.trees WHERE relid = $1", relid); err != nil {
				return fail("replace tree", err)
			}
		}
		ct, err := tx.Exec(ctx, `INSERT INTO pgparity.trees (relid, schema_name, table_name, key_columns, rule_version, block_size)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (relid) DO NOTHING`, relid, t.Schema, t.Table, t.Key, encode.RowHashVersion, t.BlockSize)
		if err != nil {
			return fail("insert tree", err)
		}
		tag = ct.RowsAffected()
	} else {
		ct, err := tx.Exec(ctx, `UPDATE pgparity.trees SET generation = generation + 1, updated_at = now(), rule_version = $3
WHERE relid = $1 AND generation = $2`, relid, st.generation, encode.RowHashVersion)
		if err != nil {
			return fail("update tree", err)
		}
		tag = ct.RowsAffected()
	}
	if tag == 0 {
		return false, nil // another update stored since our snapshot: its state stands
	}
	all = all || replace || !st.usable
	leafSum := func(l int) []any {
		var lo []string
		if l > 0 {
			lo = t.Bounds[l-1]
		}
		sumText := sums[l].Sum
		if sumText == "" {
			sumText = "0"
		}
		return []any{relid, l, lo, sums[l].Count, sumText}
	}
	b := &pgx.Batch{}
	if all {
		if _, err := tx.Exec(ctx, "DELETE FROM pgparity.leaves WHERE tree = $1", relid); err != nil {
			return fail("replace leaves", err)
		}
		rows := make([][]any, len(sums))
		for l := range sums {
			rows[l] = leafSum(l)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pgparity", "leaves"}, []string{"tree", "leaf", "lo", "cnt", "sum"}, pgx.CopyFromRows(rows)); err != nil {
			return fail("write leaves", err)
		}
	} else {
		for l := range sums {
			if write[l] {
				b.Queue(`UPDATE pgparity.leaves SET cnt = $4, sum = $5 WHERE tree = $1 AND leaf = $2 AND lo IS NOT DISTINCT FROM $3`, leafSum(l)...)
			}
		}
	}
	b.Queue("DELETE FROM pgparity.marks WHERE tree = $1 AND pg_catalog.pg_visible_in_snapshot(xid, $2::pg_snapshot)", relid, st.snapshot)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fail("write leaves", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("commit", err)
	}
	return true, nil
}
