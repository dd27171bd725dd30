package cli

import (
	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
)

func init() { commands = append(commands, newTableRerunCmd) }

type tableRerunOptions struct {
	diffFile string
	out      string
	output   string
	quiet    bool
	json     bool
}

func newTableRerunCmd(g *globals) *cobra.Command {
	o := &tableRerunOptions{}
	c := &cobra.Command{
		Use:   "table-rerun --diff-file F [CLUSTER]",
		Short: "Re-read only the keys of a diff file and write a new diff with those still differing",
		Long: `table-rerun re-reads, on the diff file's nodes, only the keys the file lists and writes a new diff
file holding the keys that still differ. Exit 0 when they all agree now, 1 when some still differ.`,
		Args: argsRange(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTableRerun(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.diffFile, "diff-file", "", "diff file written by table-diff (required)")
	f.StringVar(&o.out, "out", "", "new diff file (default: <schema>_<table>_diff_<UTC time>.json next to the old one)")
	f.StringVar(&o.output, "output", "json", "json, or html to also write an HTML report")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing but errors")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON on stdout")
	return c
}

func runTableRerun(cmd *cobra.Command, g *globals, o *tableRerunOptions, args []string) error {
	if o.output != "json" && o.output != "html" {
		return fault.Input("--output must be json or html, got %q", o.output)
	}
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	name := ""
	if len(args) == 1 {
		name = args[0]
	}
	res, err := job.RunTableRerun(cmd.Context(), e, job.TableRerun{
		DiffFile: o.diffFile, Cluster: name, Out: o.out, HTML: o.output == "html", Tool: "pgparity " + g.version,
	})
	if err != nil {
		return err
	}
	return printDiff(cmd, res, o.quiet, o.json)
}
