package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// recheck waits, re-reads every differing key on every node (fresh statements, so replication
// has had time to apply), and moves keys that now agree to d.Transient.
func (e *engine) recheck(ctx context.Context, d *report.Diff) error {
	t := time.NewTimer(e.opts.Recheck)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	before := d.Rows
	if err := e.reread(ctx, d); err != nil {
		return err
	}
	still := map[string]bool{}
	for _, r := range d.Rows {
		still[recordID(r.Key)] = true
	}
	for _, r := range before {
		if !still[recordID(r.Key)] {
			d.Transient = append(d.Transient, r)
		}
	}
	return nil
}

// reread replaces d.Rows with the current state of its keys on every node, keeping only those
// that still differ. It reads in a fresh snapshot per node (read-only, like every read of a
// comparison, so a filter can never write).
func (e *engine) reread(ctx context.Context, d *report.Diff) error {
	sessions, err := openSessions(ctx, e.pools, e.workers)
	if err != nil {
		return err
	}
	defer closeSessions(ctx, sessions)
	e.sessions = sessions
	conns := e.sessionQueriers()
	if e.cmp.Table.KeyKind == catalog.KeyNone {
		return e.rereadMultiset(ctx, d, conns)
	}
	keys := make([]Key, 0, len(d.Rows))
	for i, r := range d.Rows {
		k, err := keyOf(r.Key, e.q.key)
		if err != nil {
			return fault.Input("row %d: %v", i+1, err)
		}
		keys = append(keys, k)
	}
	f, err := e.fetchKeys(ctx, keys, conns)
	if err != nil {
		return err
	}
	d.Rows = e.rowsOf(f)
	return nil
}

// rereadMultiset recounts the copies of each differing row hash on every node.
func (e *engine) rereadMultiset(ctx context.Context, d *report.Diff, conns [][]querier) error {
	hashes := make([]int64, 0, len(d.Rows))
	for i, r := range d.Rows {
		v, _ := r.Key.Get(rowHashField)
		s, _ := encode.Text(v)
		h, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fault.Input("row %d: %s is not a row hash", i+1, rowHashField)
		}
		hashes = append(hashes, h)
	}
	sql := "SELECT h, count(*) FROM (SELECT " + e.q.hash + " AS h FROM " + e.q.from + whereClause(e.q.where) +
		") AS s WHERE h = ANY($1::int8[]) GROUP BY h"
	counts := map[int64][]int64{}
	for _, h := range hashes {
		counts[h] = make([]int64, len(conns))
	}
	for i := range conns {
		rows, err := conns[i][0].Query(ctx, sql, hashes)
		if err != nil {
			return nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
		}
		for rows.Next() {
			var h, c int64
			if err := rows.Scan(&h, &c); err != nil {
				rows.Close()
				return nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
			}
			counts[h][i] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nodeErr(e.nodes[i], "recount rows of "+e.cmp.Table.Ident(), err)
		}
	}
	diffs := map[int64][]int64{}
	for h, c := range counts {
		for _, x := range c[1:] {
			if x != c[0] {
				diffs[h] = c
				break
			}
		}
	}
	return e.multisetRows(ctx, d, diffs, conns)
}

func whereClause(w string) string {
	if w == "" {
		return ""
	}
	return " WHERE (" + w + ")"
}

// keyOf converts a diff file's key record back to key texts, in key order.
func keyOf(r report.Record, key []catalog.Column) (Key, error) {
	k := make(Key, len(key))
	for i, c := range key {
		v, ok := r.Get(c.Name)
		if !ok {
			return nil, fmt.Errorf("key column %q missing", c.Name)
		}
		s, ok := encode.Text(v)
		if !ok {
			return nil, fmt.Errorf("key column %q is null", c.Name)
		}
		k[i] = s
	}
	return k, nil
}

func recordID(r report.Record) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Rerun re-reads the keys of an earlier diff on its nodes and returns a new diff holding only
// those that still differ. The table's compared columns must still have the recorded types.
func Rerun(ctx context.Context, pools cluster.Pools, old *report.Diff, tool string) (*report.Diff, error) {
	started := time.Now().UTC()
	cols := make([]string, len(old.Columns))
	for i, c := range old.Columns {
		cols[i] = c.Name
	}
	e, err := prepare(ctx, pools, Options{
		Cluster: old.Cluster, Schema: old.Table.Schema, Table: old.Table.Name,
		BlockSize: max(old.Options.BlockSize, 10), Concurrency: max(old.Options.Concurrency, 1),
		Where: old.Options.Where, Columns: cols, MaxDiffRows: max(old.Options.MaxDiffRows, len(old.Rows), 1),
		Strict: old.Options.Strict, Tool: tool,
	})
	if err != nil {
		return nil, err
	}
	for _, c := range old.Columns {
		now, ok := e.cmp.Table.Column(c.Name)
		if !ok || now.Type != c.Type {
			return nil, fault.Input("column %q of %s changed type since the diff (%s, was %s): run table-diff again", c.Name, e.cmp.Table.Ident(), now.Type, c.Type)
		}
	}
	if fmt.Sprint(old.Key) != fmt.Sprint(e.cmp.Table.Key) && !(len(old.Key) == 0 && len(e.cmp.Table.Key) == 0) {
		return nil, fault.Input("the key of %s changed since the diff (%v, was %v): run table-diff again", e.cmp.Table.Ident(), e.cmp.Table.Key, old.Key)
	}
	d := e.newReport(started)
	d.Options = old.Options
	d.Rows = old.Rows
	if err := e.reread(ctx, d); err != nil {
		return nil, err
	}
	for i := range e.nodes { // rerun compares exactly the keys of the old diff on every node
		e.rowsCompared[i].Store(int64(len(old.Rows)))
	}
	e.finish(d, started)
	return d, nil
}
