package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/schema"
)

func init() { commands = append(commands, newPublicationDiffCmd) }

type publicationDiffOptions struct {
	nodes          []string
	skipTables     []string
	skipFile       string
	lockTimeout    time.Duration
	concurrency    int
	maxConnections int
	blockSize      int
	maxDiffRows    int
	quiet          bool
	json           bool
}

func newPublicationDiffCmd(g *globals) *cobra.Command {
	o := &publicationDiffOptions{}
	c := &cobra.Command{
		Use:   "publication-diff [CLUSTER] PUBLICATION",
		Short: "Compare a publication's definition and the data of every member table across the cluster's nodes",
		Long: `publication-diff compares PUBLICATION on every node that has it (FOR ALL TABLES, published
operations, publish_via_partition_root, each table's column list and row filter) and reports tables
that are members on one node but not another. A node without the publication (a subscriber) is
represented by the tables of its subscriptions to it. It then data-diffs every member table,
restricted to the published columns and rows, like schema-diff: one diff file per differing table
in output_dir and a summary of every table. Tables named by --skip-tables or in --skip-file
(SCHEMA.TABLE; a bare name is in public) are listed as skipped; each must be a member on some
node. A table another session holds locked for longer than --lock-timeout fails alone.

Exit codes: 0 identical, 1 something differs, 2 usage or input error (e.g. a node has neither the
publication nor a subscription to it), 3 a table's comparison failed.`,
		Args: argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPublicationDiff(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.nodes, "nodes", nil, "nodes to compare, e.g. n1,n3 (default: all; at least 2)")
	f.StringSliceVar(&o.skipTables, "skip-tables", nil, "member tables whose data is not compared, e.g. public.audit,app.events")
	f.StringVar(&o.skipFile, "skip-file", "", "file naming tables to skip, one per line (# starts a comment)")
	f.DurationVar(&o.lockTimeout, "lock-timeout", defaultLockTimeout, "wait this long for a table another session holds locked, then fail that table (0 = the server's lock_timeout)")
	f.IntVar(&o.concurrency, "concurrency", 0, "tables compared at once (default from config: CPU cores)")
	f.IntVar(&o.maxConnections, "max-connections", 0, "connections per node, shared by all tables (default from config)")
	f.IntVar(&o.blockSize, "block-size", 0, "rows per key range (default from config: 10000)")
	f.IntVar(&o.maxDiffRows, "max-diff-rows", 0, "per table, stop after this many differing keys (default from config)")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	return c
}

func runPublicationDiff(cmd *cobra.Command, g *globals, o *publicationDiffOptions, args []string) error {
	clusterName, pub := "", args[len(args)-1]
	if len(args) == 2 {
		clusterName = args[0]
	}
	e, err := multiTableEnv(cmd, g, o.concurrency, o.maxConnections, o.blockSize, o.maxDiffRows)
	if err != nil {
		return err
	}
	res, err := job.RunPublicationDiff(cmd.Context(), e, job.PublicationDiff{
		Cluster: clusterName, Publication: pub, Nodes: o.nodes, SkipTables: o.skipTables, SkipFile: o.skipFile,
		LockTimeout: o.lockTimeout, Tool: "pgparity " + g.version,
	})
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch {
	case o.json:
		if err := writeJSON(w, res); err != nil {
			return err
		}
	case !o.quiet:
		printPublicationResult(w, res.PublicationResult, res.DiffFiles)
	}
	return outcome(res.Failed(), nil, res.Differs())
}

func printPublicationResult(w io.Writer, res *schema.PublicationResult, files map[string]string) {
	roles := make([]string, len(res.Nodes))
	for i, n := range res.Nodes {
		roles[i] = n + " " + res.Roles[n]
	}
	fmt.Fprintf(w, "publication %s on %s\n\n", res.Publication, strings.Join(roles, ", "))
	if len(res.Definition) == 0 {
		fmt.Fprintln(w, "definition and members: identical")
	} else {
		fmt.Fprintf(w, "definition and members: %d difference(s)\n", len(res.Definition))
		for _, d := range res.Definition {
			fmt.Fprintf(w, "  %s\n", d.Describe(res.Nodes))
		}
	}
	fmt.Fprintln(w)
	printTables(w, res.Nodes, res.Tables, files)
}
