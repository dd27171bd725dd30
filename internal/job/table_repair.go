package job

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/repair"
	"github.com/pgparity/pgparity/internal/report"
)

// TableRepair says which diff file to repair, how, and where the report and the undo file go.
type TableRepair struct {
	DiffFile string
	Cluster  string // "" = the diff file's; else it must be the diff file's
	Table    string // "" = the diff file's; else SCHEMA.TABLE, and it must be the diff file's

	// The mode: exactly one of Source, Bidirectional, FixNulls, PlanFile.
	Source        string
	InsertOnly    bool
	UpsertOnly    bool
	Bidirectional bool
	FixNulls      bool
	PlanFile      string

	DryRun       bool
	FireTriggers bool
	NoStaleGuard bool
	Origin       string
	// PreserveOrigin commits the written rows with the source's replication origin and commit time.
	PreserveOrigin bool
	ReportFile     string // "" = <schema>_<table>_repair_<UTC time>.json next to the diff file
	UndoFile       string // "" = <schema>_<table>_undo_<UTC time>.jsonl next to the report
	BatchSize      int    // 0 = repair.DefaultBatchSize
	Tool           string
}

// TableUndo says which undo file to restore and where the new report and undo file go.
type TableUndo struct {
	UndoFile     string // the undo file of an earlier repair
	Cluster      string // "" = the undo file's; else it must be the undo file's
	DryRun       bool
	FireTriggers bool
	Origin       string
	ReportFile   string // "" = <schema>_<table>_repair_<UTC time>.json next to the undo file
	NewUndoFile  string // "" = <schema>_<table>_undo_<UTC time>.jsonl next to the report
	BatchSize    int
}

// RepairResult is what a repair (or an undo) did, and the report file written from it.
type RepairResult struct {
	Result     *repair.Result
	ReportFile string
}

// RunTableRepair repairs the keys of a diff file, reading it as a stream (twice: to repair, then
// to verify), and writes the repair report. Bad input (flags, diff file, plan file, a table that
// changed) is found before anything changes and returns no result; otherwise the result is
// returned, with the report written, also when the repair failed or keys still differ (the error
// then says so: fault.ErrDiffer, or a runtime error).
func RunTableRepair(ctx context.Context, env *Env, o TableRepair) (*RepairResult, error) {
	if o.DiffFile == "" {
		return nil, fault.Input("--diff-file is required (or --undo FILE)")
	}
	ro, err := o.options()
	if err != nil {
		return nil, err
	}
	r, err := report.OpenDiff(o.DiffFile)
	if err != nil {
		return nil, err
	}
	d := r.Diff
	r.Close()
	clusterName, err := o.target(d)
	if err != nil {
		return nil, err
	}
	reportPath, undoPath, err := repairPaths(o.DiffFile, d.Table, o.ReportFile, o.UndoFile, o.DryRun)
	if err != nil {
		return nil, err
	}
	cl, err := env.Cluster(clusterName)
	if err != nil {
		return nil, err
	}
	rec := env.StartRun(ctx, RunInfo{Command: "table-repair", Cluster: cl.Name, Tables: []string{d.Table.String()}, Options: o.historyOptions()})
	out, res, err := func() (*RepairResult, *repair.Result, error) {
		pools, err := env.connectNodes(ctx, cl, d.Nodes)
		if err != nil {
			return nil, nil, err
		}
		defer pools.Close()
		ao := repair.ApplyOptions{DryRun: o.DryRun, NoStaleGuard: o.NoStaleGuard, FireTriggers: o.FireTriggers,
			Origin: o.Origin, PreserveOrigin: o.PreserveOrigin, UndoPath: undoPath, DiffFile: o.DiffFile, BatchSize: o.BatchSize}
		res, err := repair.Repair(ctx, pools, repair.FromFile(o.DiffFile), ro, ao, o.Tool)
		out, err := written(res, err, reportPath)
		return out, res, err
	}()
	recordRepair(ctx, rec, o.DiffFile, d.Table.String(), res, err)
	return out, err
}

// WriteTableRepairSQL prints, instead of repairing, the SQL statements the repair of a diff file
// would run, per node (see repair.WriteSQL). It needs DryRun (it changes nothing) and writes no
// report and no undo file; asking for either is an input error.
func WriteTableRepairSQL(ctx context.Context, env *Env, o TableRepair, out io.Writer) error {
	switch {
	case !o.DryRun:
		return fault.Input("--sql prints the repair instead of applying it: it needs --dry-run")
	case o.ReportFile != "" || o.UndoFile != "":
		return fault.Input("--sql writes no report and no undo file: drop --report and --undo-file")
	case o.DiffFile == "":
		return fault.Input("--diff-file is required")
	case o.PreserveOrigin:
		return fault.Input("--sql prints one plain transaction per node; it does not go with --preserve-origin")
	}
	ro, err := o.options()
	if err != nil {
		return err
	}
	r, err := report.OpenDiff(o.DiffFile)
	if err != nil {
		return err
	}
	d := r.Diff
	r.Close()
	clusterName, err := o.target(d)
	if err != nil {
		return err
	}
	_, pools, err := env.Connect(ctx, clusterName, d.Nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	return repair.WriteSQL(ctx, pools, repair.FromFile(o.DiffFile), ro, o.BatchSize, out)
}

// RunTableUndo restores the rows an earlier repair changed, from its undo file (streamed), and
// writes the report of the undo; results and errors as RunTableRepair's.
func RunTableUndo(ctx context.Context, env *Env, o TableUndo) (*RepairResult, error) {
	h, err := repair.ReadUndoHeader(o.UndoFile)
	if err != nil {
		return nil, err
	}
	name := h.Cluster
	if o.Cluster != "" {
		if name != "" && o.Cluster != name {
			return nil, fault.Input("undo file %s is for cluster %q, not %q", o.UndoFile, name, o.Cluster)
		}
		name = o.Cluster
	}
	reportPath, undoPath, err := repairPaths(o.UndoFile, h.Table, o.ReportFile, o.NewUndoFile, o.DryRun)
	if err != nil {
		return nil, err
	}
	cl, err := env.Cluster(name)
	if err != nil {
		return nil, err
	}
	// An undo changes rows back: it is recorded as a run, but credited with no key.
	rec := env.StartRun(ctx, RunInfo{Command: "table-repair", Cluster: cl.Name, Tables: []string{h.Table.String()},
		Options: map[string]any{"undo": absPath(o.UndoFile), "dry_run": o.DryRun}})
	out, res, err := func() (*RepairResult, *repair.Result, error) {
		pools, err := env.connectNodes(ctx, cl, h.Nodes)
		if err != nil {
			return nil, nil, err
		}
		defer pools.Close()
		ao := repair.ApplyOptions{DryRun: o.DryRun, FireTriggers: o.FireTriggers, Origin: o.Origin, UndoPath: undoPath,
			BatchSize: o.BatchSize}
		res, err := repair.Undo(ctx, pools, o.UndoFile, ao)
		out, err := written(res, err, reportPath)
		return out, res, err
	}()
	recordRepair(ctx, rec, "", h.Table.String(), res, err)
	return out, err
}

// written writes the report of a repair that got past its input checks.
func written(res *repair.Result, err error, reportPath string) (*RepairResult, error) {
	if res == nil || fault.IsInput(err) {
		return nil, err
	}
	if werr := res.WriteFile(reportPath); werr != nil {
		if err == nil {
			err = werr
		}
		return &RepairResult{Result: res}, err
	}
	return &RepairResult{Result: res, ReportFile: reportPath}, err
}

// options turns the mode fields into repair options; conflicting choices are input errors.
func (o *TableRepair) options() (repair.Options, error) {
	var chosen []string
	var ro repair.Options
	if o.Source != "" {
		chosen = append(chosen, "--source-of-truth")
		ro.Mode, ro.Source = repair.ModeSource, o.Source
	}
	if o.Bidirectional {
		chosen = append(chosen, "--bidirectional")
		ro.Mode = repair.ModeBidirectional
	}
	if o.FixNulls {
		chosen = append(chosen, "--fix-nulls")
		ro.Mode = repair.ModeFixNulls
	}
	if o.PlanFile != "" {
		chosen = append(chosen, "--plan")
		ro.Mode = repair.ModePlan
	}
	switch {
	case len(chosen) == 0:
		return ro, fault.Input("choose a repair mode: --source-of-truth NODE, --bidirectional, --fix-nulls or --plan FILE")
	case len(chosen) > 1:
		return ro, fault.Input("conflicting modes %s: choose one", strings.Join(chosen, " and "))
	case o.InsertOnly && o.UpsertOnly:
		return ro, fault.Input("conflicting flags --insert-only and --upsert-only: choose one")
	case (o.InsertOnly || o.UpsertOnly) && ro.Mode != repair.ModeSource && ro.Mode != repair.ModePlan:
		return ro, fault.Input("--insert-only and --upsert-only go with --source-of-truth or --plan, not %s", chosen[0])
	case o.PreserveOrigin && ro.Mode != repair.ModeSource:
		return ro, fault.Input("--preserve-origin goes with --source-of-truth only, not %s: "+
			"in other modes a written row may be no single node's row or come from several nodes", chosen[0])
	}
	ro.InsertOnly, ro.UpsertOnly = o.InsertOnly, o.UpsertOnly
	if o.PlanFile != "" {
		r, err := repair.ReadRules(o.PlanFile)
		if err != nil {
			return ro, err
		}
		ro.Rules = r
	}
	return ro, nil
}

// target checks Cluster and Table against the diff file and returns the cluster to use.
func (o *TableRepair) target(d *report.Diff) (string, error) {
	if o.Cluster != "" && d.Cluster != "" && o.Cluster != d.Cluster {
		return "", fault.Input("diff file %s is for cluster %q, not %q", o.DiffFile, d.Cluster, o.Cluster)
	}
	if o.Table != "" {
		schema, name, err := catalog.ParseName(o.Table)
		if err != nil {
			return "", err
		}
		if schema != d.Table.Schema || name != d.Table.Name {
			return "", fault.Input("diff file %s is for table %s, not %s", o.DiffFile, d.Table, report.TableRef{Schema: schema, Name: name})
		}
	}
	if o.Cluster != "" {
		return o.Cluster, nil
	}
	return d.Cluster, nil
}

// repairPaths returns the report and undo file paths (the undo path is "" for a dry run),
// checking that both can be written. Defaults: the report next to base, the undo file next to
// the report, both named after the table and the time.
func repairPaths(base string, t report.TableRef, reportPath, undoPath string, dryRun bool) (string, string, error) {
	stamp := time.Now().UTC().Format("20060102T150405")
	clean := strings.NewReplacer("/", "_", "\\", "_", " ", "_", "\x00", "_")
	name := clean.Replace(t.Schema) + "_" + clean.Replace(t.Name)
	if reportPath == "" {
		reportPath = filepath.Join(filepath.Dir(base), name+"_repair_"+stamp+".json")
	}
	if undoPath == "" {
		undoPath = filepath.Join(filepath.Dir(reportPath), name+"_undo_"+stamp+".jsonl")
	}
	if err := CheckWritable(reportPath); err != nil {
		return "", "", err
	}
	if err := CheckWritable(undoPath); err != nil {
		return "", "", err
	}
	if dryRun {
		undoPath = ""
	}
	return reportPath, undoPath, nil
}
