package diff

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/report"
)

// hashCount is how many copies of rows with one hash a node holds.
type hashCount struct {
	hash  int64
	count int64
}

// multisetBatch is how many differing row hashes are collected before their rows are fetched
// and emitted.
const multisetBatch = 1000

// runMultiset compares a table without a usable key as a multiset of whole rows: a whole-table
// checksum first, then a merge of every node's (row hash, copies) in hash order; differing hashes
// are emitted in batches as the merge finds them (a second connection per node fetches their
// rows in the same snapshot while the first streams).
func (e *engine) runMultiset(ctx context.Context, d *report.Diff, out *emitter) error {
	var err error
	e.sessions, err = openSessions(ctx, e.pools, 2, e.opts.SnapshotHook, true)
	if err != nil {
		return err
	}
	defer closeSessions(ctx, e.sessions)
	e.progress.RangesPlanned(1)
	d.Summary.Ranges = 1
	sums := make([]RangeSum, len(e.sessions))
	err = e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		return tx.QueryRow(ctx, e.q.tableHash()).Scan(&sums[i].Count, &sums[i].Sum)
	}, 0)
	if err != nil {
		return err
	}
	same := true
	for i, s := range sums {
		e.rowsCompared[i].Store(s.Count)
		same = same && s == sums[0]
	}
	e.progress.RangeDone(!same)
	if same {
		return nil
	}
	d.Summary.RangesDiffering = 1
	emit := func(batch []hashCount, counts [][]int64, w int) (bool, error) {
		entries, err := e.multisetEntries(ctx, w, batch, counts)
		if err != nil {
			return false, err
		}
		e.progress.KeysAnalysed(len(entries), len(entries))
		for i := range entries {
			if stop, err := out.emit(&entries[i]); stop || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	if len(e.sessions[0].txs) > 1 {
		// A second connection per node fetches rows while the first streams hashes.
		return e.mergeHashCounts(ctx, func(b []hashCount, c [][]int64) (bool, error) { return emit(b, c, 1) })
	}
	// One connection per node (a busy shared pool): the differing hashes wait until the merge
	// is done (16 bytes and a count per node each).
	var batches [][]hashCount
	var counts [][][]int64
	err = e.mergeHashCounts(ctx, func(b []hashCount, c [][]int64) (bool, error) {
		batches, counts = append(batches, b), append(counts, c)
		return false, nil
	})
	if err != nil {
		return err
	}
	for i := range batches {
		if stop, err := emit(batches[i], counts[i], 0); stop || err != nil {
			return err
		}
	}
	return nil
}

// mergeHashCounts streams every node's (hash, copies) in hash order and calls found with batches
// of hashes whose copy counts differ (counts[j][i]: copies of batch[j] on node i); found returns
// true to stop.
func (e *engine) mergeHashCounts(ctx context.Context, found func([]hashCount, [][]int64) (bool, error)) error {
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
	g.Go(func() error {
		heads := make([][]hashCount, n)
		open := make([]bool, n)
		for i := range open {
			open[i] = true
		}
		drain := func() {
			stop.Store(true)
			for i := range streams { // let the readers finish
				for open[i] {
					if _, ok := <-streams[i]; !ok {
						open[i] = false
					}
				}
			}
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
		var batch []hashCount
		var counts [][]int64
		flush := func() (bool, error) {
			if len(batch) == 0 {
				return false, nil
			}
			done, err := found(batch, counts)
			batch, counts = nil, nil
			return done, err
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
				_, err := flush()
				return err
			}
			c := make([]int64, n)
			for i := 0; i < n; i++ {
				if len(heads[i]) > 0 && heads[i][0].hash == *low {
					c[i] = heads[i][0].count
					heads[i] = heads[i][1:]
				}
			}
			for _, x := range c[1:] {
				if x != c[0] {
					batch = append(batch, hashCount{hash: *low})
					counts = append(counts, c)
					break
				}
			}
			if len(batch) >= multisetBatch {
				done, err := flush()
				if done || err != nil {
					drain()
					return err
				}
			}
		}
	})
	return g.Wait()
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

// multisetEntries fetches one copy of each row of batch (on worker w's connections) and returns
// the entries: the row, and the copies each node holds.
func (e *engine) multisetEntries(ctx context.Context, w int, batch []hashCount, counts [][]int64) ([]report.Entry, error) {
	hashes := make([]int64, len(batch))
	for i, b := range batch {
		hashes[i] = b.hash
	}
	texts := map[int64][]*string{}
	for i, s := range e.sessions {
		tx := s.txs[min(w, len(s.txs)-1)]
		rows, err := tx.Query(ctx, e.q.rowsByHash(), hashes)
		if err != nil {
			return nil, nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
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
				return nil, nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
			}
			texts[h] = vals
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nodeErr(e.nodes[i], "fetch rows of "+e.cmp.Table.Ident(), err)
		}
	}
	out := make([]report.Entry, 0, len(batch))
	for j, h := range hashes {
		v := report.Version{Hash: h, Values: texts[h]}
		if v.Values == nil {
			return nil, fmt.Errorf("table %s: no node returned the row of hash %d", e.cmp.Table.Ident(), h)
		}
		for i, c := range counts[j] {
			if c > 0 {
				v.Nodes = append(v.Nodes, i)
			}
		}
		out = append(out, report.Entry{Versions: []report.Version{v}, Counts: counts[j]})
	}
	return out, nil
}

// recountBatch recounts, on every node, the copies of each entry's row (recheck and rerun of
// whole-row diffs); entries whose counts agree now come back zero.
func (e *engine) recountBatch(ctx context.Context, batch []report.Entry) ([]report.Entry, error) {
	hashes := make([]int64, 0, len(batch))
	for i := range batch {
		if len(batch[i].Versions) != 1 {
			return nil, fmt.Errorf("whole-row entry %d has no row", i+1)
		}
		hashes = append(hashes, batch[i].Versions[0].Hash)
	}
	sql := "SELECT h, count(*) FROM (SELECT " + e.q.hash + " AS h FROM " + e.q.from + whereClause(e.q.where) +
		") AS s WHERE h = ANY($1::int8[]) GROUP BY h"
	counts := map[int64][]int64{}
	for _, h := range hashes {
		counts[h] = make([]int64, len(e.nodes))
	}
	for i, s := range e.sessions {
		rows, err := s.txs[0].Query(ctx, sql, hashes)
		if err != nil {
			return nil, nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
		}
		for rows.Next() {
			var h, c int64
			if err := rows.Scan(&h, &c); err != nil {
				rows.Close()
				return nil, nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
			}
			counts[h][i] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
		}
	}
	out := make([]report.Entry, len(batch))
	for j, h := range hashes {
		c := counts[h]
		same := true
		for _, x := range c[1:] {
			same = same && x == c[0]
		}
		if same {
			continue
		}
		v := report.Version{Hash: h, Values: batch[j].Versions[0].Values}
		for i, x := range c {
			if x > 0 {
				v.Nodes = append(v.Nodes, i)
			}
		}
		out[j] = report.Entry{Versions: []report.Version{v}, Counts: c}
	}
	return out, nil
}

func whereClause(w string) string {
	if w == "" {
		return ""
	}
	return " WHERE (" + w + ")"
}
