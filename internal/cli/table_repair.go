package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
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
	sql          bool
	fireTriggers bool
	origin       string
	preserve     bool
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
	f.BoolVar(&o.sql, "sql", false, "with --dry-run: print the repair as plain SQL per node (BEGIN ... COMMIT) instead of applying it")
	f.BoolVar(&o.fireTriggers, "fire-triggers", false, "keep triggers and foreign-key checks on (do not set session_replication_role = replica)")
	f.StringVar(&o.origin, "origin", "", "run the repair under this replication origin (subscriptions with origin = none then skip it)")
	f.BoolVar(&o.preserve, "preserve-origin", false, "with --source-of-truth: commit each repaired row with the source row's replication origin and commit time (one transaction per origin and time, see docs/repair.md)")
	f.BoolVar(&o.noStaleGuard, "no-stale-guard", false, "also overwrite rows that changed since the diff")
	f.StringVar(&o.report, "report", "", "repair report (JSON) to write (default: <schema>_<table>_repair_<UTC time>.json next to the diff file)")
	f.StringVar(&o.undoFile, "undo-file", "", "undo file to write (default: <schema>_<table>_undo_<UTC time>.jsonl next to the report)")
	f.StringVar(&o.undo, "undo", "", "restore the rows recorded in this undo file instead of repairing")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the report as JSON on stdout")
	return c
}

func runTableRepair(cmd *cobra.Command, g *globals, o *tableRepairOptions, args []string) error {
	if o.sql && !o.dryRun {
		return fault.Input("--sql prints the repair instead of applying it: it needs --dry-run")
	}
	if o.undo != "" {
		if o.sql {
			return fault.Input("--sql prints a repair of a diff file; it does not go with --undo")
		}
		return runTableUndo(cmd, g, o, args)
	}
	clusterArg, tableArg := "", ""
	switch {
	case len(args) == 2:
		clusterArg, tableArg = args[0], args[1]
	case len(args) == 1 && strings.Contains(args[0], "."):
		tableArg = args[0]
	case len(args) == 1:
		clusterArg = args[0]
	}
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	jo := job.TableRepair{
		DiffFile: o.diffFile, Cluster: clusterArg, Table: tableArg,
		Source: o.source, InsertOnly: o.insertOnly, UpsertOnly: o.upsertOnly, Bidirectional: o.bidirect,
		FixNulls: o.fixNulls, PlanFile: o.plan,
		DryRun: o.dryRun, FireTriggers: o.fireTriggers, NoStaleGuard: o.noStaleGuard, Origin: o.origin,
		PreserveOrigin: o.preserve, ReportFile: o.report, UndoFile: o.undoFile, Tool: "pgparity " + g.version,
	}
	if o.sql {
		return job.WriteTableRepairSQL(cmd.Context(), e, jo, cmd.OutOrStdout())
	}
	res, err := job.RunTableRepair(cmd.Context(), e, jo)
	return o.print(cmd, res, err)
}

// runTableUndo restores the rows of an undo file.
func runTableUndo(cmd *cobra.Command, g *globals, o *tableRepairOptions, args []string) error {
	if o.diffFile != "" || o.source != "" || o.bidirect || o.fixNulls || o.plan != "" || o.insertOnly || o.upsertOnly || o.noStaleGuard || o.preserve {
		return fault.Input("--undo restores an undo file with the stale guard on; it takes no --diff-file, mode flags, --no-stale-guard or --preserve-origin")
	}
	if len(args) > 1 {
		return fault.Input("--undo takes at most a CLUSTER argument")
	}
	name := ""
	if len(args) == 1 {
		name = args[0]
	}
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	res, err := job.RunTableUndo(cmd.Context(), e, job.TableUndo{
		UndoFile: o.undo, Cluster: name, DryRun: o.dryRun, FireTriggers: o.fireTriggers, Origin: o.origin,
		ReportFile: o.report, NewUndoFile: o.undoFile,
	})
	return o.print(cmd, res, err)
}

// print prints a repair's warnings and its report (text, or JSON with --json) and passes the
// repair's error on. Input errors are found before anything changes; they have no report.
func (o *tableRepairOptions) print(cmd *cobra.Command, res *job.RepairResult, err error) error {
	if res == nil {
		return err
	}
	for _, w := range res.Result.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "pgparity: warning: "+w)
	}
	out := cmd.OutOrStdout()
	switch {
	case o.json:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res.Result); jerr != nil && err == nil {
			err = jerr
		}
	case !o.quiet:
		if perr := res.Result.WriteSummary(out); perr != nil && err == nil {
			err = perr
		}
		if res.ReportFile != "" {
			fmt.Fprintf(out, "report: %s\n", res.ReportFile)
		}
	}
	return err
}
