package job

import (
	"context"
	"fmt"
	"strings"

	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/schema"
)

// recordTables wraps the per-table sinks of a multi-table comparison so that each table's
// differing keys are recorded in the run, and once a table's comparison ends its divergences not
// seen are resolved when it compared the whole table on every node (clusterNodes of them).
func recordTables(ctx context.Context, rec *Recorder, next func(report.TableRef) (schema.TableSink, error),
	clusterNodes int) func(report.TableRef) (schema.TableSink, error) {
	if rec.store == nil || next == nil {
		return next
	}
	return func(t report.TableRef) (schema.TableSink, error) {
		s, err := next(t)
		if err != nil {
			return nil, err
		}
		name := t.String()
		rec.AddTable(name)
		return &historyTable{TableSink: s, hist: rec.Divergences(ctx, name), done: func(d *report.Diff) {
			rec.Resolve(ctx, name, FullCoverage(d, clusterNodes))
		}}, nil
	}
}

// historyTable passes a table's comparison to its sink and records its differing keys.
type historyTable struct {
	schema.TableSink
	hist *DivergenceSink
	done func(d *report.Diff) // after the keys are recorded, when the comparison completed
}

func (h *historyTable) Begin(d *report.Diff) error {
	if err := h.TableSink.Begin(d); err != nil {
		return err
	}
	return h.hist.Begin(d)
}

func (h *historyTable) Entry(e *report.Entry) error {
	if err := h.TableSink.Entry(e); err != nil {
		return err
	}
	return h.hist.Entry(e)
}

func (h *historyTable) End(d *report.Diff) error {
	err := h.TableSink.End(d)
	h.hist.Close()
	if err == nil {
		h.done(d)
	}
	return err
}

func (h *historyTable) Abort() {
	h.TableSink.Abort()
	h.hist.Close()
}

// schemaHistoryResult is the history result of a schema-diff: failed when a table or another
// object could not be compared, else differ when anything differs (structure, data, sequences),
// else match; the differing keys and rows compared summed over its tables.
func schemaHistoryResult(rec *Recorder, res *schema.Result) history.Result {
	if res == nil {
		return history.Result{}
	}
	out := history.Result{Status: history.StatusMatch, RowsCompared: map[string]int64{}}
	for _, t := range res.Tables {
		rec.AddTable(report.TableRef{Schema: res.Schema, Name: t.Name}.String())
		out.DifferingKeys += int64(t.Data.DifferingRows)
		for n, c := range t.Data.RowsCompared {
			out.RowsCompared[n] += c
		}
	}
	failed, objects := res.Failed(), res.FailedObjects()
	switch {
	case len(failed) > 0 || len(objects) > 0:
		out.Status, out.ExitCode = history.StatusFailed, 3
		out.Error = fmt.Sprintf("failed: %s", strings.Join(append(failed, objects...), ", "))
	case res.Differs():
		out.Status = history.StatusDiffer
	}
	return out
}

// historyOptions are the options a schema-diff run records.
func (o *SchemaDiff) historyOptions(schemaName string) map[string]any {
	m := map[string]any{"schema": schemaName}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("nodes", o.Nodes, len(o.Nodes) > 0)
	set("ddl_only", true, o.DDLOnly)
	set("skip_tables", o.SkipTables, len(o.SkipTables) > 0)
	set("skip_file", absPath(o.SkipFile), o.SkipFile != "")
	set("fix_sequences", true, o.FixSequences)
	set("apply", true, o.Apply)
	return m
}
