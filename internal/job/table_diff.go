package job

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// TableDiff says what table-diff compares and where its outputs go.
type TableDiff struct {
	Cluster        string // "" = default_cluster
	Table          string // SCHEMA.TABLE as the user wrote it
	Nodes          []string
	Out            string // diff file; "" = DefaultName in output_dir
	HTML           bool   // also write the HTML report next to the diff file
	Where          string
	Columns        []string
	ExcludeColumns []string
	Recheck        time.Duration
	Until          string // --until: a timestamp PostgreSQL-style or RFC 3339 ("" = none)
	RequireRows    bool
	Strict         bool
	Tool           string
	Progress       diff.Progress
}

// DiffResult is what a comparison left behind: the finished header and summary (no rows), the
// files written, and the first differing keys for a terminal summary.
type DiffResult struct {
	Diff     *report.Diff
	DiffFile string
	HTMLFile string
	Samples  []report.Entry
}

// SampleKeys is how many differing keys a result keeps for the terminal summary.
const SampleKeys = 20

// RunTableDiff runs table-diff: the diff file is streamed as keys are found, the HTML report is
// written from it afterwards.
func RunTableDiff(ctx context.Context, env *Env, o TableDiff) (*DiffResult, error) {
	if o.Recheck < 0 {
		return nil, fault.Input("--recheck must not be negative")
	}
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return nil, err
	}
	until, err := ParseUntil(o.Until)
	if err != nil {
		return nil, err
	}
	s := env.Settings
	if o.Out != "" {
		if err := CheckWritable(o.Out); err != nil {
			return nil, err
		}
	} else if err := CheckWritable(filepath.Join(s.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	name := report.TableRef{Schema: schema, Name: table}.String()
	rec := env.StartRun(ctx, RunInfo{Command: "table-diff", Cluster: cl.Name, Tables: []string{name}, Options: o.historyOptions(s)})
	hist := rec.Divergences(ctx, name)
	res, err := func() (*DiffResult, error) {
		pools, err := env.connectNodes(ctx, cl, o.Nodes)
		if err != nil {
			return nil, err
		}
		defer pools.Close()
		out := &DiffOutput{Path: o.Out, Dir: s.OutputDir, HTML: o.HTML}
		defer out.Abort()
		_, err = diff.Run(ctx, pools, diff.Options{
			Cluster: cl.Name, Schema: schema, Table: table,
			BlockSize: s.BlockSize, Concurrency: s.Concurrency, Where: o.Where,
			Columns: o.Columns, ExcludeColumns: o.ExcludeColumns, MaxDiffRows: s.MaxDiffRows,
			Strict: o.Strict, Recheck: o.Recheck, Tool: o.Tool, Progress: o.Progress,
			Until: until, RequireRows: o.RequireRows,
		}, report.Tee(out, hist))
		if err != nil {
			return nil, err
		}
		return out.Result()
	}()
	hist.Close()
	recordDiff(ctx, rec, name, res, len(cl.Nodes), err)
	return res, err
}

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

// DiffOutput is the sink of a comparison that writes a diff file (named when the header is
// known: Path, or DefaultName in Dir), keeps sample keys, and writes the HTML report from the
// diff file once it is complete.
type DiffOutput struct {
	Path string
	Dir  string
	HTML bool

	file    *report.FileSink
	samples report.Samples
	final   *report.Diff
	html    string
}

// Begin implements report.Sink.
func (o *DiffOutput) Begin(d *report.Diff) error {
	if o.Path == "" {
		o.Path = filepath.Join(o.Dir, report.DefaultName(d))
	}
	f, err := report.CreateFile(o.Path)
	if err != nil {
		return err
	}
	o.file, o.samples = f, report.Samples{Max: SampleKeys}
	return f.Begin(d)
}

// Entry implements report.Sink.
func (o *DiffOutput) Entry(e *report.Entry) error {
	if err := o.file.Entry(e); err != nil {
		return err
	}
	return o.samples.Entry(e)
}

// End implements report.Sink: the diff file is complete under its name, then the HTML report is
// written from it.
func (o *DiffOutput) End(d *report.Diff) error {
	if err := o.file.End(d); err != nil {
		return err
	}
	o.final = d
	if o.HTML {
		o.html = HTMLPath(o.Path)
		if err := report.WriteHTMLFromFile(o.html, o.Path); err != nil {
			return err
		}
	}
	return nil
}

// Abort removes a diff file that was not completed.
func (o *DiffOutput) Abort() {
	if o.file != nil {
		o.file.Abort()
	}
}

// Result returns the result of a completed comparison.
func (o *DiffOutput) Result() (*DiffResult, error) {
	return &DiffResult{Diff: o.final, DiffFile: o.Path, HTMLFile: o.html, Samples: o.samples.Entries}, nil
}

// HTMLPath is the HTML report's path next to a diff file: its name without .json (and .gz/.zst)
// plus .html.
func HTMLPath(diffFile string) string {
	p := strings.TrimSuffix(strings.TrimSuffix(diffFile, ".gz"), ".zst")
	return strings.TrimSuffix(p, filepath.Ext(p)) + ".html"
}

// ParseUntil reads a --until time: RFC 3339, or "YYYY-MM-DD[ HH:MM[:SS[.frac]]][ zone]" with UTC
// when no zone is given. "" is no time.
func ParseUntil(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999 Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fault.Input("--until %q is not a time: use RFC 3339 (2026-12-01T10:00:00Z) or \"2026-12-01 10:00:00+01\" (UTC when no zone is given)", s)
}
