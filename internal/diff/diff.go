// Package diff finds every differing row of a table across 2..N nodes: it hashes key ranges on
// every node inside one snapshot per node, drills into ranges whose checksums differ, fetches the
// full rows of differing keys only, and re-reads them on request before reporting.
package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Options say what to compare and how.
type Options struct {
	Cluster        string
	Schema, Table  string
	BlockSize      int
	Concurrency    int
	Where          string
	Columns        []string
	ExcludeColumns []string
	MaxDiffRows    int
	Strict         bool
	Recheck        time.Duration
	Tool           string
	Progress       Progress
}

// Progress receives progress events; implementations must be safe for concurrent use.
type Progress interface {
	RangesPlanned(total int)
	RangeDone(differs bool)
	// KeysAnalysed reports keys compared one by one in a differing range, and how many of
	// them differ.
	KeysAnalysed(analysed, differing int)
}

type noProgress struct{}

func (noProgress) RangesPlanned(int)     {}
func (noProgress) RangeDone(bool)        {}
func (noProgress) KeysAnalysed(int, int) {}

// engine is the state of one comparison.
type engine struct {
	opts         Options
	nodes        []string
	pools        cluster.Pools
	cmp          *catalog.Comparison
	q            *queries
	sessions     []*session
	workers      int
	tables       []*catalog.Table // per node
	rowsCompared []atomic.Int64
	progress     Progress
	// versions[r][i] tells which version of report row r node i holds: 0 = none; equal
	// numbers = equal rows (by row hash, or by copy count in whole-row mode).
	versions [][]int
}

// Run compares opts.Schema.opts.Table across pools and returns the diff. Input problems (missing
// table, differing columns, bad filter) are fault input errors; node failures are
// *cluster.NodeError. A returned diff is never a partial run reported as a match.
func Run(ctx context.Context, pools cluster.Pools, opts Options) (*report.Diff, error) {
	started := time.Now().UTC()
	e, err := prepare(ctx, pools, opts)
	if err != nil {
		return nil, err
	}
	d := e.newReport(started)
	if e.cmp.Table.KeyKind == catalog.KeyNone {
		err = e.runMultiset(ctx, d)
	} else {
		err = e.runKeyed(ctx, d)
	}
	if err != nil {
		return nil, err
	}
	if opts.Recheck > 0 && len(d.Rows) > 0 {
		if err := e.recheck(ctx, d); err != nil {
			return nil, err
		}
	}
	e.finish(d, started)
	return d, nil
}

// prepare reads the table on every node, checks it is comparable and validates the filter.
func prepare(ctx context.Context, pools cluster.Pools, opts Options) (*engine, error) {
	if opts.BlockSize < 10 {
		return nil, fault.Input("--block-size must be at least 10, got %d", opts.BlockSize)
	}
	if opts.MaxDiffRows < 1 {
		return nil, fault.Input("--max-diff-rows must be at least 1, got %d", opts.MaxDiffRows)
	}
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	e := &engine{opts: opts, pools: pools, nodes: pools.Names(), progress: opts.Progress}
	e.rowsCompared = make([]atomic.Int64, len(pools))
	tables := make([]*catalog.Table, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			t, err := catalog.Load(gctx, p, opts.Schema, opts.Table)
			if err != nil && !errors.Is(err, catalog.ErrTableMissing) {
				return &cluster.NodeError{Node: p.Node.Name, Err: err}
			}
			tables[i] = t
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var missing []string
	for i, t := range tables {
		if t == nil {
			missing = append(missing, e.nodes[i])
		}
	}
	if len(missing) > 0 {
		return nil, fault.Input("table %s does not exist on node(s) %s", catalogIdent(opts.Schema, opts.Table), strings.Join(missing, ", "))
	}
	cmp, err := catalog.Compare(e.nodes, tables, opts.Columns, opts.ExcludeColumns)
	if err != nil {
		return nil, err
	}
	e.cmp, e.tables = cmp, tables
	if opts.Where != "" {
		if err := validateWhere(ctx, pools, cmp.Table, opts.Where); err != nil {
			return nil, err
		}
	}
	e.q = newQueries(cmp, opts.Strict, opts.Where)
	e.workers = max(1, opts.Concurrency)
	for _, p := range pools {
		e.workers = min(e.workers, int(p.Config().MaxConns))
	}
	return e, nil
}

func catalogIdent(schema, table string) string {
	return (&catalog.Table{Schema: schema, Name: table}).Ident()
}

// runKeyed is the keyed comparison: plan ranges, hash them, drill down, fetch differing rows.
func (e *engine) runKeyed(ctx context.Context, d *report.Diff) error {
	var err error
	e.sessions, err = openSessions(ctx, e.pools, e.workers)
	if err != nil {
		return err
	}
	e.workers = len(e.sessions[0].txs)
	defer closeSessions(ctx, e.sessions)
	// Plan on the node that holds the most rows; rows only other nodes have still land in the
	// open-ended ranges. A node that cannot estimate (never analyzed, or truncated since) is
	// counted, in its snapshot, so that an empty node is never mistaken for the largest.
	planner, est := 0, -1.0
	for i, t := range e.tables {
		rows := t.EstRows
		if rows < 0 {
			var n int64
			if err := e.sessions[i].txs[0].QueryRow(ctx, "SELECT count(*) FROM "+e.q.from).Scan(&n); err != nil {
				return nodeErr(e.nodes[i], "count rows of "+e.cmp.Table.Ident(), err)
			}
			rows = float64(n)
		}
		if rows > est {
			planner, est = i, rows
		}
	}
	ranges, err := planRanges(ctx, e.sessions[planner].txs[0], e.q, est, e.opts.BlockSize)
	if err != nil {
		return nodeErr(e.nodes[planner], "table "+e.cmp.Table.Ident(), err)
	}
	e.progress.RangesPlanned(len(ranges))
	d.Summary.Ranges = len(ranges)
	cands, err := e.scanRanges(ctx, ranges)
	if err != nil {
		return err
	}
	d.Summary.RangesDiffering = cands.differs
	if cands.full {
		d.Summary.Status = report.StatusPartial
		d.Summary.PartialReason = fmt.Sprintf("stopped after %d differing keys (--max-diff-rows)", e.opts.MaxDiffRows)
	}
	list := make([]*candidate, 0, len(cands.byID))
	for _, c := range cands.byID {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].rng != list[j].rng {
			return list[i].rng < list[j].rng
		}
		return compareKeys(list[i].key, list[j].key, e.q.key) < 0
	})
	keys := make([]Key, len(list))
	for i, c := range list {
		keys[i] = c.key
	}
	f, err := e.fetchKeys(ctx, keys, e.sessionQueriers())
	if err != nil {
		return err
	}
	d.Rows = e.rowsOf(f)
	return nil
}

func (e *engine) sessionQueriers() [][]querier {
	out := make([][]querier, len(e.sessions))
	for i, s := range e.sessions {
		for _, tx := range s.txs {
			out[i] = append(out[i], tx)
		}
	}
	return out
}

// rowsOf turns fetched rows into report rows, keeping only keys on which nodes disagree, and
// sets e.versions to match.
func (e *engine) rowsOf(f *fetched) []report.Row {
	var out []report.Row
	e.versions = nil
	for k := range f.keys {
		if f.differs(k) && !f.absentEverywhere(k) {
			out = append(out, e.reportRow(f.keys[k], f.rows[k]))
			e.versions = append(e.versions, hashVersions(f.rows[k]))
		}
		f.rows[k] = nil // the texts now live in the report row; let the collector have the rest
	}
	return out
}

// hashVersions numbers the distinct row hashes of one key across nodes (0 = node lacks it).
func hashVersions(rows []*nodeRow) []int {
	v := make([]int, len(rows))
	seen := map[int64]int{}
	for i, r := range rows {
		if r == nil {
			continue
		}
		if _, ok := seen[r.hash]; !ok {
			seen[r.hash] = len(seen) + 1
		}
		v[i] = seen[r.hash]
	}
	return v
}

func (e *engine) reportRow(k Key, rows []*nodeRow) report.Row {
	r := report.Row{Key: make(report.Record, len(k)), Values: map[string]*report.Record{}, Hashes: map[string]json.Number{}}
	for i, c := range e.q.key {
		text := k[i]
		r.Key[i] = report.Field{Name: c.Name, Value: encode.JSONValue(c, &text)}
	}
	for i, nr := range rows {
		if nr == nil {
			r.Values[e.nodes[i]] = nil
			continue
		}
		rec := make(report.Record, len(e.q.cols))
		for j, c := range e.q.cols {
			rec[j] = report.Field{Name: c.Name, Value: encode.JSONValue(c, nr.texts[j])}
		}
		r.Values[e.nodes[i]] = &rec
		r.Hashes[e.nodes[i]] = json.Number(strconv.FormatInt(nr.hash, 10))
	}
	return r
}

func (e *engine) newReport(started time.Time) *report.Diff {
	t := e.cmp.Table
	d := &report.Diff{
		Format:    report.Format,
		Tool:      e.opts.Tool,
		Cluster:   e.opts.Cluster,
		Table:     report.TableRef{Schema: t.Schema, Name: t.Name},
		Key:       append([]string{}, t.Key...),
		KeySource: t.KeySource(),
		Nodes:     e.nodes,
		StartedAt: started,
		Options: report.Options{
			BlockSize: e.opts.BlockSize, Concurrency: e.workers, Where: e.opts.Where,
			Columns: e.opts.Columns, ExcludeColumns: e.opts.ExcludeColumns,
			MaxDiffRows: e.opts.MaxDiffRows, Strict: e.opts.Strict, RowHash: encode.RowHashRule,
			RowHashVersion: encode.RowHashVersion, Checksum: encode.ChecksumRule,
		},
	}
	if d.Key == nil {
		d.Key = []string{}
	}
	if e.opts.Recheck > 0 {
		d.Options.Recheck = e.opts.Recheck.String()
	}
	for _, c := range e.cmp.Columns {
		d.Columns = append(d.Columns, report.Column{Name: c.Name, Type: c.Type})
	}
	for _, s := range e.cmp.Skipped {
		d.Skipped = append(d.Skipped, report.Skipped{Name: s.Name, Reason: s.Reason})
	}
	return d
}

// finish computes the summary from the rows.
func (e *engine) finish(d *report.Diff, started time.Time) {
	d.FinishedAt = time.Now().UTC()
	s := &d.Summary
	s.DurationSeconds = d.FinishedAt.Sub(started).Seconds()
	s.RowsCompared = map[string]int64{}
	for i, n := range e.nodes {
		s.RowsCompared[n] = e.rowsCompared[i].Load()
	}
	s.DifferingKeys = len(d.Rows)
	s.Transient = len(d.Transient)
	s.Pairs, s.MissingOn = tally(d.Nodes, e.versions)
	if s.Status == "" {
		s.Status = report.StatusMatch
		if len(d.Rows) > 0 {
			s.Status = report.StatusDiffer
		}
	}
	if d.Rows == nil {
		d.Rows = []report.Row{}
	}
}

// tally counts, per node pair, the rows on which the pair disagrees, and per node the rows it
// lacks; versions[r][i] is node i's version of row r (0 = lacks it).
func tally(nodes []string, versions [][]int) (pairs, missing map[string]int) {
	pairs, missing = map[string]int{}, map[string]int{}
	for i, a := range nodes {
		missing[a] = 0
		for _, b := range nodes[i+1:] {
			pairs[report.PairKey(a, b)] = 0
		}
	}
	for _, v := range versions {
		for i, a := range nodes {
			if v[i] == 0 {
				missing[a]++
			}
			for j := i + 1; j < len(nodes); j++ {
				if v[i] != v[j] {
					pairs[report.PairKey(a, nodes[j])]++
				}
			}
		}
	}
	return pairs, missing
}
