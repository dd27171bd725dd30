package merkle

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
)

// A leaf changed on some nodes only has most likely diverged there. Hashing it on those nodes
// and then, when it differs, reading its rows there again to drill down reads every such row
// twice. A stream span instead reads the rows (key, row hash, leaf) once on the changed nodes,
// adds up their leaf sums exactly as the hashing query would (diff.StreamRange), compares, and
// drills into the differing leaves with the rows already read; only the unchanged nodes, whose
// stored sums are current, are read for the drill-down. After a bulk change on one node this
// saves a pass over its rows. A leaf changed on every node (replicated changes) is hashed as
// before: there it most likely still matches, and a sum costs less than streaming the rows.

// streamKeep bounds the rows a stream span keeps per node for the drill-down (the span is sized
// to hold drillRows; it may have grown since its sums were stored). Beyond it only the sums are
// kept and the drill-down reads the rows again.
const streamKeep = 2 * drillRows

// streamSpan is a run of adjacent leaves streamed on the nodes on[n].
type streamSpan struct {
	first, last int
	on          []bool
}

// streamSpans picks the dirty leaves to stream: each changed (need) on a non-empty strict subset
// of the nodes. Adjacent ones are grouped up to maxSpan leaves and drillRows rows on the other
// nodes (by their current stored sums). It also returns which leaves are streamed.
func streamSpans(dirty []bool, need func(leaf, node int) bool, stored func(leaf, node int) diff.RangeSum, nodes int) ([]streamSpan, []bool) {
	streamed := make([]bool, len(dirty))
	var out []streamSpan
	for l := 0; l < len(dirty); l++ {
		if !dirty[l] {
			continue
		}
		on, k := make([]bool, nodes), 0
		for n := range on {
			if on[n] = need(l, n); on[n] {
				k++
			}
		}
		if k == 0 || k == nodes {
			continue
		}
		var rows int64
		for n := range on {
			if !on[n] {
				rows = max(rows, stored(l, n).Count)
			}
		}
		last := len(out) - 1
		if last >= 0 && out[last].last == l-1 && streamed[l-1] && l-out[last].first < maxSpan &&
			sameNodes(out[last].on, on) && spanRows(out[last], stored)+rows <= drillRows {
			out[last].last = l
		} else {
			out = append(out, streamSpan{first: l, last: l, on: on})
		}
		streamed[l] = true
	}
	return out, streamed
}

func sameNodes(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// spanRows is the most rows a node not streamed holds in the span, by its stored sums.
func spanRows(sp streamSpan, stored func(leaf, node int) diff.RangeSum) int64 {
	var most int64
	for n, on := range sp.on {
		if on {
			continue
		}
		var rows int64
		for l := sp.first; l <= sp.last; l++ {
			rows += stored(l, n).Count
		}
		most = max(most, rows)
	}
	return most
}

// streamCheck streams span sp on its nodes with worker w, writes their leaf sums into sums
// (sums[node][leaf]; the other nodes' are current), and returns the differing keys of its
// differing leaves in key order, and how many leaves differ.
func streamCheck(ctx context.Context, c *diff.Comparer, t *Tree, w int, sp streamSpan, sums [][]diff.RangeSum) ([]report.Entry, int, error) {
	r := t.span(sp.first, sp.last)
	streamed := make([]*diff.Streamed, len(sums))
	g, gctx := errgroup.WithContext(ctx)
	for n, on := range sp.on {
		if on {
			g.Go(func() error {
				var err error
				streamed[n], err = c.StreamRange(gctx, w, r, n, streamKeep)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	kept := true
	for n, s := range streamed {
		if s != nil {
			kept = kept && s.Kept()
			copy(sums[n][sp.first:sp.last+1], s.Sums)
		}
	}
	var out []report.Entry
	differing := 0
	for l := sp.first; l <= sp.last; l++ {
		if !differs(sums, l) {
			continue
		}
		first := l
		for l+1 <= sp.last && differs(sums, l+1) {
			l++
		}
		differing += l - first + 1
		runSums := make([]map[int]diff.RangeSum, len(sums))
		for n := range sums {
			s, err := addSums(sums[n][first : l+1])
			if err != nil {
				return nil, 0, err
			}
			runSums[n] = map[int]diff.RangeSum{0: s}
		}
		var entries []report.Entry
		var err error
		if kept {
			entries, err = c.DrillDownStreamed(ctx, w, r, first-sp.first, l-sp.first, runSums, streamed)
		} else {
			run := t.span(first, l)
			run.Subs = nil
			entries, err = c.DrillDown(ctx, w, run, runSums, 0)
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, entries...)
	}
	return out, differing, nil
}

// differs reports whether leaf l's sums are not equal on every node.
func differs(sums [][]diff.RangeSum, l int) bool {
	for n := range sums {
		if sums[n][l] != sums[0][l] {
			return true
		}
	}
	return false
}
