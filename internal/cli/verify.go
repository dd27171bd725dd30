package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/verify"
)

func init() { commands = append(commands, newVerifyCmd) }

type verifyOptions struct {
	publication    string
	json           bool
	outDir         string
	maxWait        time.Duration
	minCoverage    float64
	watch          time.Duration
	concurrency    int
	maxConnections int
	blockSize      int
}

func newVerifyCmd(g *globals) *cobra.Command {
	o := &verifyOptions{}
	c := &cobra.Command{
		Use:   "verify [CLUSTER] [SCHEMA.TABLE ... | --publication P]",
		Short: "Verify that logical-replication subscribers hold what their publishers hold, under live writes",
		Long: `verify finds every publisher -> subscriber pair among the cluster's nodes (subscriptions whose
connection points at another node) and every table they replicate, and compares each table at a
WAL fence: the publisher's snapshot is taken, the fence is the WAL position right after it, and
the subscriber is read only once it has applied the fence. Keys that differ are re-read at fresh
fences and classified: confirmed (the publisher row did not change, the subscriber still
differs), transient (in flight), unsettled (kept changing). Confirmed keys are written to a diff
file per table that table-repair accepts. See docs/verify.md.

Exit codes: 0 every pair and table verified equal, 1 confirmed differences, 2 usage or input
error, 3 runtime failure, 4 inconclusive (a subscriber behind past --max-wait, a disabled or
failing subscription, a table not subscribed or not synchronised, coverage below --min-coverage).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, g, o, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.publication, "publication", "", "verify only subscriptions of this publication and its tables")
	f.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	f.StringVar(&o.outDir, "out-dir", "", "directory for the diff files of confirmed differences (default from config: output_dir)")
	f.DurationVar(&o.maxWait, "max-wait", job.DefaultMaxWait, "how long to wait, per fence, for a subscriber to catch up before the pair is inconclusive")
	f.Float64Var(&o.minCoverage, "min-coverage", 100, "percentage of each table's rows that must be verified (not left unsettled by rows that keep changing)")
	f.DurationVar(&o.watch, "watch", 0, "verify again every INTERVAL, one line per cycle, until interrupted (each cycle is a full pass)")
	f.IntVar(&o.concurrency, "concurrency", 0, "ranges hashed at once per node (default from config: CPU cores)")
	f.IntVar(&o.maxConnections, "max-connections", 0, "connections per node (default from config)")
	f.IntVar(&o.blockSize, "block-size", 0, "rows per key range (default from config: 10000)")
	return c
}

func runVerify(cmd *cobra.Command, g *globals, o *verifyOptions, args []string) error {
	ctx := cmd.Context()
	clusterName, tables := splitClusterArg(args)
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	if e, err = e.With(job.Overrides{Concurrency: o.concurrency, MaxConnections: o.maxConnections, BlockSize: o.blockSize}); err != nil {
		return err
	}
	v := job.Verify{
		Cluster: clusterName, Tables: tables, Publication: o.publication, OutDir: o.outDir,
		MaxWait: o.maxWait, MinCoverage: o.minCoverage, Tool: "pgparity " + g.version,
	}
	if o.maxWait <= 0 {
		return fault.Input("--max-wait must be positive, got %s", o.maxWait)
	}
	w := cmd.OutOrStdout()
	if cmd.Flags().Changed("watch") {
		return job.WatchVerify(ctx, e, v, o.watch, func(res *verify.Result, err error) error {
			printWatchLine(w, res, err)
			return nil
		})
	}
	res, err := job.RunVerify(ctx, e, v)
	if err != nil {
		return err
	}
	if o.json {
		if err := writeJSON(w, res); err != nil {
			return err
		}
	} else {
		printVerify(w, res)
	}
	switch res.Status {
	case verify.StatusDiffer:
		return fault.ErrDiffer
	case verify.StatusInconclusive:
		return fault.ErrInconclusive
	}
	return nil
}

// splitClusterArg reads [CLUSTER] [SCHEMA.TABLE ...]: the first argument is the cluster unless
// it is written SCHEMA.TABLE (holds a dot).
func splitClusterArg(args []string) (string, []string) {
	if len(args) == 0 || strings.Contains(args[0], ".") {
		return "", args
	}
	return args[0], args[1:]
}

// printVerify prints a few lines per pair: its verdict and lag, then one line per table.
func printVerify(w io.Writer, res *verify.Result) {
	for _, p := range res.Pairs {
		fence := p.FenceLSN
		if fence == "" {
			fence = "-"
		}
		fmt.Fprintf(w, "%s -> %s (subscription %s): %s at fence %s, lag %d bytes\n", p.Publisher, p.Subscriber, p.Subscription, p.Status, fence, p.LagBytes)
		if p.Message != "" {
			fmt.Fprintf(w, "  %s\n", p.Message)
		}
		for _, t := range p.Tables {
			line := fmt.Sprintf("  %-12s %s", t.Status, t.Table)
			if t.Status != verify.StatusInconclusive || t.CoveragePct > 0 {
				line += fmt.Sprintf(": %d confirmed, %d transient, %d unsettled, coverage %.4g%%", t.Confirmed, t.Transient, t.Unsettled, t.CoveragePct)
			}
			if t.DiffFile != nil {
				line += ", diff file " + *t.DiffFile
			}
			fmt.Fprintln(w, line)
			if t.Message != "" && !strings.Contains(p.Message, t.Message) {
				fmt.Fprintf(w, "    %s\n", t.Message)
			}
		}
	}
	fmt.Fprintf(w, "verify: %s\n", res.Status)
}

// printWatchLine prints one cycle of --watch.
func printWatchLine(w io.Writer, res *verify.Result, err error) {
	now := time.Now().UTC().Format(time.RFC3339)
	if err != nil {
		fmt.Fprintf(w, "%s error: %s\n", now, strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	confirmed, transient, unsettled := res.Counts()
	tables := 0
	var behind []string
	for _, p := range res.Pairs {
		tables += len(p.Tables)
		if p.LagSeconds > 0 {
			behind = append(behind, fmt.Sprintf("%s->%s %d bytes behind", p.Publisher, p.Subscriber, p.LagBytes))
		}
	}
	line := fmt.Sprintf("%s %s: %d pair(s), %d table(s), %d confirmed, %d transient, %d unsettled (%.1fs)", now, res.Status,
		len(res.Pairs), tables, confirmed, transient, unsettled, res.FinishedAt.Sub(res.StartedAt).Seconds())
	if len(behind) > 0 {
		line += "; " + strings.Join(behind, ", ")
	}
	fmt.Fprintln(w, line)
}
