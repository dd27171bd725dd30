package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/report"
)

func init() { commands = append(commands, newTableDiffCmd) }

type tableDiffOptions struct {
	nodes          []string
	blockSize      int
	concurrency    int
	maxConnections int
	out            string
	output         string
	where          string
	columns        []string
	excludeColumns []string
	maxDiffRows    int
	recheck        time.Duration
	until          string
	requireRows    bool
	strict         bool
	quiet          bool
	json           bool
}

func newTableDiffCmd(g *globals) *cobra.Command {
	o := &tableDiffOptions{}
	c := &cobra.Command{
		Use:   "table-diff [CLUSTER] SCHEMA.TABLE",
		Short: "Find every differing row of a table across the cluster's nodes",
		Long: `table-diff hashes key ranges of the table on every node at once (inside one snapshot per
node), drills into ranges whose checksums differ and fetches the full rows of differing keys only.
It always writes a diff file (JSON, see docs/diff-format.md); --output html adds a report.

Exit codes: 0 the nodes match, 1 differences found (or a partial run), 2 usage or input error,
3 runtime failure.`,
		Args: argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTableDiff(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.nodes, "nodes", nil, "nodes to compare, e.g. n1,n3 (default: all; at least 2)")
	f.IntVar(&o.blockSize, "block-size", 0, "rows per key range (default from config: 10000)")
	f.IntVar(&o.concurrency, "concurrency", 0, "ranges hashed at once per node (default from config: CPU cores)")
	f.IntVar(&o.maxConnections, "max-connections", 0, "connections per node (default from config)")
	f.StringVar(&o.out, "out", "", "diff file to write (default: <schema>_<table>_diff_<UTC time>.json in output_dir)")
	f.StringVar(&o.output, "output", "json", "json, or html to also write an HTML report next to the diff file")
	f.StringVar(&o.where, "where", "", "row filter applied identically on every node (a boolean SQL expression over the table's columns)")
	f.StringSliceVar(&o.columns, "columns", nil, "compare only these columns (the key is always compared)")
	f.StringSliceVar(&o.excludeColumns, "exclude-columns", nil, "do not compare these columns")
	f.IntVar(&o.maxDiffRows, "max-diff-rows", 0, "stop after this many differing keys and report status partial; 0 = no limit (default from config: 0)")
	f.DurationVar(&o.recheck, "recheck", 0, "after finding differences, wait this long and re-read them; keys that then agree are reported as transient")
	f.StringVar(&o.until, "until", "", "compare only keys last committed at or before this time on every node (needs track_commit_timestamp = on): ignores writes still arriving")
	f.BoolVar(&o.requireRows, "require-rows", false, "exit 2 when no node has a row to compare (e.g. a --where that selects nothing) instead of reporting a match")
	f.BoolVar(&o.strict, "strict", false, "compare numeric values by their text (1.0 differs from 1.00)")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	return c
}

func runTableDiff(cmd *cobra.Command, g *globals, o *tableDiffOptions, args []string) error {
	ctx := cmd.Context()
	clusterName, tableName := "", args[len(args)-1]
	if len(args) == 2 {
		clusterName = args[0]
	}
	if o.output != "json" && o.output != "html" {
		return fault.Input("--output must be json or html, got %q", o.output)
	}
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	ov := job.Overrides{Concurrency: o.concurrency, MaxConnections: o.maxConnections, BlockSize: o.blockSize}
	if cmd.Flags().Changed("max-diff-rows") {
		ov.MaxDiffRows = &o.maxDiffRows
	}
	if e, err = e.With(ov); err != nil {
		return err
	}
	prog := newProgress(cmd.ErrOrStderr(), !o.quiet && isTerminal(cmd.ErrOrStderr()))
	res, err := job.RunTableDiff(ctx, e, job.TableDiff{
		Cluster: clusterName, Table: tableName, Nodes: o.nodes, Out: o.out, HTML: o.output == "html",
		Where: o.where, Columns: o.columns, ExcludeColumns: o.excludeColumns, Recheck: o.recheck,
		Until: o.until, RequireRows: o.requireRows,
		Strict: o.strict, Tool: "pgparity " + g.version, Progress: prog,
	})
	prog.Wait()
	if err != nil {
		return err
	}
	return printDiff(cmd, res, o.quiet, o.json)
}

// printDiff prints a comparison's summary (text, or JSON with --json) and returns ErrDiffer
// unless the nodes match.
func printDiff(cmd *cobra.Command, res *job.DiffResult, quiet, asJSON bool) error {
	d := res.Diff
	for _, warning := range d.Summary.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "pgparity: warning: "+warning)
	}
	w := cmd.OutOrStdout()
	switch {
	case asJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Table    string         `json:"table"`
			DiffFile string         `json:"diff_file"`
			HTML     string         `json:"html_report,omitempty"`
			Summary  report.Summary `json:"summary"`
		}{d.Table.String(), res.DiffFile, res.HTMLFile, d.Summary}); err != nil {
			return err
		}
	case !quiet:
		shown := *d
		shown.Rows = make([]report.Row, len(res.Samples))
		for i := range res.Samples {
			shown.Rows[i] = d.Expand(&res.Samples[i])
		}
		if err := report.WriteSummary(w, &shown); err != nil {
			return err
		}
		fmt.Fprintf(w, "diff file: %s\n", res.DiffFile)
		if res.HTMLFile != "" {
			fmt.Fprintf(w, "report:    %s\n", res.HTMLFile)
		}
	}
	if d.Summary.Status != report.StatusMatch {
		return fault.ErrDiffer
	}
	return nil
}
