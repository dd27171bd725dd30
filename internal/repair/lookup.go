package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

//go:embed commit_ts_setting.sql
var commitTSSettingSQL string

// lookups reads what planning needs from the nodes, one batch of keys at a time, outside the
// repair's transactions: commit timestamps (latest-commit-wins) and keys held outside a diff's
// --where filter.
type lookups struct {
	d     *report.Diff
	pools map[string]*cluster.Pool
	key   map[string][]catalog.Column // per node: the key columns, loaded on first use
	table map[string]*catalog.Table   // per node: the table, loaded on first use
	ts    map[string]bool             // per node: track_commit_timestamp is on
}

func newLookups(pools cluster.Pools, d *report.Diff) *lookups {
	lk := &lookups{d: d, pools: map[string]*cluster.Pool{}, key: map[string][]catalog.Column{},
		table: map[string]*catalog.Table{}, ts: map[string]bool{}}
	for _, p := range pools {
		lk.pools[p.Node.Name] = p
	}
	return lk
}

// checkCommitTimes reads which nodes record commit timestamps. A node with
// track_commit_timestamp off contributes no times: an input error unless the plan has a fallback
// (then the fallback decides those rows, and the returned warning says so).
func (lk *lookups) checkCommitTimes(ctx context.Context, hasFallback bool) ([]string, error) {
	var warnings []string
	for _, n := range lk.d.Nodes {
		p := lk.pools[n]
		if p == nil {
			continue
		}
		on := false
		if err := p.QueryRow(ctx, commitTSSettingSQL).Scan(&on); err != nil {
			return nil, &cluster.NodeError{Node: n, Err: fmt.Errorf("read track_commit_timestamp: %w", err)}
		}
		lk.ts[n] = on
		if !on {
			if !hasFallback {
				return nil, fault.Input("latest-commit-wins needs track_commit_timestamp = on, and it is off on node %s: "+
					"turn it on (it records commits from then on), or give the plan a fallback (take NODE or skip)", n)
			}
			warnings = append(warnings, fmt.Sprintf("track_commit_timestamp is off on node %s: the plan's fallback decides its rows", n))
		}
	}
	return warnings, nil
}

// commitTimes reads, for every entry of a batch (first is the diff index of batch[0]) and every
// node holding its row, the commit time of the transaction that wrote the node's version
// (pg_xact_commit_timestamp(xmin)). Rows written before tracking was enabled have no time.
func (lk *lookups) commitTimes(ctx context.Context, batch []report.Entry, first int) (map[int]map[string]time.Time, error) {
	out := map[int]map[string]time.Time{}
	for ni, n := range lk.d.Nodes {
		if !lk.ts[n] {
			continue
		}
		which := holders(batch, ni, true)
		var ts *time.Time
		err := lk.scanKeys(ctx, n, batch, which, "pg_catalog.pg_xact_commit_timestamp("+aliasT+".xmin)", []any{&ts}, func(i int) {
			if ts == nil {
				return
			}
			if out[first+i] == nil {
				out[first+i] = map[string]time.Time{}
			}
			out[first+i][n] = *ts
		})
		if err != nil {
			return nil, &cluster.NodeError{Node: n, Err: fmt.Errorf("read commit timestamps: %w", err)}
		}
	}
	return out, nil
}

// outsideWhere reads, for a diff taken with --where, which nodes lacking a row of the batch do
// hold its key: the row is outside the filter there (on that node or in its version), so its
// absence from the diff is not an absence from the table. It returns diff index -> nodes.
func (lk *lookups) outsideWhere(ctx context.Context, batch []report.Entry, first int) (map[int]map[string]bool, error) {
	out := map[int]map[string]bool{}
	for ni, n := range lk.d.Nodes {
		if lk.pools[n] == nil {
			continue
		}
		which := holders(batch, ni, false)
		err := lk.scanKeys(ctx, n, batch, which, "true", nil, func(i int) {
			if out[first+i] == nil {
				out[first+i] = map[string]bool{}
			}
			out[first+i][n] = true
		})
		if err != nil {
			return nil, &cluster.NodeError{Node: n, Err: fmt.Errorf("read keys outside the --where filter: %w", err)}
		}
	}
	return out, nil
}

// holders returns the positions in batch of the entries whose row node holds (holding), or
// lacks (!holding).
func holders(batch []report.Entry, node int, holding bool) []int {
	var out []int
	for i := range batch {
		if (batch[i].VersionOf(node) >= 0) == holding {
			out = append(out, i)
		}
	}
	return out
}

// keyColumns returns node's key columns of the diff's table, loaded once.
func (lk *lookups) keyColumns(ctx context.Context, node string) ([]catalog.Column, *catalog.Table, error) {
	if t, ok := lk.table[node]; ok {
		return lk.key[node], t, nil
	}
	t, err := catalog.Load(ctx, lk.pools[node], lk.d.Table.Schema, lk.d.Table.Name)
	if errors.Is(err, catalog.ErrTableMissing) {
		return nil, nil, fault.Input("table %s does not exist on node %s", lk.d.Table, node)
	}
	if err != nil {
		return nil, nil, err
	}
	key := make([]catalog.Column, len(lk.d.Key))
	for i, k := range lk.d.Key {
		c, ok := t.Column(k)
		if !ok {
			return nil, nil, fault.Input("key column %q of %s is gone on node %s", k, t.Ident(), node)
		}
		key[i] = c
	}
	lk.key[node], lk.table[node] = key, t
	return key, t, nil
}

// scanKeys looks up the keys of the batch's entries at positions which in the node's table (all
// of it: no filter) and calls found with the position of every key the node holds, after
// scanning into dest (nil: ignored) the expressions what, evaluated on the node's row (the table
// is aliased aliasT).
func (lk *lookups) scanKeys(ctx context.Context, node string, batch []report.Entry, which []int, what string, dest []any, found func(int)) error {
	if len(which) == 0 {
		return nil
	}
	key, t, err := lk.keyColumns(ctx, node)
	if err != nil {
		return err
	}
	args := make([]any, len(key))
	unnest := make([]string, len(key))
	names := make([]string, len(key))
	for i, k := range key {
		vals := make([]string, len(which))
		for j, r := range which {
			if i < len(batch[r].Key) {
				vals[j] = batch[r].Key[i]
			}
		}
		args[i] = vals
		unnest[i] = encode.FromTextArray(fmt.Sprintf("$%d", i+1), k)
		names[i] = fmt.Sprintf("k%d", i+1)
	}
	kref := make([]string, len(key))
	tref := make([]string, len(key))
	for i, k := range key {
		kref[i] = "pgparity_k." + names[i]
		tref[i] = encode.ColumnRef(aliasT, k.Name)
	}
	sql := "SELECT pgparity_k.ord, " + what + " FROM " + t.From() + " AS " + aliasT +
		" JOIN unnest(" + strings.Join(unnest, ", ") + ") WITH ORDINALITY AS pgparity_k(" + strings.Join(names, ", ") + ", ord) ON (" +
		strings.Join(tref, ", ") + ") = (" + strings.Join(kref, ", ") + ")"
	rows, err := lk.pools[node].Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		if dest == nil {
			dest = []any{nil}
		}
		if err := rows.Scan(append([]any{&ord}, dest...)...); err != nil {
			return err
		}
		if ord < 1 || ord > int64(len(which)) {
			return fmt.Errorf("unexpected key number %d", ord)
		}
		found(which[ord-1])
	}
	return rows.Err()
}
