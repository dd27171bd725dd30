package diff

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// rangeSum is one node's (count, checksum) of one range.
type rangeSum struct {
	count int64
	sum   string // exact numeric sum of row hashes, as text
}

// candidates collects keys found to differ in some range, across workers.
type candidates struct {
	mu      sync.Mutex
	max     int
	byID    map[string]*candidate
	full    bool
	differs int // ranges whose checksums differed
}

type candidate struct {
	key   Key
	rng   int
	order int
}

func (c *candidates) add(k Key, rng int) (full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full {
		return true
	}
	id := k.id()
	if _, ok := c.byID[id]; !ok {
		c.byID[id] = &candidate{key: k, rng: rng, order: len(c.byID)}
	}
	if len(c.byID) >= c.max {
		c.full = true
	}
	return c.full
}

// scanRanges hashes every range on every node (worker w uses connection w of each node's
// session), drills into ranges whose checksums differ, and returns the keys that differ there.
func (e *engine) scanRanges(ctx context.Context, ranges []Range) (*candidates, error) {
	cands := &candidates{max: e.opts.MaxDiffRows, byID: map[string]*candidate{}}
	work := make(chan Range)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, r := range ranges {
			select {
			case work <- r:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	var stop atomic.Bool
	for w := 0; w < e.workers; w++ {
		g.Go(func() error {
			for r := range work {
				if stop.Load() {
					continue
				}
				full, err := e.checkRange(gctx, w, r, cands)
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
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return cands, nil
}

// checkRange compares one range across nodes, per sub-range, and finds the differing keys of the
// sub-ranges whose checksums differ.
func (e *engine) checkRange(ctx context.Context, w int, r Range, cands *candidates) (full bool, err error) {
	sums := make([]map[int]rangeSum, len(e.sessions))
	sql, args := e.q.rangeHash(r)
	err = e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("hash range %d: %w", r.Index, err)
		}
		defer rows.Close()
		sums[i] = map[int]rangeSum{}
		for rows.Next() {
			var sub int
			var s rangeSum
			if err := rows.Scan(&sub, &s.count, &s.sum); err != nil {
				return fmt.Errorf("hash range %d: %w", r.Index, err)
			}
			sums[i][sub] = s
			e.rowsCompared[i].Add(s.count)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("hash range %d: %w", r.Index, err)
		}
		return nil
	}, w)
	if err != nil {
		return false, err
	}
	var differing []int
	for sub := 0; sub <= len(r.Subs); sub++ {
		for _, s := range sums[1:] {
			if s[sub] != sums[0][sub] { // a missing sub-range reads as (0, "")
				differing = append(differing, sub)
				break
			}
		}
	}
	e.progress.RangeDone(len(differing) > 0)
	if len(differing) == 0 {
		return false, nil
	}
	cands.mu.Lock()
	cands.differs++
	cands.mu.Unlock()
	for _, sub := range differing {
		if full, err := e.drillDown(ctx, w, r.sub(sub), representatives(sums, sub), cands); full || err != nil {
			return full, err
		}
	}
	return false, nil
}

// representatives maps each node to the first node with the same checksum of sub-range sub: nodes
// with equal (count, sum) hold the same multiset of row hashes there, so streaming one of them
// stands for all.
func representatives(sums []map[int]rangeSum, sub int) []int {
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

// drillDown streams (key, row hash) of a differing range from one node of each checksum group
// (reps) and adds the keys whose hashes disagree, or that some node lacks, to cands. Memory is
// bounded by the range's size.
func (e *engine) drillDown(ctx context.Context, w int, r Range, reps []int, cands *candidates) (bool, error) {
	type entry struct {
		key    Key
		hashes []int64
		seen   []bool
	}
	n := len(e.sessions)
	var mu sync.Mutex
	byID := map[string]*entry{}
	sql, args := e.q.rangeRows(r)
	nKey := len(e.q.key)
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		if reps[i] != i {
			return nil
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("read range %d: %w", r.Index, err)
		}
		defer rows.Close()
		k := make(Key, nKey)
		var h int64
		dest := make([]any, nKey+1)
		for j := range k {
			dest[j] = &k[j]
		}
		dest[nKey] = &h
		batch := make([]entry, 0, 256)
		flush := func() {
			mu.Lock()
			for _, b := range batch {
				id := b.key.id()
				en, ok := byID[id]
				if !ok {
					en = &entry{key: b.key, hashes: make([]int64, n), seen: make([]bool, n)}
					byID[id] = en
				}
				en.hashes[i], en.seen[i] = b.hashes[0], true
			}
			mu.Unlock()
			batch = batch[:0]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("read range %d: %w", r.Index, err)
			}
			batch = append(batch, entry{key: append(Key(nil), k...), hashes: []int64{h}})
			if len(batch) == cap(batch) {
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
		return false, err
	}
	found := 0
	for _, en := range byID {
		for i, rep := range reps {
			en.hashes[i], en.seen[i] = en.hashes[rep], en.seen[rep]
		}
		agree := true
		for i := 0; i < n; i++ {
			agree = agree && en.seen[i] && en.hashes[i] == en.hashes[0]
		}
		if agree {
			continue
		}
		found++
		if cands.add(en.key, r.Index) {
			e.progress.KeysAnalysed(len(byID), found)
			return true, nil
		}
	}
	e.progress.KeysAnalysed(len(byID), found)
	return false, nil
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
