package merkle

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/diff"
)

// group is a run of old leaves that becomes one new leaf (merge), or one old leaf that becomes
// several (split at inner).
type group struct {
	first, last int
	inner       []diff.Key
	rows        int64 // most rows any node holds in the group
}

// rebalance splits every dirty leaf that grew past twice the block size (new boundaries every
// block size keys, read on the node holding most of its rows; new sums hashed in the open
// snapshots) and merges a leaf that shrank below a quarter of the block size into its neighbour
// when both together hold at most a block. It changes t.Bounds and sums (per node, per leaf) in
// place, identically for every node, and reports whether the layout changed.
func rebalance(ctx context.Context, c *diff.Comparer, t *Tree, sums [][]diff.RangeSum, dirty []bool, splits, merges *int) (bool, error) {
	block := int64(t.BlockSize)
	most := func(l int) (int64, int) {
		var m int64
		at := 0
		for n := range sums {
			if sums[n][l].Count > m {
				m, at = sums[n][l].Count, n
			}
		}
		return m, at
	}
	var groups []group
	changed := false
	for l := 0; l < t.Leaves(); l++ {
		rows, node := most(l)
		if dirty[l] && rows > 2*block {
			inner, err := splitBounds(ctx, c, node, t, l)
			if err != nil {
				return false, err
			}
			if len(inner) > 0 {
				groups = append(groups, group{first: l, last: l, inner: inner, rows: rows})
				*splits++
				changed = true
				continue
			}
		}
		if k := len(groups) - 1; k >= 0 && groups[k].inner == nil && (dirty[l] || dirty[groups[k].last]) &&
			(rows < block/4 || groups[k].rows < block/4) && groups[k].rows+rows <= block {
			groups[k].last, groups[k].rows = l, groups[k].rows+rows
			*merges++
			changed = true
			continue
		}
		groups = append(groups, group{first: l, last: l, rows: rows})
	}
	if !changed {
		return false, nil
	}
	var bounds []diff.Key
	next := make([][]diff.RangeSum, len(sums))
	for gi, g := range groups {
		if gi > 0 {
			bounds = append(bounds, t.Bounds[g.first-1])
		}
		switch {
		case g.inner != nil:
			r := t.span(g.first, g.last)
			r.Subs = g.inner
			fresh, err := c.HashRange(ctx, 0, r)
			if err != nil {
				return false, err
			}
			for n := range next {
				for sub := 0; sub <= len(g.inner); sub++ {
					next[n] = append(next[n], normal(fresh[n][sub]))
				}
			}
			bounds = append(bounds, g.inner...)
		default:
			for n := range next {
				s, err := addSums(sums[n][g.first : g.last+1])
				if err != nil {
					return false, err
				}
				next[n] = append(next[n], s)
			}
		}
	}
	t.Bounds, t.complete = bounds, true
	copy(sums, next)
	return true, nil
}

// addSums adds leaf sums (exact integers) into one.
func addSums(in []diff.RangeSum) (diff.RangeSum, error) {
	var out diff.RangeSum
	total := new(big.Int)
	for _, s := range in {
		if s.Count == 0 {
			continue
		}
		v, ok := new(big.Int).SetString(s.Sum, 10)
		if !ok {
			return out, fmt.Errorf("leaf sum %q is not an integer", s.Sum)
		}
		total.Add(total, v)
		out.Count += s.Count
	}
	if out.Count > 0 {
		out.Sum = total.String()
	}
	return out, nil
}

// splitBounds reads, on node n in its snapshot (the comparison holds every connection it may
// take), every block-size-th key of leaf l in key order.
func splitBounds(ctx context.Context, c *diff.Comparer, n int, t *Tree, l int) ([]diff.Key, error) {
	r := t.span(l, l)
	sql, args := rangeQuantiles(c.Table(), r)
	var keys []diff.Key
	err := c.OnNode(ctx, n, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, append([]any{t.BlockSize}, args...)...)
		if err == nil {
			keys, err = collectKeys(rows, len(t.Key))
		}
		if err != nil {
			return fmt.Errorf("plan the split of leaf %d: %w", l, err)
		}
		return nil
	})
	return keys, err
}
