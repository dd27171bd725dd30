package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/schema"
)

func init() { commands = append(commands, newReplicationDiffCmd) }

type replicationDiffOptions struct {
	nodes []string
	json  bool
}

func newReplicationDiffCmd(g *globals) *cobra.Command {
	o := &replicationDiffOptions{}
	c := &cobra.Command{
		Use:   "replication-diff [CLUSTER]",
		Short: "Show the logical-replication topology of the cluster and flag what is broken or risky",
		Long: `replication-diff shows, per node, its publications, its subscriptions (enabled, slot, origin,
streaming, disable_on_error, error counts from pg_stat_subscription_stats, apply lag in bytes and
time measured on the publisher's slot) and its replication slots (active, wal_status, retained WAL,
confirmed-flush lag). It flags disabled subscriptions, subscription errors, tables not yet
synchronised, tables of a publication the subscriber does not receive, inactive slots retaining
WAL and slots that lost WAL.

Exit codes: 0 nothing flagged, 1 something flagged, 2 usage or input error, 3 a node failed.`,
		Args: argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return runReplicationDiff(cmd, g, o, name)
		},
	}
	c.Flags().StringSliceVar(&o.nodes, "nodes", nil, "nodes to inspect, e.g. n1,n3 (default: all)")
	c.Flags().BoolVar(&o.json, "json", false, "print the topology and findings as JSON on stdout")
	return c
}

func runReplicationDiff(cmd *cobra.Command, g *globals, o *replicationDiffOptions, name string) error {
	ctx := cmd.Context()
	e, err := g.env()
	if err != nil {
		return err
	}
	_, pools, err := e.connect(ctx, name, o.nodes)
	if err != nil {
		return err
	}
	defer pools.Close()
	top, err := schema.Replication(ctx, pools)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if o.json {
		if err := writeJSON(w, top); err != nil {
			return err
		}
	} else {
		printTopology(w, top)
	}
	if len(top.Findings) > 0 {
		return fault.ErrDiffer
	}
	return nil
}

func printTopology(w io.Writer, top *schema.Topology) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPUBLICATION\tOPERATIONS\tVIA_ROOT\tTABLES")
	for _, n := range top.Nodes {
		for _, p := range n.Publications {
			tables := strings.Join(p.Tables, ",")
			if p.AllTables {
				tables = "ALL TABLES"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", n.Node, p.Name, p.Operations, p.ViaPartitionRoot, dash(tables))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSUBSCRIPTION\tENABLED\tSLOT\tORIGIN\tSTREAMING\tDISABLE_ON_ERROR\tERRORS(APPLY/SYNC)\tPUBLISHER\tLAG_BYTES\tLAG_SECONDS")
	for _, n := range top.Nodes {
		for _, s := range n.Subscriptions {
			lagSec := "-"
			if s.LagSeconds != nil {
				lagSec = fmt.Sprintf("%.3f", *s.LagSeconds)
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%v\t%d/%d\t%s\t%s\t%s\n", n.Node, s.Name, s.Enabled, dash(s.Slot), s.Origin,
				s.Streaming, s.DisableOnError, s.ApplyErrors, s.SyncErrors, dash(s.Publisher), int64Text(s.LagBytes), lagSec)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSLOT\tTYPE\tACTIVE\tWAL_STATUS\tRETAINED_BYTES\tFLUSH_LAG_BYTES")
	for _, n := range top.Nodes {
		for _, s := range n.Slots {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", n.Node, s.Name, s.Type, s.Active, dash(s.WALStatus), int64Text(s.Retained), int64Text(s.FlushLag))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(top.Findings) == 0 {
		fmt.Fprintln(w, "findings: none")
		return
	}
	fmt.Fprintf(w, "findings: %d\n", len(top.Findings))
	for _, f := range top.Findings {
		fmt.Fprintf(w, "  %s  %s: %s\n", strings.ToUpper(f.Severity), f.Node, f.Message)
	}
}
