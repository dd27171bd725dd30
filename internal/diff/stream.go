package diff

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/report"
)

// Streamed is one node's rows of a range, read once by StreamRange: the (count, checksum) of
// every sub-range, added up here from the rows' hashes exactly as HashRange's query adds them
// up on the server, and the rows themselves (key and row hash), so that a drill-down into the
// range need not read that node again.
type Streamed struct {
	Sums []RangeSum // per sub-range; an empty one is the zero RangeSum
	rows []keyRow
	subs []int32 // the sub-range of rows[i]
	kept bool    // rows holds every row (false: there were more than StreamRange kept)
}

// Kept reports whether every row was kept, so that DrillDownStreamed may use them.
func (s *Streamed) Kept() bool { return s.kept }

// StreamRange reads the key and row hash of every row of r, with the sub-range it falls in, on
// node i in worker w's snapshot. It keeps up to keep rows (memory stays bounded: beyond that
// only the sums are kept). A comparison with --until cannot stream.
func (c *Comparer) StreamRange(ctx context.Context, w int, r Range, i int, keep int) (*Streamed, error) {
	e := c.e
	if e.q.until {
		return nil, errors.New("a range cannot be streamed with --until")
	}
	s := e.sessions[i]
	out, err := e.streamRange(ctx, s.txs[w], r, keep)
	if err != nil {
		return nil, nodeErr(s.node, "table "+e.cmp.Table.Ident(), err)
	}
	for _, sum := range out.Sums {
		e.rowsCompared[i].Add(sum.Count)
	}
	return out, nil
}

func (e *engine) streamRange(ctx context.Context, tx pgx.Tx, r Range, keep int) (*Streamed, error) {
	sql, args := e.q.rangeRowsBySub(r)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read range %d: %w", r.Index, err)
	}
	defer rows.Close()
	nKey := len(e.q.key)
	acc := make([]mixSum, len(r.Subs)+1)
	out := &Streamed{kept: true}
	rr := newRawRow(rows)
	for rows.Next() {
		raw := rows.RawValues()
		kr, err := e.scanKeyRow(rr, raw, nKey, false)
		if err != nil {
			return nil, fmt.Errorf("read range %d: %w", r.Index, err)
		}
		sub, err := rr.int(raw, nKey+1)
		if err != nil || sub < 0 || sub >= len(acc) {
			return nil, fmt.Errorf("read range %d: sub-range %d of %d (%v)", r.Index, sub, len(acc), err)
		}
		acc[sub].add(kr.row.hash)
		if !out.kept {
			continue
		}
		if len(out.rows) == keep {
			out.rows, out.subs, out.kept = nil, nil, false
			continue
		}
		out.rows = append(out.rows, kr)
		out.subs = append(out.subs, int32(sub))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read range %d: %w", r.Index, err)
	}
	out.Sums = make([]RangeSum, len(acc))
	for i := range acc {
		out.Sums[i] = acc[i].sum()
	}
	return out, nil
}

// DrillDownStreamed is DrillDown of sub-ranges first..last of r, a range streamed on the nodes
// whose streamed[i] is not nil (every row kept): their rows are taken from there, the other
// nodes are read. sums are each node's (count, checksum) of those sub-ranges together, at key 0.
func (c *Comparer) DrillDownStreamed(ctx context.Context, w int, r Range, first, last int, sums []map[int]RangeSum, streamed []*Streamed) ([]report.Entry, error) {
	pre := make([][]keyRow, len(streamed))
	for i, s := range streamed {
		if s == nil {
			continue
		}
		if !s.kept {
			return nil, errors.New("drill-down into a streamed range whose rows were not kept")
		}
		pre[i] = []keyRow{}
		for j, kr := range s.rows {
			if sub := int(s.subs[j]); sub >= first && sub <= last {
				pre[i] = append(pre[i], kr)
			}
		}
	}
	span := Range{Index: r.Index, Lo: r.sub(first).Lo, Hi: r.sub(last).Hi}
	return c.e.drillDown(ctx, w, span, sums, 0, pre)
}
