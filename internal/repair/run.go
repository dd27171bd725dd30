package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
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
	p, err := NewPlan(d, o)
	if err != nil {
		return fail(nil, err)
	}
	slog.Debug("repair planned", "changes", p.Total())
	res, err := Apply(ctx, pools, p, ao)
	res.Warnings = append(warnings, res.Warnings...)
	slog.Debug("repair applied", "seconds", res.DurationSeconds)
	if err != nil {
		return fail(res, err)
	}
	if ao.DryRun {
		return res, nil
	}
	start := time.Now()
	nd, err := diff.Rerun(ctx, pools, d, tool)
	slog.Debug("repair verified", "seconds", time.Since(start).Seconds())
	if err != nil {
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
// guard: a row is restored only while it still holds what the repair wrote.
func Undo(ctx context.Context, pools cluster.Pools, u *UndoFile, ao ApplyOptions) (*Result, error) {
	p, err := u.Plan()
	if err != nil {
		return nil, err
	}
	ao.NoStaleGuard = false
	res, err := Apply(ctx, pools, p, ao)
	if err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
	}
	return res, err
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
	t, err := catalog.Load(ctx, p, d.Table.Schema, d.Table.Name)
	if errors.Is(err, catalog.ErrTableMissing) {
		return fault.Input("table %s does not exist on node %s", d.Table, node)
	}
	if err != nil {
		return &cluster.NodeError{Node: node, Err: err}
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
		vals := []string{}
		for _, r := range d.Rows {
			v, _ := r.Key.Get(k.Name)
			s, _ := encode.Text(v)
			vals = append(vals, s)
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
	sql := "SELECT pgparity_k.ord, pg_catalog.pg_xact_commit_timestamp(" + aliasT + ".xmin) FROM " + t.From() + " AS " + aliasT +
		" JOIN unnest(" + strings.Join(unnest, ", ") + ") WITH ORDINALITY AS pgparity_k(" + strings.Join(names, ", ") + ", ord) ON (" +
		strings.Join(tref, ", ") + ") = (" + strings.Join(kref, ", ") + ")"
	rows, err := p.Query(ctx, sql, args...)
	if err != nil {
		return &cluster.NodeError{Node: node, Err: fmt.Errorf("read commit timestamps: %w", err)}
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		var ts *time.Time
		if err := rows.Scan(&ord, &ts); err != nil {
			return &cluster.NodeError{Node: node, Err: fmt.Errorf("read commit timestamps: %w", err)}
		}
		if ts == nil {
			continue
		}
		i := int(ord - 1)
		if out[i] == nil {
			out[i] = map[string]time.Time{}
		}
		out[i][node] = *ts
	}
	if err := rows.Err(); err != nil {
		return &cluster.NodeError{Node: node, Err: fmt.Errorf("read commit timestamps: %w", err)}
	}
	return nil
}
