package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/cluster"
)

func init() { clusterCommands = append(clusterCommands, newClusterCheckCmd) }

type clusterCheckOptions struct {
	json bool
}

func newClusterCheckCmd(g *globals) *cobra.Command {
	o := clusterCheckOptions{}
	c := &cobra.Command{
		Use:   "check [CLUSTER]",
		Short: "Connect to every node and show its version, replication settings, publications, subscriptions and privileges",
		Long: `Connect to every node of CLUSTER (default: default_cluster of pgparity.yaml) and show, per node,
the server version, wal_level, track_commit_timestamp, the publications and subscriptions of its
database, whether the user is a superuser and whether it may set session_replication_role
(needed by repairs). Exits 3 when any node cannot be reached or checked.`,
		Args: argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return runClusterCheck(cmd, g, o, name)
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print the status of every node as JSON")
	return c
}

func runClusterCheck(cmd *cobra.Command, g *globals, o clusterCheckOptions, name string) error {
	e, err := g.env()
	if err != nil {
		return err
	}
	cl, err := e.cluster(name)
	if err != nil {
		return err
	}
	if err := cluster.ValidateNodes(cl.Nodes, e.poolOptions()); err != nil {
		return err
	}
	statuses := cluster.Check(cmd.Context(), cl.Nodes, e.poolOptions())
	out := cmd.OutOrStdout()
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statuses); err != nil {
			return err
		}
	} else if err := printNodeStatuses(out, statuses); err != nil {
		return err
	}
	var failed []string
	for _, st := range statuses {
		switch {
		case !st.Reachable:
			failed = append(failed, fmt.Sprintf("node %s (%s) unreachable: %s", st.Name, st.Address, st.Error))
		case st.Error != "":
			failed = append(failed, fmt.Sprintf("node %s (%s) check failed: %s", st.Name, st.Address, st.Error))
		}
	}
	if len(failed) > 0 {
		// A runtime failure (exit 3), not an input error: the definition was read, a node failed.
		return fmt.Errorf("cluster %s: %s", cl.Name, strings.Join(failed, "; "))
	}
	return nil
}

// printNodeStatuses writes one aligned row per node.
func printNodeStatuses(w io.Writer, statuses []cluster.NodeStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tVERSION\tWAL_LEVEL\tCOMMIT_TS\tPUBLICATIONS\tSUBSCRIPTIONS\tSUPERUSER\tREPL_ROLE")
	for _, st := range statuses {
		if !st.Reachable {
			fmt.Fprintf(tw, "%s\t%s\tunreachable\t-\t-\t-\t-\t-\t-\n", st.Name, st.Address)
			continue
		}
		version, _, _ := strings.Cut(st.ServerVersion, " ") // "15.8 (Debian 15.8-1)" -> "15.8"
		if version == "" {
			version = "-"
		}
		wal := st.WalLevel
		if wal == "" {
			wal = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, st.Address, version, wal,
			checkOnOff(st.TrackCommitTimestamp), checkList(st.Publications), checkSubscriptions(st),
			checkYesNo(st.Superuser), checkYesNo(st.CanSetReplicationRole))
	}
	return tw.Flush()
}

func checkSubscriptions(st cluster.NodeStatus) string {
	if st.SubscriptionsUnknown {
		return "unknown"
	}
	parts := make([]string, len(st.Subscriptions))
	for i, s := range st.Subscriptions {
		state := "disabled"
		if s.Enabled {
			state = "enabled"
		}
		parts[i] = s.Name + "(" + state + ")"
	}
	return checkList(parts)
}

func checkList(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, ",")
}

func checkOnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func checkYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
