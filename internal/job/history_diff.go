package job

import (
	"context"
	"iter"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
)

// recordDiff records the outcome of one table's comparison in its run, resolving the table's
// divergences not seen when it covered the whole table.
func recordDiff(ctx context.Context, rec *Recorder, table string, res *DiffResult, clusterNodes int, err error) {
	var d *report.Diff
	var file string
	if res != nil {
		d, file = res.Diff, res.DiffFile
	}
	full := err == nil && FullCoverage(d, clusterNodes)
	rec.Resolve(ctx, table, full)
	rec.Finish(ctx, DiffHistoryResult(d, file, full), err)
}

// historyOptions are the options a table-diff run records.
func (o *TableDiff) historyOptions(s cluster.Settings) map[string]any {
	m := map[string]any{"block_size": s.BlockSize, "concurrency": s.Concurrency, "max_diff_rows": s.MaxDiffRows}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("nodes", o.Nodes, len(o.Nodes) > 0)
	set("where", o.Where, o.Where != "")
	set("columns", o.Columns, len(o.Columns) > 0)
	set("exclude_columns", o.ExcludeColumns, len(o.ExcludeColumns) > 0)
	set("recheck", o.Recheck.String(), o.Recheck > 0)
	set("until", o.Until, o.Until != "")
	set("strict", true, o.Strict)
	set("require_rows", true, o.RequireRows)
	set("html", true, o.HTML)
	return m
}

// recordRerun records a rerun's outcome; when it re-read every key of the old diff file on every
// node of the cluster, by every column, the keys it found equal are resolved.
func recordRerun(ctx context.Context, rec *Recorder, oldFile, table string, res *DiffResult, clusterNodes int, err error) {
	var d *report.Diff
	var file string
	if res != nil {
		d, file = res.Diff, res.DiffFile
	}
	if err == nil && d != nil && d.Summary.Status != report.StatusPartial && len(d.Options.Columns) == 0 &&
		len(d.Options.ExcludeColumns) == 0 && len(d.Nodes) >= clusterNodes {
		if kerr := diffFileKeys(oldFile, func(_ *report.Diff, keys iter.Seq[history.Key]) { rec.ResolveKeys(ctx, table, keys) }); kerr != nil {
			rec.fail("divergences not resolved", kerr)
		}
	}
	rec.Finish(ctx, DiffHistoryResult(d, file, false), err)
}
