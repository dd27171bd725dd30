package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/job"
)

func newMtreeStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	var warnMB int64
	c := &cobra.Command{
		Use:   "status [CLUSTER]",
		Short: "Per node and table: tracker, leaves, dirty leaves, last update, WAL retained by the slot",
		Args:  argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := mtreeEnv(g, job.Overrides{})
			if err != nil {
				return err
			}
			st, err := job.RunMtreeStatus(cmd.Context(), e, job.Mtree{Cluster: optionalCluster(args)}, warnMB<<20)
			if err != nil {
				return err
			}
			for _, w := range st.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "pgparity: warning: "+w)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tTRACKER\tSLOT RETAINED\tTABLE\tLEAVES\tDIRTY\tMARKS\tROWS\tUPDATED")
			for _, n := range st.Nodes {
				slot := "-"
				if n.Slot != nil {
					slot = fmt.Sprintf("%d kB", n.Slot.RetainedBytes>>10)
				}
				if len(n.Trees) == 0 {
					fmt.Fprintf(w, "%s\t%s\t%s\t-\t\t\t\t\t\n", n.Node, orDash(n.Tracker), slot)
				}
				for _, t := range n.Trees {
					dirty := fmt.Sprint(t.DirtyLeaves)
					if t.AllDirty {
						dirty = "all"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", n.Node, orDash(n.Tracker), slot, t.Table, t.Leaves, dirty, t.Marks, t.Rows,
						t.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"))
				}
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	c.Flags().Int64Var(&warnMB, "warn-retained-mb", 1024, "warn when a slot retains more WAL than this (MB)")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
