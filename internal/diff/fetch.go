package diff

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Fetch batches: at most maxFetchBatch keys per query, fewer when rows are wide, so that one
// query returns about fetchBytes of row text (rows of megabytes of TOASTed text or bytea are then
// fetched a few at a time, not a thousand at once).
const (
	firstFetchBatch = 100
	maxFetchBatch   = 1000
	fetchBytes      = 16 << 20
)

// batcher hands out consecutive batches of key positions, sized by the row width seen so far.
type batcher struct {
	mu          sync.Mutex
	next, total int
	rows, bytes int64
}

func (b *batcher) take() (start, end int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := firstFetchBatch
	if b.rows > 0 {
		avg := max(1, b.bytes/b.rows)
		size = int(min(int64(maxFetchBatch), max(1, fetchBytes/avg)))
	}
	start, end = b.next, min(b.next+size, b.total)
	b.next = end
	return start, end
}

func (b *batcher) seen(rows, bytes int64) {
	b.mu.Lock()
	b.rows += rows
	b.bytes += bytes
	b.mu.Unlock()
}

// nodeRow is one node's version of a row: column texts (nil = NULL) in q.cols order, and the
// row hash.
type nodeRow struct {
	texts []*string
	hash  int64
}

// fetched is every node's version of each key: rows[k][i] is nil when node i lacks key k.
type fetched struct {
	keys []Key
	rows [][]*nodeRow
}

// querier runs a query on one node: a snapshot transaction, or a pool outside any snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// fetchKeys reads the full rows of keys on every node. conns[i][w] is worker w's querier on node
// i; each node's workers take batches of keys in turn.
func (e *engine) fetchKeys(ctx context.Context, keys []Key, conns [][]querier) (*fetched, error) {
	f := &fetched{keys: keys, rows: make([][]*nodeRow, len(keys))}
	for i := range f.rows {
		f.rows[i] = make([]*nodeRow, len(conns))
	}
	sql := e.q.fetchRows()
	nKey := len(e.q.key)
	nCol := len(e.q.cols)
	g, gctx := errgroup.WithContext(ctx)
	for node := range conns {
		b := &batcher{total: len(keys)}
		for w := range conns[node] {
			g.Go(func() error {
				for start, end := b.take(); start < end; start, end = b.take() {
					args := make([]any, nKey)
					for c := 0; c < nKey; c++ {
						col := make([]string, end-start)
						for j := start; j < end; j++ {
							col[j-start] = keys[j][c]
						}
						args[c] = col
					}
					var rows, bytes int64
					err := e.fetchBatch(gctx, conns[node][w], sql, args, nCol, func(ord int, r *nodeRow) {
						f.rows[start+ord-1][node] = r
						rows++
						for _, t := range r.texts {
							if t != nil {
								bytes += int64(len(*t))
							}
						}
					})
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						return nodeErr(e.nodes[node], "fetch rows of "+e.cmp.Table.Ident(), err)
					}
					b.seen(rows, bytes)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return f, nil
}

func (e *engine) fetchBatch(ctx context.Context, q querier, sql string, args []any, nCol int, put func(ord int, r *nodeRow)) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ord int
		r := &nodeRow{texts: make([]*string, nCol)}
		dest := make([]any, 0, nCol+2)
		dest = append(dest, &ord)
		for c := range r.texts {
			dest = append(dest, &r.texts[c])
		}
		dest = append(dest, &r.hash)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if ord < 1 || ord > len(args[0].([]string)) {
			return fmt.Errorf("fetch returned ordinal %d out of range", ord)
		}
		put(ord, r)
	}
	return rows.Err()
}

// differs reports whether the nodes disagree on row k: a node lacks it, or hashes differ.
func (f *fetched) differs(k int) bool {
	rs := f.rows[k]
	for _, r := range rs {
		if r == nil || r.hash != rs[0].hash {
			return true
		}
	}
	return false
}

// absentEverywhere reports whether no node has row k.
func (f *fetched) absentEverywhere(k int) bool {
	for _, r := range f.rows[k] {
		if r != nil {
			return false
		}
	}
	return true
}
