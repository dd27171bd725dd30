package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
)

func init() { commands = append(commands, newMtreeCmd) }

// newMtreeCmd is the `mtree` group: incremental re-checks with hash trees kept current by a
// change tracker.
func newMtreeCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "mtree",
		Short: "Incremental re-checks: per-table hash trees kept current by logical decoding or triggers",
		Long: `mtree keeps a hash tree of a table on every node (schema pgparity, unlogged tables) and a
change tracker (a logical slot decoded with pgoutput, or statement-level triggers) that marks what
changed, so that a re-check costs the rows that changed, not the table. See docs/mtree.md.`,
		Args: argsRange(0, 0),
	}
	c.AddCommand(newMtreeInitCmd(g), newMtreeBuildCmd(g), newMtreeDiffCmd(g), newMtreeUpdateCmd(g),
		newMtreeListenCmd(g), newMtreeStatusCmd(g), newMtreeTeardownCmd(g), newMtreeTeardownTableCmd(g))
	return c
}

// mtreeEnv loads the settings with the flags that mtree commands share.
func mtreeEnv(g *globals, ov job.Overrides) (*job.Env, error) {
	e, err := g.jobEnv()
	if err != nil {
		return nil, err
	}
	return e.With(ov)
}

// clusterAndTable splits [CLUSTER] SCHEMA.TABLE.
func clusterAndTable(args []string) (string, string) {
	if len(args) == 2 {
		return args[0], args[1]
	}
	return "", args[0]
}

func optionalCluster(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}

func newMtreeInitCmd(g *globals) *cobra.Command {
	var tracker string
	c := &cobra.Command{
		Use:   "init [CLUSTER]",
		Short: "Create pgparity's schema and the change tracker on every node",
		Long: `init creates schema pgparity (unlogged tables: never replicated) on every node and sets up the
change tracker: cdc (a publication, then a logical slot; needs wal_level = logical) or trigger.
Without --tracker: cdc where wal_level = logical, else trigger.`,
		Args: argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tracker != "" && tracker != cdc.CDC && tracker != cdc.Trigger {
				return fault.Input("--tracker must be cdc or trigger, got %q", tracker)
			}
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			res, err := job.RunMtreeInit(cmd.Context(), e, job.Mtree{Cluster: optionalCluster(args), Tracker: tracker})
			if err != nil {
				return err
			}
			for _, n := range sortedKeys(res.Trackers) {
				fmt.Fprintf(cmd.OutOrStdout(), "node %s: %s tracker ready\n", n, res.Trackers[n])
			}
			return nil
		},
	}
	c.Flags().StringVar(&tracker, "tracker", "", "cdc or trigger (default: cdc where wal_level = logical, else trigger)")
	return c
}

func newMtreeBuildCmd(g *globals) *cobra.Command {
	var blockSize, concurrency int
	c := &cobra.Command{
		Use:   "build [CLUSTER] SCHEMA.TABLE",
		Short: "Plan the table's leaves once for all nodes, hash them, and start tracking its changes",
		Args:  argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{Concurrency: concurrency})
			if err != nil {
				return err
			}
			cl, table := clusterAndTable(args)
			res, err := job.RunMtreeBuild(cmd.Context(), e, job.Mtree{Cluster: cl, Table: table, BlockSize: blockSize, Tool: "pgparity " + g.version})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, n := range res.Notes {
				fmt.Fprintln(w, n)
			}
			fmt.Fprintf(w, "built the tree of %s: %d leaves on every node; changes are tracked from now on\n", table, res.Tree.Leaves)
			fmt.Fprintln(w, "cdc nodes read the old key of a key-changing UPDATE or a DELETE from the WAL (REPLICA IDENTITY DEFAULT on the primary key, or the key index)")
			return nil
		},
	}
	c.Flags().IntVar(&blockSize, "block-size", 0, "rows per leaf (default: 100; past 10 million rows, rows/100,000)")
	c.Flags().IntVar(&concurrency, "concurrency", 0, "leaf groups hashed at once per node (default from config)")
	return c
}

func newMtreeUpdateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "update [CLUSTER] SCHEMA.TABLE",
		Short: "Bring the table's trees up to date (rehash only changed leaves) without comparing",
		Args:  argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			cl, table := clusterAndTable(args)
			res, err := job.RunMtreeUpdate(cmd.Context(), e, job.Mtree{Cluster: cl, Table: table, Tool: "pgparity " + g.version})
			if err != nil {
				return err
			}
			printTree(cmd, res)
			return nil
		},
	}
}

// printTree prints what an update did.
func printTree(cmd *cobra.Command, res *job.MtreeResult) {
	t := res.Tree
	fmt.Fprintf(cmd.ErrOrStderr(), "trees: %d leaves, %d rehashed (%d leaf hashes over the nodes: only where changed), %d change marks consumed\n", t.Leaves, t.Rehashed, t.Hashed, t.Marks)
	if len(t.Lost) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "pgparity: note: no usable stored tree on %s (never built there, emptied by a restart after a crash, or built under another row hash rule): rehashed fully\n", strings.Join(t.Lost, ", "))
	}
	if len(t.Skipped) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "pgparity: note: another update stored the tree on %s meanwhile; its state was kept\n", strings.Join(t.Skipped, ", "))
	}
}

func newMtreeDiffCmd(g *globals) *cobra.Command {
	var out, output string
	var quiet, asJSON bool
	var concurrency int
	c := &cobra.Command{
		Use:   "table-diff [CLUSTER] SCHEMA.TABLE",
		Short: "Bring the trees up to date, compare them and report every differing row (a normal diff file)",
		Long: `mtree table-diff drains every node's change stream to a fence written now, rehashes only the
leaves that changed (in one snapshot per node), compares leaves across nodes and drills into the
differing ones with table-diff's row-level code. The diff file is the one table-diff writes:
table-repair and table-rerun accept it.

Exit codes: 0 the nodes match, 1 differences found, 2 usage or input error (e.g. no tree built),
3 runtime failure.`,
		Args: argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "html" {
				return fault.Input("--output must be json or html, got %q", output)
			}
			e, err := mtreeEnv(g, job.Overrides{Concurrency: concurrency})
			if err != nil {
				return err
			}
			cl, table := clusterAndTable(args)
			res, err := job.RunMtreeDiff(cmd.Context(), e, job.Mtree{Cluster: cl, Table: table, Out: out, HTML: output == "html", Tool: "pgparity " + g.version})
			if err != nil {
				return err
			}
			if !quiet && !asJSON {
				printTree(cmd, res)
			}
			return printDiff(cmd, res.Diff, quiet, asJSON)
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "diff file to write (default: <schema>_<table>_diff_<UTC time>.json in output_dir)")
	f.StringVar(&output, "output", "json", "json, or html to also write an HTML report next to the diff file")
	f.IntVar(&concurrency, "concurrency", 0, "leaf groups hashed at once per node (default from config)")
	f.BoolVar(&quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	return c
}

func newMtreeListenCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "listen [CLUSTER]",
		Short: "Consume the change stream of every cdc node until interrupted (Ctrl-C stops cleanly)",
		Long: `listen reads every cdc node's slot, records change marks and confirms each transaction once its
marks are committed, so the slot retains little WAL and mtree table-diff drains little. Killing
it loses nothing: unconfirmed transactions are read again.`,
		Args: argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "listening (Ctrl-C stops)")
			if err := job.RunMtreeListen(cmd.Context(), e, job.Mtree{Cluster: optionalCluster(args)}); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "stopped")
			return nil
		},
	}
}

func newMtreeTeardownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "teardown [CLUSTER]",
		Short: "Remove everything mtree created on every node (slot, publication, triggers, functions, tables, schema)",
		Args:  argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			if err := job.RunMtreeTeardown(cmd.Context(), e, job.Mtree{Cluster: optionalCluster(args)}); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "removed pgparity's slot, publication, triggers and schema from every node")
			return nil
		},
	}
}

func newMtreeTeardownTableCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "teardown-table [CLUSTER] SCHEMA.TABLE",
		Short: "Stop tracking a table and remove its tree from every node",
		Args:  argsRange(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			cl, table := clusterAndTable(args)
			if err := job.RunMtreeTeardownTable(cmd.Context(), e, job.Mtree{Cluster: cl, Table: table}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the tree and the tracking of %s from every node\n", table)
			return nil
		},
	}
}
