package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/schema"
)

func init() { commands = append(commands, newSchemaDiffCmd) }

type schemaDiffOptions struct {
	nodes          []string
	ddlOnly        bool
	skipTables     []string
	skipFile       string
	concurrency    int
	maxConnections int
	blockSize      int
	maxDiffRows    int
	fixSequences   bool
	apply          bool
	lockTimeout    time.Duration
	quiet          bool
	json           bool
}

// defaultLockTimeout is how long schema-diff and publication-diff wait for a lock another
// session holds on a table before that table fails (--lock-timeout).
const defaultLockTimeout = 10 * time.Second

func newSchemaDiffCmd(g *globals) *cobra.Command {
	o := &schemaDiffOptions{}
	c := &cobra.Command{
		Use:   "schema-diff [CLUSTER] SCHEMA",
		Short: "Compare a whole schema across the cluster's nodes: structure, then every table's data, then sequences",
		Long: `schema-diff reads the structure of SCHEMA on every node (tables with their columns, keys,
constraints, indexes, triggers and their enabled state, row-level security and policies, replica
identity, privileges per role and column, comments; views, functions, sequences, enums, domains,
composite types, the publications of the schema's tables and the database's extensions) and
reports every object that differs and how, with a unified diff of differing view and function
definitions. Unless --ddl-only, it then data-diffs every table whose columns agree, several
tables at once (--concurrency tables, sharing max_connections per node), writes one diff file per
differing table into output_dir, and prints a summary of every table.

A table another session holds locked (ACCESS EXCLUSIVE: ALTER TABLE, VACUUM FULL, LOCK TABLE) for
longer than --lock-timeout fails alone, naming the node; the other tables are compared.

It also shows each sequence's last value per node and flags a sequence whose next value is not
past the largest key of the column it feeds (logical replication does not replicate sequences:
after a failover such a subscriber hands out existing keys). --fix-sequences prints the setval
statements that advance them; add --apply to run them.

Exit codes: 0 identical, 1 something differs (structure, data, or a sequence behind), 2 usage or
input error (e.g. the schema is missing on a node), 3 a table's comparison failed.`,
		Args: argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSchemaDiff(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.nodes, "nodes", nil, "nodes to compare, e.g. n1,n3 (default: all; at least 2)")
	f.BoolVar(&o.ddlOnly, "ddl-only", false, "compare the structure only, no table data")
	f.StringSliceVar(&o.skipTables, "skip-tables", nil, "tables of SCHEMA whose data is not compared, e.g. audit,events")
	f.StringVar(&o.skipFile, "skip-file", "", "file naming tables to skip, one per line (# starts a comment)")
	f.IntVar(&o.concurrency, "concurrency", 0, "tables compared at once (default from config: CPU cores)")
	f.IntVar(&o.maxConnections, "max-connections", 0, "connections per node, shared by all tables (default from config)")
	f.IntVar(&o.blockSize, "block-size", 0, "rows per key range (default from config: 10000)")
	f.IntVar(&o.maxDiffRows, "max-diff-rows", 0, "per table, stop after this many differing keys (default from config)")
	f.BoolVar(&o.fixSequences, "fix-sequences", false, "print the setval statements that advance sequences behind their keys (dry run)")
	f.BoolVar(&o.apply, "apply", false, "with --fix-sequences: run the statements")
	f.DurationVar(&o.lockTimeout, "lock-timeout", defaultLockTimeout, "wait this long for a table another session holds locked, then fail that table (0 = the server's lock_timeout)")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	return c
}

func runSchemaDiff(cmd *cobra.Command, g *globals, o *schemaDiffOptions, args []string) error {
	clusterName, schemaName := "", args[len(args)-1]
	if len(args) == 2 {
		clusterName = args[0]
	}
	e, err := multiTableEnv(cmd, g, o.concurrency, o.maxConnections, o.blockSize, o.maxDiffRows)
	if err != nil {
		return err
	}
	res, err := job.RunSchemaDiff(cmd.Context(), e, job.SchemaDiff{
		Cluster: clusterName, Schema: schemaName, Nodes: o.nodes, DDLOnly: o.ddlOnly,
		SkipTables: o.skipTables, SkipFile: o.skipFile, FixSequences: o.fixSequences, Apply: o.apply,
		LockTimeout: o.lockTimeout, Tool: "pgparity " + g.version,
	})
	if res == nil {
		return err
	}
	fixErr := err
	w := cmd.OutOrStdout()
	switch {
	case o.json:
		if err := writeJSON(w, res); err != nil {
			return err
		}
	case !o.quiet:
		printSchemaResult(w, res.Result, res.DiffFiles)
		if o.fixSequences {
			printFixes(w, res.Schema, res.Fixes, o.apply)
		}
	}
	if fixErr != nil {
		return fixErr
	}
	return outcome(res.Failed(), res.FailedObjects(), res.Differs())
}

// multiTableEnv loads the runtime settings of a multi-table command with its flags applied.
func multiTableEnv(cmd *cobra.Command, g *globals, concurrency, maxConnections, blockSize, maxDiffRows int) (*job.Env, error) {
	e, err := g.jobEnv()
	if err != nil {
		return nil, err
	}
	ov := job.Overrides{Concurrency: concurrency, MaxConnections: maxConnections, BlockSize: blockSize}
	if cmd.Flags().Changed("max-diff-rows") {
		ov.MaxDiffRows = &maxDiffRows
	}
	return e.With(ov)
}

// outcome maps a multi-table result to the command's error: failed tables or other objects
// (exit 3) before differences (exit 1).
func outcome(failed, failedObjects []string, differs bool) error {
	var parts []string
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d table(s) failed: %s", len(failed), strings.Join(failed, ", ")))
	}
	if len(failedObjects) > 0 {
		parts = append(parts, fmt.Sprintf("%d other object(s) failed: %s", len(failedObjects), strings.Join(failedObjects, ", ")))
	}
	switch {
	case len(parts) > 0:
		return errors.New(strings.Join(parts, "; "))
	case differs:
		return fault.ErrDiffer
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printSchemaResult(w io.Writer, res *schema.Result, files map[string]string) {
	fmt.Fprintf(w, "schema %s on %s\n\n", res.Schema, strings.Join(res.Nodes, ", "))
	printStructure(w, res.Nodes, res.Structure, res.Failures)
	printSequences(w, res)
	printTables(w, res.Nodes, res.Tables, files)
}

// printStructure prints every difference on one line, followed by the unified diffs of the
// definitions it stands for (indented), then the objects that could not be read.
func printStructure(w io.Writer, nodes []string, diffs []schema.Difference, failures []schema.Failure) {
	if len(diffs) == 0 && len(failures) == 0 {
		fmt.Fprintln(w, "structure: identical")
	} else {
		fmt.Fprintf(w, "structure: %d difference(s)\n", len(diffs))
	}
	for _, d := range diffs {
		fmt.Fprintf(w, "  %s %s: %s\n", d.Kind, d.Object, strings.TrimPrefix(d.Describe(nodes), d.Kind+" "+d.Object+": "))
		for _, n := range nodes {
			if text, ok := d.Diffs[n]; ok {
				fmt.Fprint(w, indent(text, "      "))
			}
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(w, "structure not read: %d object(s)\n", len(failures))
		for _, f := range failures {
			fmt.Fprintf(w, "  %s %s: failed on %s: %s\n", f.Kind, f.Object, f.Node, f.Reason)
		}
	}
	fmt.Fprintln(w)
}

// indent prefixes every line of text.
func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

func printSequences(w io.Writer, res *schema.Result) {
	if len(res.Sequences) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQUENCE\tOWNED_BY\tNODE\tLAST_VALUE\tNEXT\tMAX_KEY\tSTATE")
	for _, s := range res.Sequences {
		for _, n := range res.Nodes {
			st := s.Nodes[n]
			if st == nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\tmissing\n", s.Name, dash(s.OwnedBy), n)
				continue
			}
			state := "ok"
			switch {
			case st.Error != "":
				state = "FAILED: " + st.Error
			case st.IsBehind:
				state = "BEHIND: nextval would return an existing key"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, dash(s.OwnedBy), n, int64Text(st.LastValue), st.NextValue, int64Text(st.MaxKey), state)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func printTables(w io.Writer, nodes []string, tables []schema.Table, files map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSTATUS\tSTRUCTURE\tDATA\tDIFF_FILE")
	counts := map[string]int{}
	for _, t := range tables {
		counts[t.Status]++
		structure := "identical"
		if len(t.Structure) > 0 || len(t.Failures) > 0 {
			var parts []string
			for _, f := range t.Failures {
				parts = append(parts, "failed on "+f.Node+": "+f.Reason)
			}
			for _, d := range t.Structure {
				parts = append(parts, d.Short(nodes))
			}
			structure = strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Status, structure, dataText(nodes, t.Data), dash(files[t.Name]))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d table(s): %d identical, %d differ, %d skipped, %d failed\n", len(tables),
		counts[schema.StatusIdentical], counts[schema.StatusDiffer], counts[schema.StatusSkipped], counts[schema.StatusFailed])
}

// dataText is the DATA cell: identical, "3 differing rows (n1/n2 2, ...)", skipped or failed
// with the reason.
func dataText(nodes []string, d schema.Data) string {
	switch d.Status {
	case schema.StatusDiffer:
		var pairs []string
		if d.Diff != nil {
			for i, a := range nodes {
				for _, b := range nodes[i+1:] {
					if n := d.Diff.Summary.Pairs[report.PairKey(a, b)]; n > 0 {
						pairs = append(pairs, fmt.Sprintf("%s/%s %d", a, b, n))
					}
				}
			}
		}
		text := fmt.Sprintf("%d differing row(s)", d.DifferingRows)
		if len(pairs) > 0 {
			text += " (" + strings.Join(pairs, ", ") + ")"
		}
		if d.Diff != nil && d.Diff.Summary.Status == report.StatusPartial {
			text += ", partial: " + d.Diff.Summary.PartialReason
		}
		return text
	case schema.StatusSkipped, schema.StatusFailed:
		return d.Status + ": " + d.Reason
	default:
		return d.Status
	}
}

func printFixes(w io.Writer, schemaName string, fixes []schema.Fix, apply bool) {
	if len(fixes) == 0 {
		fmt.Fprintln(w, "\nsequences: none behind its key")
		return
	}
	if !apply {
		fmt.Fprintln(w, "\nsequence fixes (dry run; add --apply to run them):")
	} else {
		fmt.Fprintln(w, "\nsequence fixes:")
	}
	for _, f := range fixes {
		state := "would run"
		switch {
		case f.Applied:
			state = "advanced"
		case f.Skipped:
			state = "already past, left alone"
		case apply:
			state = "not run"
		}
		fmt.Fprintf(w, "  %s on %s: %s  -- next value %d -> %d\n", state, f.Node, f.SQL(schemaName), f.From, f.To+f.Increment)
	}
}

func int64Text(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
