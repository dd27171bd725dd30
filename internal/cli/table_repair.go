package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/repair"
	"github.com/pgparity/pgparity/internal/report"
)

func init() { commands = append(commands, newTableRepairCmd) }

type tableRepairOptions struct {
	diffFile     string
	source       string
	insertOnly   bool
	upsertOnly   bool
	bidirect     bool
	fixNulls     bool
	plan         string
	dryRun       bool
	fireTriggers bool
	origin       string
	noStaleGuard bool
	report       string
	undoFile     string
	undo         string
	quiet        bool
	json         bool
}

func newTableRepairCmd(g *globals) *cobra.Command {
	o := &tableRepairOptions{}
	c := &cobra.Command{
		Use:   "table-repair --diff-file F [CLUSTER] [SCHEMA.TABLE]",
		Short: "Converge the nodes of a diff file: one guarded transaction per node, with undo and verification",
		Long: `table-repair changes, on each node, the rows of a diff file's keys so that the nodes agree. Each node
changes in one transaction; a row is changed only while it still holds what the diff recorded
(stale guard); the previous version of every changed row is written to an undo file before any
node commits; the nodes commit only if every node got that far. Afterwards every key of the diff
is re-read on every node. See docs/repair.md and docs/repair-plans.md.

Modes (choose one): --source-of-truth NODE (optionally --insert-only or --upsert-only),
--bidirectional, --fix-nulls, --plan FILE. --undo FILE restores what an earlier repair changed.

Exit codes: 0 repaired and the keys agree (or a dry run), 1 committed but keys still differ
(stale rows, conflicts, held back), 2 usage or input error (nothing changed), 3 runtime failure
(the report says which nodes committed).`,
		Args: argsRange(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTableRepair(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.diffFile, "diff-file", "", "diff file written by table-diff or table-rerun")
	f.StringVar(&o.source, "source-of-truth", "", "make every other node's rows equal to this node's (insert, update, delete)")
	f.BoolVar(&o.insertOnly, "insert-only", false, "only insert rows missing on a node; never update or delete")
	f.BoolVar(&o.upsertOnly, "upsert-only", false, "insert and update; never delete")
	f.BoolVar(&o.bidirect, "bidirectional", false, "insert every row where it is missing when the nodes having it agree; report conflicts")
	f.BoolVar(&o.fixNulls, "fix-nulls", false, "fill NULL columns from the peers that have a value; report conflicts")
	f.StringVar(&o.plan, "plan", "", "repair plan (YAML, see docs/repair-plans.md)")
	f.BoolVar(&o.dryRun, "dry-run", false, "report exactly what would change per node; change nothing")
	f.BoolVar(&o.fireTriggers, "fire-triggers", false, "keep triggers and foreign-key checks on (do not set session_replication_role = replica)")
	f.StringVar(&o.origin, "origin", "", "run the repair under this replication origin (subscriptions with origin = none then skip it)")
	f.BoolVar(&o.noStaleGuard, "no-stale-guard", false, "also overwrite rows that changed since the diff")
	f.StringVar(&o.report, "report", "", "repair report (JSON) to write (default: <schema>_<table>_repair_<UTC time>.json next to the diff file)")
	f.StringVar(&o.undoFile, "undo-file", "", "undo file to write (default: <schema>_<table>_undo_<UTC time>.jsonl next to the report)")
	f.StringVar(&o.undo, "undo", "", "restore the rows recorded in this undo file instead of repairing")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the report as JSON on stdout")
	return c
}

// modes turns the mode flags into repair options; conflicting flags are input errors.
func (o *tableRepairOptions) modes() (repair.Options, error) {
	var chosen []string
	var ro repair.Options
	if o.source != "" {
		chosen = append(chosen, "--source-of-truth")
		ro.Mode, ro.Source = repair.ModeSource, o.source
	}
	if o.bidirect {
		chosen = append(chosen, "--bidirectional")
		ro.Mode = repair.ModeBidirectional
	}
	if o.fixNulls {
		chosen = append(chosen, "--fix-nulls")
		ro.Mode = repair.ModeFixNulls
	}
	if o.plan != "" {
		chosen = append(chosen, "--plan")
		ro.Mode = repair.ModePlan
	}
	switch {
	case len(chosen) == 0:
		return ro, fault.Input("choose a repair mode: --source-of-truth NODE, --bidirectional, --fix-nulls or --plan FILE")
	case len(chosen) > 1:
		return ro, fault.Input("conflicting modes %s: choose one", strings.Join(chosen, " and "))
	case o.insertOnly && o.upsertOnly:
		return ro, fault.Input("conflicting flags --insert-only and --upsert-only: choose one")
	case (o.insertOnly || o.upsertOnly) && ro.Mode != repair.ModeSource && ro.Mode != repair.ModePlan:
		return ro, fault.Input("--insert-only and --upsert-only go with --source-of-truth or --plan, not %s", chosen[0])
	}
	ro.InsertOnly, ro.UpsertOnly = o.insertOnly, o.upsertOnly
	if o.plan != "" {
		r, err := repair.ReadRules(o.plan)
		if err != nil {
			return ro, err
		}
		ro.Rules = r
	}
	return ro, nil
}

func runTableRepair(cmd *cobra.Command, g *globals, o *tableRepairOptions, args []string) error {
	if o.undo != "" {
		return runTableUndo(cmd, g, o, args)
	}
	if o.diffFile == "" {
		return fault.Input("--diff-file is required (or --undo FILE)")
	}
	ro, err := o.modes()
	if err != nil {
		return err
	}
	d, err := report.Read(o.diffFile)
	if err != nil {
		return err
	}
	clusterName, err := checkTarget(d, o.diffFile, args)
	if err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	reportPath, undoPath, err := o.paths(d.Table, stamp)
	if err != nil {
		return err
	}
	e, err := g.env()
	if err != nil {
		return err
	}
	_, pools, err := e.connect(cmd.Context(), clusterName, d.Nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	res, err := repair.Repair(cmd.Context(), pools, d, ro, o.applyOptions(undoPath), "pgparity "+g.version)
	return o.finish(cmd, res, err, reportPath)
}

func (o *tableRepairOptions) applyOptions(undoPath string) repair.ApplyOptions {
	return repair.ApplyOptions{DryRun: o.dryRun, NoStaleGuard: o.noStaleGuard, FireTriggers: o.fireTriggers,
		Origin: o.origin, UndoPath: undoPath, DiffFile: o.diffFile}
}

// checkTarget checks the optional CLUSTER and SCHEMA.TABLE arguments against the diff file and
// returns the cluster to use. One argument is a table when it contains a dot, else a cluster.
func checkTarget(d *report.Diff, file string, args []string) (string, error) {
	clusterArg, tableArg := "", ""
	switch {
	case len(args) == 2:
		clusterArg, tableArg = args[0], args[1]
	case len(args) == 1 && strings.Contains(args[0], "."):
		tableArg = args[0]
	case len(args) == 1:
		clusterArg = args[0]
	}
	if clusterArg != "" && d.Cluster != "" && clusterArg != d.Cluster {
		return "", fault.Input("diff file %s is for cluster %q, not %q", file, d.Cluster, clusterArg)
	}
	if tableArg != "" {
		schema, name, err := catalog.ParseName(tableArg)
		if err != nil {
			return "", err
		}
		if schema != d.Table.Schema || name != d.Table.Name {
			return "", fault.Input("diff file %s is for table %s, not %s", file, d.Table, report.TableRef{Schema: schema, Name: name})
		}
	}
	if clusterArg == "" {
		clusterArg = d.Cluster
	}
	return clusterArg, nil
}

// paths returns the report and undo file paths, checking that both can be written.
func (o *tableRepairOptions) paths(t report.TableRef, stamp string) (string, string, error) {
	base := o.diffFile
	if base == "" {
		base = o.undo
	}
	clean := strings.NewReplacer("/", "_", "\\", "_", " ", "_", "\x00", "_")
	name := clean.Replace(t.Schema) + "_" + clean.Replace(t.Name)
	reportPath := o.report
	if reportPath == "" {
		reportPath = filepath.Join(filepath.Dir(base), name+"_repair_"+stamp+".json")
	}
	undoPath := o.undoFile
	if undoPath == "" {
		undoPath = filepath.Join(filepath.Dir(reportPath), name+"_undo_"+stamp+".jsonl")
	}
	if err := checkWritable(reportPath); err != nil {
		return "", "", err
	}
	if err := checkWritable(undoPath); err != nil {
		return "", "", err
	}
	if o.dryRun {
		undoPath = ""
	}
	return reportPath, undoPath, nil
}

// finish writes the report, prints it and passes the repair's error on. Input errors are found
// before anything changes; they get no report.
func (o *tableRepairOptions) finish(cmd *cobra.Command, res *repair.Result, err error, reportPath string) error {
	if res == nil || fault.IsInput(err) {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "pgparity: warning: "+w)
	}
	if werr := res.WriteFile(reportPath); werr != nil && err == nil {
		err = werr
	}
	out := cmd.OutOrStdout()
	switch {
	case o.json:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil && err == nil {
			err = jerr
		}
	case !o.quiet:
		if perr := res.WriteSummary(out); perr != nil && err == nil {
			err = perr
		}
		fmt.Fprintf(out, "report: %s\n", reportPath)
	}
	return err
}

// runTableUndo restores the rows of an undo file.
func runTableUndo(cmd *cobra.Command, g *globals, o *tableRepairOptions, args []string) error {
	if o.diffFile != "" || o.source != "" || o.bidirect || o.fixNulls || o.plan != "" || o.insertOnly || o.upsertOnly || o.noStaleGuard {
		return fault.Input("--undo restores an undo file with the stale guard on; it takes no --diff-file, mode flags or --no-stale-guard")
	}
	u, err := repair.ReadUndo(o.undo)
	if err != nil {
		return err
	}
	name := u.Header.Cluster
	if len(args) > 1 {
		return fault.Input("--undo takes at most a CLUSTER argument")
	}
	if len(args) == 1 {
		if name != "" && args[0] != name {
			return fault.Input("undo file %s is for cluster %q, not %q", o.undo, name, args[0])
		}
		name = args[0]
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	reportPath, undoPath, err := o.paths(u.Header.Table, stamp)
	if err != nil {
		return err
	}
	e, err := g.env()
	if err != nil {
		return err
	}
	_, pools, err := e.connect(cmd.Context(), name, u.Header.Nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	ao := o.applyOptions(undoPath)
	ao.DiffFile = ""
	res, err := repair.Undo(cmd.Context(), pools, u, ao)
	return o.finish(cmd, res, err, reportPath)
}
