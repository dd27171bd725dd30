package merkle

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
)

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
