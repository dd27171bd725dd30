package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

//go:embed commit_ts_setting.sql
var commitTSSettingSQL string

// Repair plans the repair of a diff, applies it, and (unless it is a dry run) re-reads every key
// of the diff on every node. pools must hold every node of the diff. It returns fault.ErrDiffer
// when every node committed but some keys still differ; the result is set whatever happens.
func Repair(ctx context.Context, pools cluster.Pools, d *report.Diff, o Options, ao ApplyOptions, tool string) (*Result, error) {
	fail := func(res *Result, err error) (*Result, error) {
		if res == nil {
			res = newResult(&Plan{Cluster: d.Cluster, Table: d.Table, Nodes: d.Nodes, Mode: o.Mode, Source: o.Source}, ao)
		}
		res.Status, res.Error = StatusFailed, err.Error()
		return res, err
	}
	if err := o.validate(d); err != nil {
		return fail(nil, err)
	}
	var warnings []string
	if o.Mode == ModePlan && o.Rules.needsCommitTimes() {
		times, warn, err := CommitTimes(ctx, pools, d, o.Rules.Fallback != nil)
		if err != nil {
			return fail(nil, err)
		}
		o.CommitTimes, warnings = times, warn
	}
	if len(d.Key) > 0 && d.Options.Where != "" {
		outside, err := KeysOutsideWhere(ctx, pools, d)
		if err != nil {
			return fail(nil, err)
		}
		o.OutsideWhere = outside
	}
	p, err := NewPlan(d, o)
	if err != nil {
		return fail(nil, err)
	}
	slog.Debug("repair planned", "changes", p.Total())
	res, err := Apply(ctx, pools, p, ao)
	if d.Summary.Status == report.StatusPartial {
		warnings = append(warnings, fmt.Sprintf("the diff is partial (%s): only its %d keys are repaired; "+
			"run table-diff again afterwards to find the rest", d.Summary.PartialReason, len(d.Rows)))
	}
	res.Warnings = append(warnings, res.Warnings...)
	slog.Debug("repair applied", "seconds", res.DurationSeconds)
	if err != nil {
		return fail(res, err)
	}
	if ao.DryRun {
		return res, nil
	}
	start := time.Now()
	c := &report.Collector{}
	_, err = diff.Rerun(ctx, pools, report.FromDiff(d), tool, c)
	nd := c.Diff
	slog.Debug("repair verified", "seconds", time.Since(start).Seconds())
	if err != nil {
		if len(res.Committed()) > 0 {
			// Nodes changed: whatever the cause, this is no longer "bad input, nothing changed".
			return fail(res, fmt.Errorf("verify after the commits: %s", err))
		}
		return fail(res, fmt.Errorf("verify: %w", err))
	}
	res.Verify = &Verify{Agree: len(nd.Rows) == 0, StillDiffering: len(nd.Rows)}
	for i, r := range nd.Rows {
		if i == 100 {
			break
		}
		res.Verify.Keys = append(res.Verify.Keys, r.Key)
	}
	if !res.Verify.Agree {
		res.Status = StatusUnresolved
		return res, fault.ErrDiffer
	}
	res.Status = StatusRepaired
	return res, nil
}

// Undo restores the rows an undo file recorded, on the nodes that committed, with the stale
// guard: a row is restored only while it still holds what the repair wrote. It returns
// fault.ErrDiffer when every node committed but some rows could not be restored (skipped as
// stale): the undo is then incomplete, and must not look like a success.
func Undo(ctx context.Context, pools cluster.Pools, u *UndoFile, ao ApplyOptions) (*Result, error) {
	p, err := u.Plan()
	if err != nil {
		return nil, err
	}
	ao.NoStaleGuard = false
	res, err := Apply(ctx, pools, p, ao)
	if err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
		return res, err
	}
	if res.Status == StatusUnresolved {
		return res, fault.ErrDiffer
	}
	return res, nil
}

// CommitTimes reads, for every row of the diff on every node holding it, the commit time of the
// transaction that wrote the node's version (pg_xact_commit_timestamp(xmin)). A node with
// track_commit_timestamp off contributes no times: an input error unless the plan has a fallback
// (then the fallback decides those rows, and the returned warning says so). Rows written before
// tracking was enabled have no time either.
func CommitTimes(ctx context.Context, pools cluster.Pools, d *report.Diff, hasFallback bool) (map[int]map[string]time.Time, []string, error) {
	out := map[int]map[string]time.Time{}
	var warnings []string
	for _, p := range pools {
		on := false
		if err := p.QueryRow(ctx, commitTSSettingSQL).Scan(&on); err != nil {
			return nil, nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read track_commit_timestamp: %w", err)}
		}
		if !on {
			if !hasFallback {
				return nil, nil, fault.Input("latest-commit-wins needs track_commit_timestamp = on, and it is off on node %s: "+
					"turn it on (it records commits from then on), or give the plan a fallback (take NODE or skip)", p.Node.Name)
			}
			warnings = append(warnings, fmt.Sprintf("track_commit_timestamp is off on node %s: the plan's fallback decides its rows", p.Node.Name))
			continue
		}
		if err := readCommitTimes(ctx, p, d, out); err != nil {
			return nil, nil, err
		}
	}
	return out, warnings, nil
}

func readCommitTimes(ctx context.Context, p *cluster.Pool, d *report.Diff, out map[int]map[string]time.Time) error {
	node := p.Node.Name
	rows := make([]int, len(d.Rows))
	for i := range rows {
		rows[i] = i
	}
	var ts *time.Time
	err := scanKeys(ctx, p, d, rows, "pg_catalog.pg_xact_commit_timestamp("+aliasT+".xmin)", &ts, func(i int) error {
		if ts == nil {
			return nil
		}
		if out[i] == nil {
			out[i] = map[string]time.Time{}
		}
		out[i][node] = *ts
		return nil
	})
	if err != nil {
		return &cluster.NodeError{Node: node, Err: fmt.Errorf("read commit timestamps: %w", err)}
	}
	return nil
}

// KeysOutsideWhere reads, for a diff taken with --where, which nodes lacking a row in the diff
// do hold its key: the row is outside the filter there (on that node or in its version), so its
// absence from the diff is not an absence from the table. It returns diff row index -> nodes.
func KeysOutsideWhere(ctx context.Context, pools cluster.Pools, d *report.Diff) (map[int]map[string]bool, error) {
	out := map[int]map[string]bool{}
	for _, p := range pools {
		node := p.Node.Name
		if !slices.Contains(d.Nodes, node) {
			continue
		}
		var rows []int
		for i := range d.Rows {
			if d.Rows[i].Values[node] == nil {
				rows = append(rows, i)
			}
		}
		if len(rows) == 0 {
			continue
		}
		err := scanKeys(ctx, p, d, rows, "true", nil, func(i int) error {
			if out[i] == nil {
				out[i] = map[string]bool{}
			}
			out[i][node] = true
			return nil
		})
		if err != nil {
			return nil, &cluster.NodeError{Node: node, Err: fmt.Errorf("read keys outside the --where filter: %w", err)}
		}
	}
	return out, nil
}

// scanKeys looks up the keys of the given diff rows in the node's table (all of it: no filter)
// and calls found with the diff row index of every key the node holds, after scanning into dest
// (nil: ignored) the expression what, evaluated on the node's row (the table is aliased aliasT).
func scanKeys(ctx context.Context, p *cluster.Pool, d *report.Diff, which []int, what string, dest any, found func(int) error) error {
	node := p.Node.Name
	t, err := catalog.Load(ctx, p, d.Table.Schema, d.Table.Name)
	if errors.Is(err, catalog.ErrTableMissing) {
		return fault.Input("table %s does not exist on node %s", d.Table, node)
	}
	if err != nil {
		return err
	}
	key := make([]catalog.Column, len(d.Key))
	for i, k := range d.Key {
		c, ok := t.Column(k)
		if !ok {
			return fault.Input("key column %q of %s is gone on node %s", k, t.Ident(), node)
		}
		key[i] = c
	}
	args := make([]any, len(key))
	unnest := make([]string, len(key))
	names := make([]string, len(key))
	for i, k := range key {
		vals := make([]*string, 0, len(which))
		for _, r := range which {
			v, _ := d.Rows[r].Key.Get(k.Name)
			if s, ok := encode.Text(v); ok {
				vals = append(vals, &s)
			} else {
				vals = append(vals, nil)
			}
		}
		args[i] = vals
		unnest[i] = encode.FromTextArray(fmt.Sprintf("$%d", i+1), k)
		names[i] = fmt.Sprintf("k%d", i+1)
	}
	kref := make([]string, len(key))
	for i := range key {
		kref[i] = "pgparity_k." + names[i]
	}
	tref := make([]string, len(key))
	for i, k := range key {
		tref[i] = encode.ColumnRef(aliasT, k.Name)
	}
	sql := "SELECT pgparity_k.ord, " + what + " FROM " + t.From() + " AS " + aliasT +
		" JOIN unnest(" + strings.Join(unnest, ", ") + ") WITH ORDINALITY AS pgparity_k(" + strings.Join(names, ", ") + ", ord) ON (" +
		strings.Join(tref, ", ") + ") = (" + strings.Join(kref, ", ") + ")"
	rows, err := p.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		if err := rows.Scan(&ord, dest); err != nil {
			return err
		}
		if ord < 1 || ord > int64(len(which)) {
			return fmt.Errorf("unexpected key number %d", ord)
		}
		if err := found(which[ord-1]); err != nil {
			return err
		}
	}
	return rows.Err()
}
