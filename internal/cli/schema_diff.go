package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
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
	quiet          bool
	json           bool
}

func newSchemaDiffCmd(g *globals) *cobra.Command {
	o := &schemaDiffOptions{}
	c := &cobra.Command{
		Use:   "schema-diff [CLUSTER] SCHEMA",
		Short: "Compare a whole schema across the cluster's nodes: structure, then every table's data, then sequences",
		Long: `schema-diff reads the structure of SCHEMA on every node (tables with their columns, keys,
constraints, indexes, triggers and their enabled state, row-level security and policies, replica
identity; views, functions, sequences, enums and the database's extensions) and reports every
object that differs and how. Unless --ddl-only, it then data-diffs every table whose columns
agree, several tables at once (--concurrency tables, sharing max_connections per node), writes one
diff file per differing table into output_dir, and prints a summary of every table.

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
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	return c
}

func runSchemaDiff(cmd *cobra.Command, g *globals, o *schemaDiffOptions, args []string) error {
	ctx := cmd.Context()
	clusterName, schemaName := "", args[len(args)-1]
	if len(args) == 2 {
		clusterName = args[0]
	}
	if o.apply && !o.fixSequences {
		return fault.Input("--apply needs --fix-sequences")
	}
	schemaName, err := parseSchemaName(schemaName)
	if err != nil {
		return err
	}
	skip := append([]string{}, o.skipTables...)
	if o.skipFile != "" {
		more, err := readSkipFile(o.skipFile)
		if err != nil {
			return err
		}
		skip = append(skip, more...)
	}
	skip, err = tablesOfSchema(schemaName, skip)
	if err != nil {
		return err
	}
	e, err := setupMulti(g, flagSettings{o.concurrency, o.maxConnections, o.blockSize, o.maxDiffRows})
	if err != nil {
		return err
	}
	s := e.settings
	cl, pools, err := e.connect(ctx, clusterName, o.nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	res, err := schema.Run(ctx, pools, schema.Options{
		Schema: schemaName, DDLOnly: o.ddlOnly, SkipTables: skip,
		Data: dataOptions(cl.Name, s, g.version),
	})
	if err != nil {
		return err
	}
	files, err := writeTableDiffs(s.OutputDir, res.Tables)
	if err != nil {
		return err
	}
	var fixes []schema.Fix
	var fixErr error
	if o.fixSequences {
		fixes = schema.PlanSequenceFixes(res)
		if o.apply {
			fixes, fixErr = schema.ApplySequenceFixes(ctx, pools, res, fixes)
		}
	}
	w := cmd.OutOrStdout()
	switch {
	case o.json:
		if err := writeJSON(w, struct {
			*schema.Result
			DiffFiles map[string]string `json:"diff_files"`
			Fixes     []schema.Fix      `json:"sequence_fixes,omitempty"`
		}{res, files, fixes}); err != nil {
			return err
		}
	case !o.quiet:
		printSchemaResult(w, res, files)
		if o.fixSequences {
			printFixes(w, res.Schema, fixes, o.apply)
		}
	}
	if fixErr != nil {
		return fixErr
	}
	return outcome(res.Failed(), res.Differs())
}

// parseSchemaName folds an unquoted schema name to lower case and unquotes a quoted one.
func parseSchemaName(s string) (string, error) {
	sch, _, err := catalog.ParseName(s + ".x")
	if err != nil || strings.HasPrefix(s, `"`) && !strings.HasSuffix(s, `"`) {
		return "", fault.Input("schema name %q: write SCHEMA, quoted if it holds dots, spaces or upper case", s)
	}
	return sch, nil
}

// tablesOfSchema turns user-written table names (bare, or qualified with SCHEMA) into table names
// of the schema.
func tablesOfSchema(schemaName string, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		_, table, err := catalog.ParseName(pgx.Identifier{schemaName}.Sanitize() + "." + n)
		if err != nil { // a qualified name (three parts above): it must be in SCHEMA
			var sch string
			if sch, table, err = catalog.ParseName(n); err != nil {
				return nil, err
			}
			if sch != schemaName {
				return nil, fault.Input("table %s is not in schema %s", n, schemaName)
			}
		}
		out = append(out, table)
	}
	return out, nil
}

// readSkipFile reads table names, one per line; blank lines and # comments are ignored.
func readSkipFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Input("cannot read --skip-file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fault.Input("cannot read --skip-file %s: %v", path, err)
	}
	return out, nil
}

// setupMulti resolves the settings of a multi-table command (flags applied) and checks that the
// output directory is writable.
func setupMulti(g *globals, f flagSettings) (*env, error) {
	e, err := g.envWith(f)
	if err != nil {
		return nil, err
	}
	if err := checkWritable(filepath.Join(e.settings.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	return e, nil
}

func dataOptions(clusterName string, s cluster.Settings, version string) schema.DataOptions {
	return schema.DataOptions{
		Cluster: clusterName, Concurrency: s.Concurrency, MaxConnections: s.MaxConnections,
		BlockSize: s.BlockSize, MaxDiffRows: s.MaxDiffRows, Tool: "pgparity " + version,
	}
}

// writeTableDiffs writes a diff file for every table whose data differs and returns the paths
// by table name.
func writeTableDiffs(dir string, tables []schema.Table) (map[string]string, error) {
	files := map[string]string{}
	for _, t := range tables {
		if t.Data.Status != schema.StatusDiffer || t.Data.Diff == nil {
			continue
		}
		path := filepath.Join(dir, report.DefaultName(t.Data.Diff))
		if err := report.WriteFile(path, t.Data.Diff); err != nil {
			return nil, err
		}
		files[t.Name] = path
	}
	return files, nil
}

// outcome maps a multi-table result to the command's error: failed tables (exit 3) before
// differences (exit 1).
func outcome(failed []string, differs bool) error {
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%d table(s) failed: %s", len(failed), strings.Join(failed, ", "))
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
	printStructure(w, res.Nodes, res.Structure)
	printSequences(w, res)
	printTables(w, res.Nodes, res.Tables, files)
}

func printStructure(w io.Writer, nodes []string, diffs []schema.Difference) {
	if len(diffs) == 0 {
		fmt.Fprintln(w, "structure: identical")
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "structure: %d difference(s)\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(w, "  %s %s: %s\n", d.Kind, d.Object, strings.TrimPrefix(d.Describe(nodes), d.Kind+" "+d.Object+": "))
	}
	fmt.Fprintln(w)
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
			if st.IsBehind {
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
		if len(t.Structure) > 0 {
			parts := make([]string, len(t.Structure))
			for i, d := range t.Structure {
				parts[i] = d.Short(nodes)
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
