package merkle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
)

// compare finds the leaves whose sums differ across nodes among leaves (sorted; nil = every
// leaf; the others are known equal), drills into them in the open snapshots, and streams their
// differing keys to sink in leaf order. sums[node][leaf] are the leaf sums in the snapshots,
// except on the stream spans' nodes, where streamCheck fills them in (streamed marks their
// leaves). rows returns each node's row count once they are all known. A differing leaf listed
// in keyed (it matched on every node before its changes, so only its marked keys can differ) is
// re-checked by looking up those keys (in key order) instead of drilling into it.
func compare(ctx context.Context, c *diff.Comparer, t *Tree, sums [][]diff.RangeSum, leaves []int, streams []streamSpan, streamed []bool,
	rows func() []int64, keyed map[int][]diff.Key, sink report.Sink, started time.Time) (*report.Diff, int, error) {
	nodes := c.Nodes()
	sum := func(leaf, node int) diff.RangeSum { return sums[node][leaf] }
	d := c.Header(started)
	d.Options.BlockSize = t.BlockSize
	if err := sink.Begin(d); err != nil {
		return nil, 0, err
	}
	if leaves == nil {
		leaves = make([]int, t.Leaves())
		for l := range leaves {
			leaves[l] = l
		}
	}
	// work items in leaf order: runs of differing leaves, and stream spans
	var items []item
	var run []int
	flush := func() error {
		its, err := checkItems(t, run, sum, keyed, len(nodes))
		items, run = append(items, its...), nil
		return err
	}
	differing, next := 0, 0
	for _, l := range leaves {
		if streamed != nil && streamed[l] {
			if next < len(streams) && streams[next].first == l {
				if err := flush(); err != nil {
					return nil, 0, err
				}
				items = append(items, item{stream: &streams[next]})
				next++
			}
			continue
		}
		if differs(sums, l) {
			run = append(run, l)
			differing++
		}
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	if next != len(streams) {
		return nil, 0, fmt.Errorf("internal error: %d of %d stream spans among the leaves compared", next, len(streams))
	}
	tally := report.NewTally(nodes)
	for start := 0; start < len(items); start += c.Workers() {
		batch := items[start:min(len(items), start+c.Workers())]
		found := make([][]report.Entry, len(batch))
		more := make([]int, len(batch))
		g, gctx := errgroup.WithContext(ctx)
		for w, it := range batch {
			g.Go(func() error {
				var err error
				switch {
				case it.stream != nil:
					found[w], more[w], err = streamCheck(gctx, c, t, w, *it.stream, sums)
				case it.keys != nil:
					found[w], err = c.FetchEntries(gctx, w, it.keys)
				default:
					sp := it.span
					r := t.span(sp.first, sp.last)
					r.Subs = nil
					found[w], err = c.DrillDown(gctx, w, r, sp.sums, 0)
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, 0, err
		}
		for w, entries := range found {
			differing += more[w]
			for i := range entries {
				if err := sink.Entry(&entries[i]); err != nil {
					return nil, 0, err
				}
				tally.Add(&entries[i])
			}
		}
	}
	slog.Debug("mtree sync", "step", "differing leaves re-checked", "items", len(items), "seconds", time.Since(started).Seconds())
	d.FinishedAt = time.Now().UTC()
	s := &d.Summary
	s.DurationSeconds = d.FinishedAt.Sub(started).Seconds()
	s.RowsCompared = map[string]int64{}
	counts := rows()
	for n, name := range nodes {
		s.RowsCompared[name] = counts[n]
	}
	s.Ranges, s.RangesDiffering = t.Leaves(), differing
	tally.Fill(s)
	s.Status = report.StatusMatch
	if s.DifferingKeys > 0 {
		s.Status = report.StatusDiffer
	}
	if err := sink.End(d); err != nil {
		return nil, 0, err
	}
	return d, differing, nil
}

// keyBatch bounds the marked keys looked up at once.
const keyBatch = 2000

// item is one unit of re-check work: a span to drill into, marked keys to look up, or a span
// to stream.
type item struct {
	span   span
	keys   []diff.Key
	stream *streamSpan
}

// checkItems turns the differing leaves, in order, into drill-down spans and key look-ups.
func checkItems(t *Tree, differing []int, sum func(leaf, node int) diff.RangeSum, keyed map[int][]diff.Key, nodes int) ([]item, error) {
	var out []item
	for i := 0; i < len(differing); {
		if keys, ok := keyed[differing[i]]; ok {
			if n := len(out); n > 0 && out[n-1].keys != nil && len(out[n-1].keys)+len(keys) <= keyBatch {
				out[n-1].keys = append(out[n-1].keys, keys...)
			} else {
				out = append(out, item{keys: append([]diff.Key{}, keys...)})
			}
			i++
			continue
		}
		j := i
		for j < len(differing) {
			if _, ok := keyed[differing[j]]; ok {
				break
			}
			j++
		}
		spans, err := drillSpans(t, differing[i:j], sum, nodes)
		if err != nil {
			return nil, err
		}
		for _, sp := range spans {
			out = append(out, item{span: sp})
		}
		i = j
	}
	return out, nil
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
