package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/job"
)

func init() { commands = append(commands, newHistoryCmd) }

type historyOptions struct {
	json        bool
	table       string
	cluster     string
	since       string
	divergences bool
	open        bool
	limit       int
}

func newHistoryCmd(g *globals) *cobra.Command {
	o := &historyOptions{}
	c := &cobra.Command{
		Use:   "history",
		Short: "List recorded runs, or the differing keys they saw and when they were resolved",
		Long: `history lists the runs of table-diff, table-rerun, schema-diff and table-repair (and verify,
mtree table-diff) recorded in the history store, newest first: command, cluster, tables, start,
duration, status, differing keys and diff file. With --divergences it lists instead every
differing key those runs saw, most recently seen first: table, key, nodes, the runs that first
and last saw it, and the run that found it resolved (with the repair credited, if any).

The store is the SQLite file history_path of pgparity.yaml (default
$XDG_STATE_HOME/pgparity/history.db, else ~/.local/state/pgparity/history.db), or the PostgreSQL
database history_dsn. See docs/history.md.`,
		Args: argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(cmd, g, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON on stdout")
	f.StringVar(&o.table, "table", "", "only this table (SCHEMA.TABLE)")
	f.StringVar(&o.cluster, "cluster", "", "only this cluster (default: every cluster)")
	f.StringVar(&o.since, "since", "", "only runs started (divergences last seen) this long ago or later, e.g. 90m, 24h, 7d")
	f.BoolVar(&o.divergences, "divergences", false, "list differing keys instead of runs")
	f.BoolVar(&o.open, "open", false, "with --divergences: only keys not resolved")
	f.IntVar(&o.limit, "limit", 1000, "list at most this many, the newest (0 = no limit)")
	return c
}

func runHistory(cmd *cobra.Command, g *globals, o *historyOptions) error {
	since, err := parseSince(o.since)
	if err != nil {
		return err
	}
	e, err := g.jobEnv()
	if err != nil {
		return err
	}
	list, err := job.ListHistory(cmd.Context(), e, job.HistoryQuery{
		Cluster: o.cluster, Table: o.table, Since: since, Divergences: o.divergences, Open: o.open, Limit: o.limit,
	})
	if err != nil {
		return err
	}
	n := len(list.Runs) + len(list.Divergences)
	if o.limit > 0 && n == o.limit {
		fmt.Fprintf(cmd.ErrOrStderr(), "pgparity: showing the newest %d; --limit 0 lists all\n", n)
	}
	w := cmd.OutOrStdout()
	switch {
	case o.json && o.divergences:
		return writeJSON(w, struct {
			Divergences []divergenceJSON `json:"divergences"`
		}{divergencesJSON(list.Divergences)})
	case o.json:
		return writeJSON(w, struct {
			Runs []runJSON `json:"runs"`
		}{runsJSON(list.Runs)})
	case o.divergences:
		return printDivergences(w, list.Divergences)
	}
	return printRuns(w, list.Runs)
}

// parseSince reads --since: a Go duration (90m, 24h) or a number of days (7d); "" is none.
func parseSince(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fault.Input("--since %q: use a duration such as 90m, 24h or 7d", s)
	}
	return d, nil
}

// runJSON is a run as `history --json` prints it.
type runJSON struct {
	ID              int64            `json:"id"`
	Command         string           `json:"command"`
	Cluster         string           `json:"cluster"`
	Tables          []string         `json:"tables"`
	Options         json.RawMessage  `json:"options"`
	StartedAt       time.Time        `json:"started_at"`
	FinishedAt      *time.Time       `json:"finished_at"`
	DurationSeconds *float64         `json:"duration_seconds"`
	Status          history.Status   `json:"status"`
	ExitCode        *int             `json:"exit_code"`
	DifferingKeys   int64            `json:"differing_keys"`
	TransientKeys   int64            `json:"transient_keys"`
	RowsCompared    map[string]int64 `json:"rows_compared"`
	Coverage        *float64         `json:"coverage"`
	DiffFile        *string          `json:"diff_file"`
	Error           *string          `json:"error"`
}

func runsJSON(runs []history.Run) []runJSON {
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		j := runJSON{ID: r.ID, Command: r.Command, Cluster: r.Cluster, Tables: r.Tables, Options: r.Options,
			StartedAt: r.StartedAt.UTC(), Status: r.Status, DifferingKeys: r.DifferingKeys, TransientKeys: r.TransientKeys,
			RowsCompared: r.RowsCompared, Coverage: r.Coverage, DiffFile: optString(r.DiffFile), Error: optString(r.Error)}
		if !r.FinishedAt.IsZero() {
			f := r.FinishedAt.UTC()
			d := f.Sub(r.StartedAt).Seconds()
			code := r.ExitCode
			j.FinishedAt, j.DurationSeconds, j.ExitCode = &f, &d, &code
		}
		out[i] = j
	}
	return out
}

// divergenceJSON is a divergence as `history --divergences --json` prints it; run ids are null
// where there is none.
type divergenceJSON struct {
	ID                  int64      `json:"id"`
	Cluster             string     `json:"cluster"`
	Table               string     `json:"table"`
	Key                 []string   `json:"key"`
	Nodes               []string   `json:"nodes"`
	Open                bool       `json:"open"`
	FirstSeenRun        int64      `json:"first_seen_run"`
	FirstSeenAt         time.Time  `json:"first_seen_at"`
	LastSeenRun         int64      `json:"last_seen_run"`
	LastSeenAt          time.Time  `json:"last_seen_at"`
	LastRepairRun       *int64     `json:"last_repair_run"`
	ResolvedRun         *int64     `json:"resolved_run"`
	ResolvedAt          *time.Time `json:"resolved_at"`
	ResolvedByRepairRun *int64     `json:"resolved_by_repair_run"`
}

func divergencesJSON(ds []history.Divergence) []divergenceJSON {
	out := make([]divergenceJSON, len(ds))
	for i, d := range ds {
		j := divergenceJSON{ID: d.ID, Cluster: d.Cluster, Table: d.Table, Key: d.Key, Nodes: d.Nodes, Open: d.Open(),
			FirstSeenRun: d.FirstSeenRun, FirstSeenAt: d.FirstSeenAt.UTC(), LastSeenRun: d.LastSeenRun,
			LastSeenAt: d.LastSeenAt.UTC(), LastRepairRun: optID(d.LastRepairRun), ResolvedRun: optID(d.ResolvedRun),
			ResolvedByRepairRun: optID(d.ResolvedByRepairRun)}
		if !d.Open() {
			t := d.ResolvedAt.UTC()
			j.ResolvedAt = &t
		}
		out[i] = j
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// stamp prints a time for a terminal: UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func printRuns(w io.Writer, runs []history.Run) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "no runs recorded")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCOMMAND\tCLUSTER\tTABLES\tSTARTED\tDURATION\tSTATUS\tKEYS\tDIFF FILE")
	for _, r := range runs {
		dur := "-"
		if !r.FinishedAt.IsZero() {
			dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		}
		file := r.DiffFile
		if file == "" {
			file = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Command, r.Cluster, strings.Join(r.Tables, ","),
			stamp(r.StartedAt), dur, r.Status, r.DifferingKeys, file)
	}
	return tw.Flush()
}

func printDivergences(w io.Writer, ds []history.Divergence) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "no divergences recorded")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tKEY\tNODES\tFIRST SEEN\tLAST SEEN\tRESOLVED BY")
	for _, d := range ds {
		resolved := "open"
		if !d.Open() {
			resolved = "run " + strconv.FormatInt(d.ResolvedRun, 10)
			if d.ResolvedByRepairRun != 0 {
				resolved += fmt.Sprintf(" (repair run %d)", d.ResolvedByRepairRun)
			}
		}
		key, _ := json.Marshal(d.Key)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (run %d)\t%s (run %d)\t%s\n", d.Table, key, strings.Join(d.Nodes, ","),
			stamp(d.FirstSeenAt), d.FirstSeenRun, stamp(d.LastSeenAt), d.LastSeenRun, resolved)
	}
	return tw.Flush()
}
