// Package diff finds every differing row of a table across 2..N nodes: it hashes key ranges on
// every node inside one snapshot per node, drills into ranges whose checksums differ, fetches the
// full rows of differing keys only, and re-reads them on request before reporting.
package diff

import (
	"context"
	"errors"
	"fmt"
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
	// Until, if set, compares only keys whose rows were last committed at or before it on every
	// node (commit timestamps; needs track_commit_timestamp = on): writes still arriving are
	// ignored. Keyed tables only.
	Until *time.Time
	// RequireRows makes a comparison that read no row on any node an input error (a filter
	// that selects nothing), instead of a match.
	RequireRows bool
	Tool        string
	Progress    Progress
	// SnapshotHook, if set, runs on each node right after its snapshot is taken.
	SnapshotHook SnapshotHook
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
	width        widthStats // row text width seen, to size fetches
}

// Run compares opts.Schema.opts.Table across pools and streams every differing key to sink as it
// is found (the engine keeps none of them): sink.Begin with the header, sink.Entry per key,
// sink.End with the summary. It returns the finished header (summary included, no rows). Input
// problems (missing table, differing columns, bad filter) are fault input errors; node failures
// are *cluster.NodeError. On error the sink's End is not called.
func Run(ctx context.Context, pools cluster.Pools, opts Options, sink report.Sink) (*report.Diff, error) {
	started := time.Now().UTC()
	e, err := prepare(ctx, pools, opts)
	if err != nil {
		return nil, err
	}
	d := e.newReport(started)
	tally := report.NewTally(e.nodes)
	out := &emitter{sink: sink, tally: tally, max: opts.MaxDiffRows}
	var spool *report.Spool
	if opts.Recheck > 0 {
		// Keys found now are re-read after the wait: they wait in a file, not in memory.
		if spool, err = report.NewSpool("pgparity-recheck-", d); err != nil {
			return nil, err
		}
		defer spool.Close()
		out.sink, out.tally = spool, report.NewTally(e.nodes)
	}
	if err := sink.Begin(d); err != nil {
		return nil, err
	}
	if e.cmp.Table.KeyKind == catalog.KeyNone {
		err = e.runMultiset(ctx, d, out)
	} else {
		err = e.runKeyed(ctx, d, out)
	}
	if err != nil {
		return nil, err
	}
	if out.full {
		d.Summary.Status = report.StatusPartial
		d.Summary.PartialReason = fmt.Sprintf("stopped after %d differing keys (--max-diff-rows)", opts.MaxDiffRows)
	}
	if spool != nil {
		if err := e.recheck(ctx, spool, &emitter{sink: sink, tally: tally}); err != nil {
			return nil, err
		}
	}
	e.finish(d, started, tally)
	if err := e.checkRowsRead(d); err != nil {
		return nil, err
	}
	if err := sink.End(d); err != nil {
		return nil, err
	}
	return d, nil
}

// checkRowsRead warns (in the summary) when no node had a row to compare, and with RequireRows
// refuses it: an empty comparison is usually a --where that selects nothing, not a match.
func (e *engine) checkRowsRead(d *report.Diff) error {
	for _, n := range d.Summary.RowsCompared {
		if n > 0 {
			return nil
		}
	}
	what := "the table has no rows on any node"
	if e.opts.Where != "" {
		what = "the --where filter selects no rows on any node"
	}
	if e.opts.RequireRows {
		return fault.Input("%s: 0 rows compared (--require-rows); check the filter and the table", what)
	}
	d.Summary.Warnings = append(d.Summary.Warnings, what+": 0 rows compared")
	return nil
}

// checkCommitTimestamps makes sure every node records commit timestamps (--until).
func checkCommitTimestamps(ctx context.Context, pools cluster.Pools) error {
	for _, p := range pools {
		var on bool
		if err := p.QueryRow(ctx, "SELECT pg_catalog.current_setting('track_commit_timestamp')::bool").Scan(&on); err != nil {
			return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read track_commit_timestamp: %w", err)}
		}
		if !on {
			return fault.Input("--until needs track_commit_timestamp = on, and it is off on node %s: "+
				"ALTER SYSTEM SET track_commit_timestamp = on and restart the node (only commits from then on have a time)", p.Node.Name)
		}
	}
	return nil
}

// prepare reads the table on every node, checks it is comparable and validates the filter.
func prepare(ctx context.Context, pools cluster.Pools, opts Options) (*engine, error) {
	if opts.BlockSize < 10 {
		return nil, fault.Input("--block-size must be at least 10, got %d", opts.BlockSize)
	}
	if opts.MaxDiffRows < 0 {
		return nil, fault.Input("--max-diff-rows must be 0 (no limit) or more, got %d", opts.MaxDiffRows)
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
	if opts.Until != nil {
		if cmp.Table.KeyKind == catalog.KeyNone {
			return nil, fault.Input("--until needs a table with a key: %s has none (whole-row comparison)", cmp.Table.Ident())
		}
		if err := checkCommitTimestamps(ctx, pools); err != nil {
			return nil, err
		}
		e.q.until = true
	}
	e.workers = max(1, opts.Concurrency)
	for _, p := range pools {
		e.workers = min(e.workers, int(p.Config().MaxConns))
	}
	return e, nil
}

func catalogIdent(schema, table string) string {
	return (&catalog.Table{Schema: schema, Name: table}).Ident()
}

// runKeyed is the keyed comparison: plan ranges, hash them, drill down, fetch differing rows,
// emit them range by range.
func (e *engine) runKeyed(ctx context.Context, d *report.Diff, out *emitter) error {
	var err error
	c := &Comparer{e: e}
	if _, err = c.Open(ctx, e.workers, e.opts.SnapshotHook); err != nil {
		return err
	}
	defer c.Close(ctx)
	ranges, err := c.PlanRanges(ctx)
	if err != nil {
		return err
	}
	e.progress.RangesPlanned(len(ranges))
	d.Summary.Ranges = len(ranges)
	differing, err := e.scanRanges(ctx, ranges, out)
	d.Summary.RangesDiffering = differing
	return err
}

// plannerNode picks the node that holds the most rows, to plan ranges on; rows only other nodes
// have still land in the open-ended ranges. A node that cannot estimate (never analyzed, or
// truncated since) is counted, in its snapshot, so that an empty node is never mistaken for the
// largest.
func (e *engine) plannerNode(ctx context.Context) (int, float64, error) {
	planner, est := 0, -1.0
	for i, t := range e.tables {
		rows := t.EstRows
		if rows < 0 {
			var n int64
			if err := e.sessions[i].txs[0].QueryRow(ctx, "SELECT count(*) FROM "+e.q.from).Scan(&n); err != nil {
				return 0, 0, nodeErr(e.nodes[i], "count rows of "+e.cmp.Table.Ident(), err)
			}
			rows = float64(n)
		}
		if rows > est {
			planner, est = i, rows
		}
	}
	return planner, est, nil
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
	if e.opts.Until != nil {
		d.Options.Until = e.opts.Until.UTC().Format(time.RFC3339Nano)
	}
	for _, c := range e.cmp.Columns {
		d.Columns = append(d.Columns, report.Column{Name: c.Name, Type: c.Type, Base: c.BaseType})
	}
	for _, s := range e.cmp.Skipped {
		d.Skipped = append(d.Skipped, report.Skipped{Name: s.Name, Reason: s.Reason})
	}
	return d
}

// finish completes the summary from the counters.
func (e *engine) finish(d *report.Diff, started time.Time, t *report.Tally) {
	d.FinishedAt = time.Now().UTC()
	s := &d.Summary
	s.DurationSeconds = d.FinishedAt.Sub(started).Seconds()
	s.RowsCompared = map[string]int64{}
	for i, n := range e.nodes {
		s.RowsCompared[n] = e.rowsCompared[i].Load()
	}
	t.Fill(s)
	if s.Status == "" {
		s.Status = report.StatusMatch
		if s.DifferingKeys > 0 {
			s.Status = report.StatusDiffer
		}
	}
}
