package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/report"
)

// schemaDiffOptions are schema-diff's flags that a request may set (not --skip-file: a file on
// the server is not the client's to name).
type schemaDiffOptions struct {
	Nodes          []string  `json:"nodes"`
	DDLOnly        bool      `json:"ddl-only"`
	SkipTables     []string  `json:"skip-tables"`
	Concurrency    int       `json:"concurrency"`
	MaxConnections int       `json:"max-connections"`
	BlockSize      int       `json:"block-size"`
	MaxDiffRows    *int      `json:"max-diff-rows"`
	FixSequences   bool      `json:"fix-sequences"`
	Apply          bool      `json:"apply"`
	LockTimeout    *duration `json:"lock-timeout"`
}

func prepareSchemaDiff(env *job.Env, r *Request) (*prepared, error) {
	var o schemaDiffOptions
	if err := decodeOptions(r.Options, &o); err != nil {
		return nil, err
	}
	if r.Schema == "" {
		return nil, fault.Input("schema-diff needs a schema")
	}
	if o.Apply && !o.FixSequences {
		return nil, fault.Input("--apply needs --fix-sequences")
	}
	lock := 10 * time.Second // the command line's default
	if o.LockTimeout != nil {
		lock = o.LockTimeout.Duration
	}
	e, err := env.With(job.Overrides{Concurrency: o.Concurrency, MaxConnections: o.MaxConnections,
		BlockSize: o.BlockSize, MaxDiffRows: o.MaxDiffRows})
	if err != nil {
		return nil, err
	}
	name, nodes, err := nodesOf(e, r.Cluster, o.Nodes)
	if err != nil {
		return nil, err
	}
	p := &prepared{Cluster: name, Nodes: nodes}
	if o.Apply {
		p.Role = cluster.RoleAdmin // it writes sequences
	}
	p.Run = func(ctx context.Context, _ *job.Env, dir string) (*Outcome, error) {
		run := *e
		run.Settings.OutputDir = dir
		res, err := job.RunSchemaDiff(ctx, &run, job.SchemaDiff{
			Cluster: name, Schema: r.Schema, Nodes: o.Nodes, DDLOnly: o.DDLOnly, SkipTables: o.SkipTables,
			FixSequences: o.FixSequences, Apply: o.Apply, LockTimeout: lock, Tool: "pgparity serve",
		})
		if res == nil {
			return nil, err
		}
		out := &Outcome{Summary: res, Files: map[string]string{}}
		for table, path := range res.DiffFiles {
			out.Files["diff:"+table] = path
		}
		for _, t := range res.Tables {
			out.Tables = append(out.Tables, TableResult{Cluster: name, Table: res.Schema + "." + t.Name,
				Status: t.Data.Status, DifferingKeys: t.Data.DifferingRows, RowsCompared: t.Data.RowsCompared})
		}
		if err != nil {
			return out, err
		}
		if failed := append(res.Failed(), res.FailedObjects()...); len(failed) > 0 {
			return out, fmt.Errorf("%d object(s) failed: %s", len(failed), strings.Join(failed, ", "))
		}
		if res.Differs() {
			return out, fault.ErrDiffer
		}
		return out, nil
	}
	return p, nil
}

// tableRepairOptions are table-repair's flags that a request may set. The diff file must lie in
// the server's output_dir (a diff job's file); --plan, --report and --undo-file name files on
// the server and are not accepted.
type tableRepairOptions struct {
	SourceOfTruth  string `json:"source-of-truth"`
	InsertOnly     bool   `json:"insert-only"`
	UpsertOnly     bool   `json:"upsert-only"`
	Bidirectional  bool   `json:"bidirectional"`
	FixNulls       bool   `json:"fix-nulls"`
	DryRun         bool   `json:"dry-run"`
	FireTriggers   bool   `json:"fire-triggers"`
	Origin         string `json:"origin"`
	PreserveOrigin bool   `json:"preserve-origin"`
	NoStaleGuard   bool   `json:"no-stale-guard"`
}

func prepareTableRepair(env *job.Env, r *Request) (*prepared, error) {
	var o tableRepairOptions
	if err := decodeOptions(r.Options, &o); err != nil {
		return nil, err
	}
	if r.DiffFile == "" {
		return nil, fault.Input("table-repair needs diff_file")
	}
	path, err := insideDir(env.Settings.OutputDir, r.DiffFile)
	if err != nil {
		return nil, err
	}
	rd, err := report.OpenDiff(path)
	if err != nil {
		return nil, err
	}
	d := rd.Diff
	rd.Close()
	if r.Cluster != "" && r.Cluster != d.Cluster {
		return nil, fault.Input("diff file %s is of cluster %q, not %q", r.DiffFile, d.Cluster, r.Cluster)
	}
	run := func(ctx context.Context, e *job.Env, dir string) (*Outcome, error) {
		res, err := job.RunTableRepair(ctx, e, job.TableRepair{
			DiffFile: path, Cluster: d.Cluster, Table: r.Table,
			Source: o.SourceOfTruth, InsertOnly: o.InsertOnly, UpsertOnly: o.UpsertOnly,
			Bidirectional: o.Bidirectional, FixNulls: o.FixNulls, DryRun: o.DryRun, FireTriggers: o.FireTriggers,
			NoStaleGuard: o.NoStaleGuard, Origin: o.Origin, PreserveOrigin: o.PreserveOrigin,
			ReportFile: filepath.Join(dir, "repair.json"), UndoFile: filepath.Join(dir, "undo.jsonl"),
			Tool: "pgparity serve",
		})
		if res == nil {
			return nil, err
		}
		out := &Outcome{Summary: res.Result, Files: map[string]string{"report": res.ReportFile}}
		if p := filepath.Join(dir, "undo.jsonl"); fileExists(p) {
			out.Files["undo"] = p
		}
		return out, err
	}
	return &prepared{Cluster: d.Cluster, Nodes: d.Nodes, Run: run}, nil
}

// insideDir resolves name (relative to dir, or absolute) and requires it to lie inside dir.
func insideDir(dir, name string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(absDir, p)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(absDir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fault.Input("diff_file %s is not inside the server's output_dir", name)
	}
	return p, nil
}

// errSkipped is a scheduled run skipped because the previous run of its schedule still runs.
var errSkipped = errors.New("skipped: the previous run of this schedule is still running")

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
