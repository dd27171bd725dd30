package diff

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// HashRanges is HashRange for many ranges at once: their queries go to each node in one
// round trip (a pipelined batch) on worker w. It returns, per range, per node, the (count,
// checksum) of every sub-range that holds rows.
func (c *Comparer) HashRanges(ctx context.Context, w int, rs []Range) ([][]map[int]RangeSum, error) {
	return c.HashRangesOn(ctx, w, rs, nil)
}

// HashRangesOn is HashRanges on the nodes i with on[i] only (every node when on is nil); the
// others' sums are left nil.
func (c *Comparer) HashRangesOn(ctx context.Context, w int, rs []Range, on []bool) ([][]map[int]RangeSum, error) {
	e := c.e
	out := make([][]map[int]RangeSum, len(rs))
	for r := range out {
		out[r] = make([]map[int]RangeSum, len(e.sessions))
	}
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		if on != nil && !on[i] {
			return nil
		}
		b := &pgx.Batch{}
		for r := range rs {
			sql, args := e.q.rangeHash(rs[r])
			b.Queue(sql, args...)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for r := range rs {
			rows, err := br.Query()
			if err == nil {
				out[r][i], err = e.readSums(rows, i)
			}
			if err != nil {
				return fmt.Errorf("hash range %d: %w", rs[r].Index, err)
			}
		}
		return br.Close()
	}, w)
	return out, err
}

// Bucketed reports whether HashBuckets can hash this table's ranges: a single key column of a
// type width_bucket orders as the range filters do (encode.Bucketable).
func (c *Comparer) Bucketed() bool { return c.e.q.bucketKey() }

// HashBuckets returns node i's (count, checksum) of every sub-range of r that holds rows, like
// HashRange, for a range of many sub-ranges (thousands of leaves): one query on worker w that
// numbers a row's sub-range with width_bucket over r.Subs. Only when Bucketed.
func (c *Comparer) HashBuckets(ctx context.Context, w, i int, r Range) (map[int]RangeSum, error) {
	e := c.e
	if !e.q.bucketKey() {
		return nil, fmt.Errorf("internal error: the key of %s cannot be bucketed", e.cmp.Table.Ident())
	}
	s := e.sessions[i]
	sql, args := e.q.rangeHashBuckets(r)
	rows, err := s.txs[w].Query(ctx, sql, args...)
	var sums map[int]RangeSum
	if err == nil {
		sums, err = e.readSums(rows, i)
	}
	if err != nil {
		return nil, nodeErr(s.node, "table "+e.cmp.Table.Ident(), fmt.Errorf("hash range %d: %w", r.Index, err))
	}
	return sums, nil
}

// readSums reads the (sub-range, count, checksum) rows of a hashing query run on node i.
func (e *engine) readSums(rows pgx.Rows, i int) (map[int]RangeSum, error) {
	sums := map[int]RangeSum{}
	var sub int
	var s RangeSum
	_, err := pgx.ForEachRow(rows, []any{&sub, &s.Count, &s.Sum}, func() error {
		sums[sub] = s
		e.rowsCompared[i].Add(s.Count)
		return nil
	})
	return sums, err
}
