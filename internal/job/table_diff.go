package job

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
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
