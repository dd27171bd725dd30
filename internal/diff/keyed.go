package diff

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/report"
)

// RangeSum is one node's (count, checksum) of one (sub-)range.
type RangeSum struct {
	Count int64
	Sum   string // exact numeric sum of mixed row hashes, as text
}

// scanRanges hashes every range on every node (worker w uses connection w of each node's
// session), drills into ranges whose checksums differ, and emits their differing keys in range
// order. It returns the number of ranges whose checksums differed.
func (e *engine) scanRanges(ctx context.Context, ranges []Range, out *emitter) (int, error) {
	out.window(e.workers)
	work := make(chan Range)
	g, gctx := errgroup.WithContext(ctx)
	var stop atomic.Bool
	var differing atomic.Int64
	g.Go(func() error {
		defer close(work)
		for _, r := range ranges {
			if err := out.acquire(gctx); err != nil {
				return nil
			}
			select {
			case work <- r:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for w := 0; w < e.workers; w++ {
		g.Go(func() error {
			for r := range work {
				var entries []report.Entry
				if !stop.Load() {
					sums, err := e.hashRange(gctx, w, r)
					if err != nil {
						return err
					}
					subs := differingSubs(sums, len(r.Subs))
					e.progress.RangeDone(len(subs) > 0)
					if len(subs) > 0 {
						differing.Add(1)
					}
					for _, sub := range subs {
						found, err := e.drillDown(gctx, w, r.sub(sub), sums, sub, nil)
						if err != nil {
							return err
						}
						entries = append(entries, found...)
					}
				}
				full, err := out.done(r.Index, entries)
				if err != nil {
					return err
				}
				if full {
					stop.Store(true)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return int(differing.Load()), err
}

// hashRange returns, per node, the (count, checksum) of every sub-range of r that holds rows.
func (e *engine) hashRange(ctx context.Context, w int, r Range) ([]map[int]RangeSum, error) {
	sums := make([]map[int]RangeSum, len(e.sessions))
	sql, args := e.q.rangeHash(r)
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("hash range %d: %w", r.Index, err)
		}
		defer rows.Close()
		sums[i] = map[int]RangeSum{}
		for rows.Next() {
			var sub int
			var s RangeSum
			if err := rows.Scan(&sub, &s.Count, &s.Sum); err != nil {
				return fmt.Errorf("hash range %d: %w", r.Index, err)
			}
			sums[i][sub] = s
			e.rowsCompared[i].Add(s.Count)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("hash range %d: %w", r.Index, err)
		}
		return nil
	}, w)
	return sums, err
}

// differingSubs lists the sub-ranges (0..n) whose checksums are not equal on every node; a
// sub-range missing on a node reads as (0, "").
func differingSubs(sums []map[int]RangeSum, n int) []int {
	var out []int
	for sub := 0; sub <= n; sub++ {
		for _, s := range sums[1:] {
			if s[sub] != sums[0][sub] {
				out = append(out, sub)
				break
			}
		}
	}
	return out
}

// representatives maps each node to the first node with the same checksum of sub-range sub:
// nodes with equal (count, sum) hold the same multiset of rows there, so reading one of them
// stands for all.
func representatives(sums []map[int]RangeSum, sub int) []int {
	reps := make([]int, len(sums))
	for i := range sums {
		reps[i] = i
		for j := 0; j < i; j++ {
			if sums[j][sub] == sums[i][sub] {
				reps[i] = j
				break
			}
		}
	}
	return reps
}

// drillDown finds the differing keys of sub-range r (sub-range sub of the checksums) and returns
// their entries in key order. It reads one node per checksum group (nodes with equal checksums
// hold the same rows there). Usually it streams (key, row hash) and then fetches the rows of the
// differing keys by key; when a group lacks at least half of the rows another holds (a truncated
// or new node), every row is likely to differ, so it streams whole rows at once instead (one scan,
// no lookups). Either way each differing key is looked up by key on every group that did not
// stream it, so a key is judged by key equality on every node. Memory is bounded by the
// sub-range's size. A node whose pre[i] is not nil is not read: pre[i] are its rows (key and row
// hash) of r, streamed earlier in the same snapshot.
func (e *engine) drillDown(ctx context.Context, w int, r Range, sums []map[int]RangeSum, sub int, pre [][]keyRow) ([]report.Entry, error) {
	reps := representatives(sums, sub)
	var groups []int
	var lo, hi int64 = -1, 0
	for i, rep := range reps {
		if rep == i {
			groups = append(groups, i)
			c := sums[i][sub].Count
			if lo < 0 || c < lo {
				lo = c
			}
			hi = max(hi, c)
		}
	}
	whole := lo*2 < hi && e.width.fits(hi)
	found := newFound(len(e.nodes))
	var mu sync.Mutex
	sql, args := e.q.rangeRows(r, whole, e.opts.Until)
	nKey := len(e.q.key)
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		if reps[i] != i {
			return nil
		}
		if pre != nil && pre[i] != nil {
			mu.Lock()
			for _, kr := range pre[i] {
				found.put(kr.key, i, kr.row)
			}
			mu.Unlock()
			return nil
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("read range %d: %w", r.Index, err)
		}
		defer rows.Close()
		batch := make([]keyRow, 0, 256)
		flush := func() {
			mu.Lock()
			for _, b := range batch {
				found.put(b.key, i, b.row)
			}
			mu.Unlock()
			batch = batch[:0]
		}
		rr := newRawRow(rows)
		for rows.Next() {
			kr, err := e.scanKeyRow(rr, rows.RawValues(), nKey, whole)
			if err != nil {
				return fmt.Errorf("read range %d: %w", r.Index, err)
			}
			if batch = append(batch, kr); len(batch) == cap(batch) {
				flush()
			}
		}
		flush()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read range %d: %w", r.Index, err)
		}
		return nil
	}, w)
	if err != nil {
		return nil, err
	}
	// Keys whose row some group lacks or holds in another version.
	var keys []Key
	for _, k := range found.order {
		if found.differs(k, groups) {
			keys = append(keys, found.byID[k].key)
		}
	}
	e.progress.KeysAnalysed(len(found.order), len(keys))
	if len(keys) == 0 {
		return nil, nil
	}
	// Fetch by key what the stream did not bring: every group's rows when only hashes were
	// streamed (or given in pre); the groups that lacked the key when whole rows were.
	fetch := make([][]Key, len(e.nodes))
	for _, g := range groups {
		hashOnly := !whole || pre != nil && pre[g] != nil
		for _, k := range keys {
			if hashOnly || found.byID[k.id()].rows[g] == nil {
				fetch[g] = append(fetch[g], k)
			}
		}
	}
	err = e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		if reps[i] != i || len(fetch[i]) == 0 {
			return nil
		}
		return e.fetchKeys(ctx, tx, fetch[i], func(k Key, row *nodeRow) {
			mu.Lock()
			found.put(k, i, row)
			mu.Unlock()
		})
	}, w)
	if err != nil {
		return nil, err
	}
	out := make([]report.Entry, 0, len(keys))
	for _, k := range keys {
		if en, ok := found.entry(k, reps); ok {
			out = append(out, en)
		}
	}
	slices.SortFunc(out, func(a, b report.Entry) int { return compareKeys(a.Key, b.Key, e.q.key) })
	return out, nil
}

// onEveryNode runs fn on every node at once, on worker w's connection of each node's session.
// Errors are attributed to their node.
func (e *engine) onEveryNode(ctx context.Context, fn func(ctx context.Context, i int, tx pgx.Tx) error, w int) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range e.sessions {
		g.Go(func() error {
			if err := fn(gctx, i, s.txs[w]); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return nodeErr(s.node, "table "+e.cmp.Table.Ident(), err)
			}
			return nil
		})
	}
	return g.Wait()
}
