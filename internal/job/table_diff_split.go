package job

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// A split table-diff runs in three steps, each in its own snapshots: PlanTableDiff plans the key
// ranges; RunTableDiffBatch hashes a slice of them and writes the keys of differing sub-ranges
// (candidates) to a file; FinishTableDiffSplit re-reads every candidate key by key on every node
// in one fresh snapshot per node and writes the final diff file. Batches taken at different times
// can only add or miss candidates for rows that changed meanwhile; a key is reported only if it
// differs in the final re-read (see docs/serve.md, "Split table-diff jobs").

// Splittable says whether a table-diff with these options can be split: not with --recheck
// (the wait would apply per batch) nor --max-diff-rows (the limit is on the whole run).
func Splittable(env *Env, o TableDiff) bool {
	return o.Recheck == 0 && env.Settings.MaxDiffRows == 0
}

// diffOptions are the comparison options of a table-diff, as RunTableDiff builds them.
func (o *TableDiff) diffOptions(env *Env, cl *cluster.Cluster) (diff.Options, error) {
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return diff.Options{}, err
	}
	until, err := ParseUntil(o.Until)
	if err != nil {
		return diff.Options{}, err
	}
	s := env.Settings
	return diff.Options{
		Cluster: cl.Name, Schema: schema, Table: table,
		BlockSize: s.BlockSize, Concurrency: s.Concurrency, Where: o.Where,
		Columns: o.Columns, ExcludeColumns: o.ExcludeColumns, Strict: o.Strict, Tool: o.Tool,
		Until: until, RequireRows: o.RequireRows,
	}, nil
}

// PlanTableDiff plans the key ranges of a table-diff (on the node holding the most rows, in one
// snapshot) without hashing them. It returns nil, planning nothing, for a table without a key and
// for one whose row estimate on the first node is below half of minRanges ranges.
func PlanTableDiff(ctx context.Context, env *Env, o TableDiff, minRanges int) ([]diff.Range, error) {
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	opts, err := o.diffOptions(env, cl)
	if err != nil {
		return nil, err
	}
	pools, err := env.connectNodes(ctx, cl, o.Nodes)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	c, err := diff.Prepare(ctx, pools, opts)
	if err != nil {
		return nil, err
	}
	t := c.Table().Table
	if t.KeyKind == catalog.KeyNone || (t.EstRows >= 0 && t.EstRows < float64(minRanges)*float64(env.Settings.BlockSize)/2) {
		return nil, nil
	}
	if _, err := c.Open(ctx, 1, nil); err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	return c.PlanRanges(ctx)
}

// RunTableDiffBatch hashes ranges (a slice of a plan, in key order) on every node in one snapshot
// per node and writes the entries of the keys of differing sub-ranges to the diff file out, in
// key order. Its summary line holds the rows hashed per node, the ranges and the differing ranges.
func RunTableDiffBatch(ctx context.Context, env *Env, o TableDiff, ranges []diff.Range, out string) error {
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return err
	}
	opts, err := o.diffOptions(env, cl)
	if err != nil {
		return err
	}
	pools, err := env.connectNodes(ctx, cl, o.Nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	c, err := diff.Prepare(ctx, pools, opts)
	if err != nil {
		return err
	}
	if c.Table().Table.KeyKind == catalog.KeyNone {
		return fault.Input("table %s has no key: a split table-diff needs one", o.Table)
	}
	started := time.Now().UTC()
	workers, err := c.Open(ctx, env.Settings.Concurrency, nil)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	nodes := c.Nodes()
	found := make([][]report.Entry, len(ranges))
	rows := make([]int64, len(nodes))
	differing := 0
	var mu sync.Mutex
	next := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for i := range ranges {
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for i := range next {
				r := ranges[i]
				sums, err := c.HashRange(gctx, w, r)
				if err != nil {
					return err
				}
				var entries []report.Entry
				subs := diff.DifferingSubs(sums, len(r.Subs))
				for _, sub := range subs {
					got, err := c.DrillDown(gctx, w, r, sums, sub)
					if err != nil {
						return err
					}
					entries = append(entries, got...)
				}
				mu.Lock()
				found[i] = entries
				for n, s := range sums {
					for _, rs := range s {
						rows[n] += rs.Count
					}
				}
				if len(subs) > 0 {
					differing++
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return writeCandidates(c.Header(started), nodes, found, rows, len(ranges), differing, out)
}

// writeCandidates writes a batch's candidate entries and its counts as a diff file.
func writeCandidates(d *report.Diff, nodes []string, found [][]report.Entry, rows []int64, ranges, differing int, out string) error {
	f, err := report.CreateFile(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := f.Begin(d); err != nil {
		return err
	}
	tally := report.NewTally(nodes)
	for _, entries := range found {
		for i := range entries {
			tally.Add(&entries[i])
			if err := f.Entry(&entries[i]); err != nil {
				return err
			}
		}
	}
	d.FinishedAt = time.Now().UTC()
	d.Summary.RowsCompared = map[string]int64{}
	for i, n := range nodes {
		d.Summary.RowsCompared[n] = rows[i]
	}
	tally.Fill(&d.Summary)
	d.Summary.Status = report.StatusMatch
	if d.Summary.DifferingKeys > 0 {
		d.Summary.Status = report.StatusDiffer
	}
	d.Summary.Ranges, d.Summary.RangesDiffering = ranges, differing
	return f.End(d)
}
