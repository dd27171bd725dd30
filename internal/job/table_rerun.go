package job

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// TableRerun says which diff file to re-read and where the new one goes.
type TableRerun struct {
	DiffFile string
	Cluster  string // "" = the diff file's cluster
	Out      string // "" = <schema>_<table>_rerun_<time>.json next to DiffFile
	HTML     bool
	Tool     string
}

// RunTableRerun re-reads the keys of a diff file, streaming it, and writes a new diff file with
// the keys that still differ.
func RunTableRerun(ctx context.Context, env *Env, o TableRerun) (*DiffResult, error) {
	if o.DiffFile == "" {
		return nil, fault.Input("--diff-file is required")
	}
	r, err := report.OpenDiff(o.DiffFile)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	old := r.Diff
	name := old.Cluster
	if o.Cluster != "" {
		if old.Cluster != "" && o.Cluster != old.Cluster {
			return nil, fault.Input("diff file %s is for cluster %q, not %q", o.DiffFile, old.Cluster, o.Cluster)
		}
		name = o.Cluster
	}
	out := o.Out
	if out == "" {
		stamp := *old
		stamp.StartedAt = time.Now().UTC()
		out = filepath.Join(filepath.Dir(o.DiffFile), strings.Replace(report.DefaultName(&stamp), "_diff_", "_rerun_", 1))
	}
	if err := CheckWritable(out); err != nil {
		return nil, err
	}
	cl, err := env.Cluster(name)
	if err != nil {
		return nil, err
	}
	table := old.Table.String()
	rec := env.StartRun(ctx, RunInfo{Command: "table-rerun", Cluster: cl.Name, Tables: []string{table},
		Options: map[string]any{"diff_file": absPath(o.DiffFile)}})
	hist := rec.Divergences(ctx, table)
	res, err := func() (*DiffResult, error) {
		pools, err := env.connectNodes(ctx, cl, old.Nodes)
		if err != nil {
			return nil, err
		}
		defer pools.Close()
		sink := &DiffOutput{Path: out, HTML: o.HTML}
		defer sink.Abort()
		if _, err := diff.Rerun(ctx, pools, r, o.Tool, report.Tee(sink, hist)); err != nil {
			return nil, err
		}
		return sink.Result()
	}()
	hist.Close()
	recordRerun(ctx, rec, o.DiffFile, table, res, len(cl.Nodes), err)
	return res, err
}
