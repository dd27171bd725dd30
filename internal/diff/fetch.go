package diff

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/report"
)

// Fetch batches: at most maxFetchBatch keys per query, fewer when rows are wide, so that one
// query returns about fetchBytes of row text (rows of megabytes of TOASTed text or bytea are then
// fetched a few at a time, not a thousand at once).
const (
	firstFetchBatch = 100
	maxFetchBatch   = 1000
	fetchBytes      = 16 << 20
)

// widthStats tracks the average text width of rows read, across workers.
type widthStats struct {
	rows, bytes atomic.Int64
}

func (w *widthStats) seen(rows, bytes int64) {
	w.rows.Add(rows)
	w.bytes.Add(bytes)
}

// batch returns how many rows to fetch per query.
func (w *widthStats) batch() int {
	rows := w.rows.Load()
	if rows == 0 {
		return firstFetchBatch
	}
	avg := max(1, w.bytes.Load()/rows)
	return int(min(int64(maxFetchBatch), max(1, fetchBytes/avg)))
}

// fits reports whether n rows of the width seen so far fit in one fetch (false while no width is
// known).
func (w *widthStats) fits(n int64) bool {
	rows := w.rows.Load()
	if rows == 0 {
		return false
	}
	return w.bytes.Load()/rows*n <= fetchBytes
}

// nodeRow is one node's version of a row: column texts (nil = NULL) in q.cols order, and the
// row hash. texts is nil when only the hash was read.
type nodeRow struct {
	texts  []*string
	hash   int64
	recent bool // committed after --until: the key is not compared
}

func (r *nodeRow) width() int64 {
	var n int64
	for _, t := range r.texts {
		if t != nil {
			n += int64(len(*t))
		}
	}
	return n
}

// keyRow is a key with one node's row.
type keyRow struct {
	key Key
	row *nodeRow
}

// querier runs a query on one node: a snapshot transaction, or a pool outside any snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// scanKeyRow decodes (key texts..., [column texts...,] row hash) of the current row.
func (e *engine) scanKeyRow(rr rawRow, raw [][]byte, nKey int, whole bool) (keyRow, error) {
	k, err := rr.keyTexts(raw, nKey)
	if err != nil {
		return keyRow{}, err
	}
	kr := keyRow{key: k, row: &nodeRow{}}
	at := nKey
	if whole {
		kr.row.texts = rr.texts(raw, nKey, len(e.q.cols))
		at += len(e.q.cols)
		e.width.seen(1, kr.row.width())
	}
	if kr.row.hash, err = rr.int8(raw, at); err != nil {
		return keyRow{}, err
	}
	if e.q.until {
		kr.row.recent = rr.bool(raw, at+1)
	}
	return kr, nil
}

// fetchKeys reads the full rows of keys on one node, in batches sized by the row width seen, and
// calls put for every key the node holds.
func (e *engine) fetchKeys(ctx context.Context, q querier, keys []Key, put func(Key, *nodeRow)) error {
	return e.fetchKeysAs(ctx, q, keys, false, put)
}

// hashBatch is how many keys one query looks up when only row hashes are read (1,000 measured
// faster than 10,000: a rerun of 300,000 keys took 9.0 s against 11.6 s).
const hashBatch = 1000

// fetchKeysAs is fetchKeys; with hashOnly the rows carry only their hash (no texts).
func (e *engine) fetchKeysAs(ctx context.Context, q querier, keys []Key, hashOnly bool, put func(Key, *nodeRow)) error {
	sql := e.q.fetchRows(hashOnly)
	nKey := len(e.q.key)
	for start := 0; start < len(keys); {
		size := e.width.batch()
		if hashOnly {
			size = hashBatch
		}
		end := min(len(keys), start+size)
		batch := keys[start:end]
		args := make([]any, nKey, nKey+1)
		if e.q.until {
			args = append(args, e.opts.Until)
		}
		for c := 0; c < nKey; c++ {
			col := make([]string, len(batch))
			for j, k := range batch {
				col[j] = k[c]
			}
			args[c] = col
		}
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("fetch rows of %s: %w", e.cmp.Table.Ident(), err)
		}
		var n, bytes int64
		rr := newRawRow(rows)
		nCol := len(e.q.cols)
		if hashOnly {
			nCol = 0
		}
		for rows.Next() {
			raw := rows.RawValues()
			ord, err := rr.int(raw, 0)
			var r *nodeRow
			if err == nil {
				r = &nodeRow{}
				if !hashOnly {
					r.texts = rr.texts(raw, 1, nCol)
				}
				r.hash, err = rr.int8(raw, 1+nCol)
				if e.q.until {
					r.recent = rr.bool(raw, 2+nCol)
				}
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("fetch rows of %s: %w", e.cmp.Table.Ident(), err)
			}
			if ord < 1 || ord > len(batch) {
				rows.Close()
				return fmt.Errorf("fetch rows of %s: ordinal %d out of range", e.cmp.Table.Ident(), ord)
			}
			n++
			bytes += r.width()
			put(batch[ord-1], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("fetch rows of %s: %w", e.cmp.Table.Ident(), err)
		}
		if !hashOnly {
			e.width.seen(n, bytes)
		}
		start = end
	}
	return nil
}

// found merges what nodes hold for the keys of one (sub-)range or batch: rows[i] is node i's
// row (nil: not seen, or the node lacks the key).
type found struct {
	n     int
	byID  map[string]*foundKey
	order []string
}

type foundKey struct {
	key  Key
	rows []*nodeRow
}

func newFound(n int) *found { return &found{n: n, byID: map[string]*foundKey{}} }

func (f *found) put(k Key, i int, r *nodeRow) {
	id := k.id()
	fk, ok := f.byID[id]
	if !ok {
		fk = &foundKey{key: k, rows: make([]*nodeRow, f.n)}
		f.byID[id] = fk
		f.order = append(f.order, id)
	}
	fk.rows[i] = r
}

// differs reports whether the nodes listed disagree on the key: one lacks it, or hashes differ.
func (f *found) differs(id string, nodes []int) bool {
	rows := f.byID[id].rows
	first := rows[nodes[0]]
	for _, i := range nodes {
		if rows[i] != nil && rows[i].recent {
			return false // written after --until somewhere: not compared
		}
	}
	for _, i := range nodes {
		if rows[i] == nil || first == nil || rows[i].hash != first.hash {
			return true
		}
	}
	return false
}

// entry builds the key's entry: node i holds what its representative reps[i] holds (only rows
// with texts count: a hash without its row was not found by key). ok is false when the key
// differs nowhere (no node holds it, or every node holds the same row).
func (f *found) entry(k Key, reps []int) (report.Entry, bool) {
	fk := f.byID[k.id()]
	e := report.Entry{Key: k}
	present := 0
	for i := range reps {
		r := fk.rows[reps[i]]
		if r != nil && r.recent {
			return e, false // written after --until somewhere: not compared
		}
		if r == nil || r.texts == nil {
			continue
		}
		present++
		v := -1
		for j := range e.Versions {
			if e.Versions[j].Hash == r.hash {
				v = j
				break
			}
		}
		if v < 0 {
			e.Versions = append(e.Versions, report.Version{Hash: r.hash, Values: r.texts})
			v = len(e.Versions) - 1
		}
		e.Versions[v].Nodes = append(e.Versions[v].Nodes, i)
	}
	if present == 0 || (present == len(reps) && len(e.Versions) == 1) {
		return e, false
	}
	return e, true
}
