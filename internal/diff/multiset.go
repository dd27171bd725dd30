package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
)

// rowHashField names the key of whole-row mode rows in diff files.
const rowHashField = "row_hash"

// hashCount is how many copies of rows with one hash a node holds.
type hashCount struct {
	hash  int64
	count int64
}

// runMultiset compares a table without a usable key as a multiset of whole rows: a whole-table
// checksum first, then a merge of every node's (row hash, copies) in hash order.
func (e *engine) runMultiset(ctx context.Context, d *report.Diff) error {
	var err error
	e.sessions, err = openSessions(ctx, e.pools, 1)
	if err != nil {
		return err
	}
	defer closeSessions(ctx, e.sessions)
	e.progress.RangesPlanned(1)
	d.Summary.Ranges = 1
	sums := make([]rangeSum, len(e.sessions))
	err = e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		return tx.QueryRow(ctx, e.q.tableHash()).Scan(&sums[i].count, &sums[i].sum)
	}, 0)
	if err != nil {
		return err
	}
	same := true
	for i, s := range sums {
		e.rowsCompared[i].Store(s.count)
		same = same && s == sums[0]
	}
	e.progress.RangeDone(!same)
	if same {
		return nil
	}
	d.Summary.RangesDiffering = 1
	diffs, full, err := e.mergeHashCounts(ctx)
	if err != nil {
		return err
	}
	if full {
		d.Summary.Status = report.StatusPartial
		d.Summary.PartialReason = fmt.Sprintf("stopped after %d differing rows (--max-diff-rows)", e.opts.MaxDiffRows)
	}
	e.progress.KeysAnalysed(len(diffs), len(diffs))
	return e.multisetRows(ctx, d, diffs, e.sessionQueriers())
}

// mergeHashCounts streams every node's (hash, copies) in hash order and returns, per hash whose
// copy counts differ, the count on each node.
func (e *engine) mergeHashCounts(ctx context.Context) (map[int64][]int64, bool, error) {
	n := len(e.sessions)
	streams := make([]chan []hashCount, n)
	var stop atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	for i := range streams {
		streams[i] = make(chan []hashCount, 4)
		g.Go(func() error {
			defer close(streams[i])
			return e.onNode(gctx, i, func(tx pgx.Tx) error {
				rows, err := tx.Query(gctx, e.q.hashCounts())
				if err != nil {
					return err
				}
				defer rows.Close() // drains what is left when the merge stops early
				batch := make([]hashCount, 0, 1024)
				for rows.Next() && !stop.Load() {
					var hc hashCount
					if err := rows.Scan(&hc.hash, &hc.count); err != nil {
						return err
					}
					if batch = append(batch, hc); len(batch) == cap(batch) {
						select {
						case streams[i] <- batch:
						case <-gctx.Done():
							return gctx.Err()
						}
						batch = make([]hashCount, 0, 1024)
					}
				}
				if len(batch) > 0 {
					select {
					case streams[i] <- batch:
					case <-gctx.Done():
						return gctx.Err()
					}
				}
				return rows.Err()
			})
		})
	}
	diffs := map[int64][]int64{}
	full := false
	g.Go(func() error {
		heads := make([][]hashCount, n)
		open := make([]bool, n)
		for i := range open {
			open[i] = true
		}
		next := func(i int) {
			for open[i] && len(heads[i]) == 0 {
				b, ok := <-streams[i]
				if !ok {
					open[i] = false
					return
				}
				heads[i] = b
			}
		}
		for {
			var low *int64
			for i := 0; i < n; i++ {
				next(i)
				if len(heads[i]) > 0 && (low == nil || heads[i][0].hash < *low) {
					h := heads[i][0].hash
					low = &h
				}
			}
			if low == nil {
				return nil
			}
			counts := make([]int64, n)
			for i := 0; i < n; i++ {
				if len(heads[i]) > 0 && heads[i][0].hash == *low {
					counts[i] = heads[i][0].count
					heads[i] = heads[i][1:]
				}
			}
			for _, c := range counts[1:] {
				if c != counts[0] {
					diffs[*low] = counts
					break
				}
			}
			if len(diffs) >= e.opts.MaxDiffRows {
				full = true
				stop.Store(true)
				for i := range streams { // let the readers finish
					for open[i] {
						if _, ok := <-streams[i]; !ok {
							open[i] = false
						}
					}
				}
				return nil
			}
		}
	})
	if err := g.Wait(); err != nil {
		return nil, false, err
	}
	return diffs, full, nil
}

// onNode runs fn on node i's first session connection, attributing errors to the node.
func (e *engine) onNode(ctx context.Context, i int, fn func(pgx.Tx) error) error {
	if err := fn(e.sessions[i].txs[0]); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nodeErr(e.nodes[i], "table "+e.cmp.Table.Ident(), err)
	}
	return nil
}

// multisetRows fetches one copy of each differing row and turns the counts into report rows.
func (e *engine) multisetRows(ctx context.Context, d *report.Diff, diffs map[int64][]int64, conns [][]querier) error {
	hashes := make([]int64, 0, len(diffs))
	for h := range diffs {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	texts := map[int64][]*string{}
	for i := range conns {
		rows, err := conns[i][0].Query(ctx, e.q.rowsByHash(), hashes)
		if err != nil {
			return nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
		}
		for rows.Next() {
			var h int64
			vals := make([]*string, len(e.q.cols))
			dest := []any{&h}
			for j := range vals {
				dest = append(dest, &vals[j])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
			}
			texts[h] = vals
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
		}
	}
	d.Rows, e.versions = nil, nil
	for _, h := range hashes {
		counts := diffs[h]
		r := report.Row{
			Key:    report.Record{{Name: rowHashField, Value: json.Number(strconv.FormatInt(h, 10))}},
			Values: map[string]*report.Record{},
			Counts: map[string]int64{},
		}
		v := make([]int, len(counts))
		for i, c := range counts {
			r.Counts[e.nodes[i]] = c
			v[i] = int(c)
			if c == 0 || texts[h] == nil {
				r.Values[e.nodes[i]] = nil
				continue
			}
			rec := make(report.Record, len(e.q.cols))
			for j, col := range e.q.cols {
				rec[j] = report.Field{Name: col.Name, Value: encode.JSONValue(col, texts[h][j])}
			}
			r.Values[e.nodes[i]] = &rec
		}
		d.Rows = append(d.Rows, r)
		e.versions = append(e.versions, v)
	}
	return nil
}
