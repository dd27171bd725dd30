package job

import (
	"context"
	"io"
	"iter"
	"strings"

	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/repair"
	"github.com/pgparity/pgparity/internal/report"
)

// historyOptions are the options a table-repair run records.
func (o *TableRepair) historyOptions() map[string]any {
	m := map[string]any{"diff_file": absPath(o.DiffFile)}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("source_of_truth", o.Source, o.Source != "")
	set("bidirectional", true, o.Bidirectional)
	set("fix_nulls", true, o.FixNulls)
	set("plan", absPath(o.PlanFile), o.PlanFile != "")
	set("insert_only", true, o.InsertOnly)
	set("upsert_only", true, o.UpsertOnly)
	set("dry_run", true, o.DryRun)
	set("fire_triggers", true, o.FireTriggers)
	set("no_stale_guard", true, o.NoStaleGuard)
	set("origin", o.Origin, o.Origin != "")
	set("preserve_origin", true, o.PreserveOrigin)
	return m
}

// recordRepair records a repair's outcome in its run and, when some node committed, the keys it
// touched (none when diffFile is "": an undo): the diff file's keys (not the transient ones), less those its result lists as skipped
// stale, held back, in conflict or still differing (the result lists the first repair.ListLimit
// of each; past that a key is counted as touched).
func recordRepair(ctx context.Context, rec *Recorder, diffFile, table string, res *repair.Result, err error) {
	if diffFile != "" && res != nil && !res.DryRun && len(res.Committed()) > 0 {
		recordTouched(ctx, rec, diffFile, table, res)
	}
	var hr history.Result
	if res != nil {
		hr.Status = history.Status(res.Status)
		if res.Status == repair.StatusFailed && err == nil && res.Error != "" {
			hr.Error = res.Error
		}
	}
	rec.Finish(ctx, hr, err)
}

// recordTouched streams the keys a repair touched into its run.
func recordTouched(ctx context.Context, rec *Recorder, diffFile, table string, res *repair.Result) {
	if rec.store == nil {
		return
	}
	err := diffFileKeys(diffFile, func(d *report.Diff, keys iter.Seq[history.Key]) {
		untouched := untouchedKeys(d, res)
		rec.Repaired(ctx, table, func(yield func(history.Key) bool) {
			for k := range keys {
				if !untouched[strings.Join(k, "\x00")] && !yield(k) {
					return
				}
			}
		})
	})
	if err != nil {
		rec.fail("repaired keys not all recorded", err)
	}
}

// diffFileKeys reads a diff file's keys (not the transient ones) as a stream handed to use, and
// returns the error that ended the stream early, if any.
func diffFileKeys(path string, use func(d *report.Diff, keys iter.Seq[history.Key])) error {
	r, err := report.OpenDiff(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var readErr error
	use(r.Diff, func(yield func(history.Key) bool) {
		for {
			e, err := r.Next()
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
			if !e.Transient && !yield(HistoryKey(e)) {
				return
			}
		}
	})
	return readErr
}

// untouchedKeys returns the keys (history keys joined by NUL) a repair's result lists as not
// repaired.
func untouchedKeys(d *report.Diff, res *repair.Result) map[string]bool {
	out := map[string]bool{}
	add := func(k report.Record) {
		texts := make([]string, 0, len(k))
		for _, f := range k {
			t, _ := encode.Text(f.Value)
			texts = append(texts, t)
		}
		if len(d.Key) == 0 && len(texts) == 1 {
			texts[0] = "row_hash:" + texts[0]
		}
		out[strings.Join(texts, "\x00")] = true
	}
	for _, h := range res.Held {
		add(h.Key)
	}
	for _, c := range res.Conflicts {
		add(c.Key)
	}
	for _, n := range res.Nodes {
		for _, s := range n.Stale {
			add(s.Key)
		}
	}
	if res.Verify != nil {
		for _, k := range res.Verify.Keys {
			add(k)
		}
	}
	return out
}
