package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
)

// Request is the body of POST /v1/jobs, and what a schedule enqueues: a command, its target
// and its options under the command-line flag names of that command.
type Request struct {
	Command     string          `json:"command"`
	Cluster     string          `json:"cluster,omitempty"`
	Table       string          `json:"table,omitempty"`
	Schema      string          `json:"schema,omitempty"`
	Publication string          `json:"publication,omitempty"`
	DiffFile    string          `json:"diff_file,omitempty"`
	Options     json.RawMessage `json:"options,omitempty"`
}

// Outcome is what a finished job leaves for GET /v1/jobs/{id}: the command's JSON summary
// (as its --json prints it), its exit code and the files it wrote by name (downloadable).
type Outcome struct {
	Summary  any               `json:"summary,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
	DiffFile string            `json:"diff_file,omitempty"`
	// Metrics are the per-table results the metrics and the dashboard show.
	Tables []TableResult `json:"tables,omitempty"`
	// Pairs are a verify job's publisher -> subscriber pairs, for the lag and coverage metrics.
	Pairs []PairResult `json:"pairs,omitempty"`
}

// TableResult is one table's verdict in a job, for metrics and the dashboard.
type TableResult struct {
	Cluster       string           `json:"cluster"`
	Table         string           `json:"table"`
	Status        string           `json:"status"`
	DifferingKeys int              `json:"differing_keys"`
	RowsCompared  map[string]int64 `json:"rows_compared,omitempty"`
	MissingOn     map[string]int   `json:"missing_on,omitempty"`
}

// prepared is a validated request: the nodes it reads or writes (for the per-node limits), and
// the function that runs it in the directory dir.
type prepared struct {
	// Role, when set, raises the role the request needs above its command's (an option that writes).
	Role    string
	Cluster string
	Nodes   []string
	Run     func(ctx context.Context, env *job.Env, dir string) (*Outcome, error)
	// Split, when set, is a table-diff that may be split into range-batch jobs (split.go).
	Split *splitTarget
}

// command is one command the server runs. A new command (verify, mtree table-diff) is one
// entry in commands.
type command struct {
	// Role is the least role allowed to run it.
	Role string
	// ReadOnly commands are retried when the instance running them died; others are run at most
	// once and otherwise left failed for a person.
	ReadOnly bool
	// Prepare validates the request as the command line validates its flags.
	Prepare func(env *job.Env, r *Request) (*prepared, error)
}

// commands are the commands POST /v1/jobs and schedules accept, by name.
var commands = map[string]command{
	"table-diff":   {Role: cluster.RoleOperator, ReadOnly: true, Prepare: prepareTableDiff},
	"schema-diff":  {Role: cluster.RoleOperator, ReadOnly: true, Prepare: prepareSchemaDiff},
	"table-repair": {Role: cluster.RoleAdmin, Prepare: prepareTableRepair},
	"verify":       {Role: cluster.RoleOperator, ReadOnly: true, Prepare: prepareVerify},
	// mtree table-diff writes only pgparity's own tree state on the nodes: a read-only check.
	"mtree table-diff": {Role: cluster.RoleOperator, ReadOnly: true, Prepare: prepareMtreeDiff},
}

// commandNames lists the accepted commands, sorted, for messages.
func commandNames() string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// lookup returns the command a request names.
func lookup(r *Request) (command, error) {
	c, ok := commands[r.Command]
	if !ok {
		return command{}, fault.Input("unknown command %q (use one of %s)", r.Command, commandNames())
	}
	return c, nil
}

// decodeOptions reads a request's options strictly: an unknown name is an input error, as an
// unknown flag is.
func decodeOptions(raw json.RawMessage, dst any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fault.Input("options: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// duration is a flag duration given as a string ("30s") in options.
type duration struct{ time.Duration }

// UnmarshalJSON parses a Go duration string.
func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration", s)
	}
	d.Duration = v
	return nil
}

// nodesOf resolves the nodes a command touches: the cluster's selected nodes.
func nodesOf(env *job.Env, clusterName string, names []string) (string, []string, error) {
	cl, err := env.Cluster(clusterName)
	if err != nil {
		return "", nil, err
	}
	nodes, err := cl.Select(names)
	if err != nil {
		return "", nil, err
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return cl.Name, out, nil
}

// tableDiffOptions are table-diff's flags that a request may set. --out and --quiet/--json
// are not: the server names its files and keeps the summary.
type tableDiffOptions struct {
	Nodes          []string `json:"nodes"`
	BlockSize      int      `json:"block-size"`
	Concurrency    int      `json:"concurrency"`
	MaxConnections int      `json:"max-connections"`
	Output         string   `json:"output"`
	Where          string   `json:"where"`
	Columns        []string `json:"columns"`
	ExcludeColumns []string `json:"exclude-columns"`
	MaxDiffRows    *int     `json:"max-diff-rows"`
	Recheck        duration `json:"recheck"`
	Until          string   `json:"until"`
	RequireRows    bool     `json:"require-rows"`
	Strict         bool     `json:"strict"`
}

func prepareTableDiff(env *job.Env, r *Request) (*prepared, error) {
	var o tableDiffOptions
	if err := decodeOptions(r.Options, &o); err != nil {
		return nil, err
	}
	html, err := outputHTML(o.Output)
	if err != nil {
		return nil, err
	}
	if o.Recheck.Duration < 0 {
		return nil, fault.Input("--recheck must not be negative")
	}
	if _, _, err := catalog.ParseName(r.Table); err != nil {
		return nil, err
	}
	if _, err := job.ParseUntil(o.Until); err != nil {
		return nil, err
	}
	e, err := env.With(job.Overrides{Concurrency: o.Concurrency, MaxConnections: o.MaxConnections,
		BlockSize: o.BlockSize, MaxDiffRows: o.MaxDiffRows})
	if err != nil {
		return nil, err
	}
	name, nodes, err := nodesOf(e, r.Cluster, o.Nodes)
	if err != nil {
		return nil, err
	}
	td := job.TableDiff{
		Cluster: name, Table: r.Table, Nodes: o.Nodes, HTML: html,
		Where: o.Where, Columns: o.Columns, ExcludeColumns: o.ExcludeColumns, Recheck: o.Recheck.Duration,
		Until: o.Until, RequireRows: o.RequireRows, Strict: o.Strict, Tool: "pgparity serve",
	}
	run := func(ctx context.Context, _ *job.Env, dir string) (*Outcome, error) {
		run := *e
		run.Settings.OutputDir = dir
		res, err := job.RunTableDiff(ctx, &run, td)
		if err != nil {
			return nil, err
		}
		return diffOutcome(name, res), differs(res.Diff.Summary.Status)
	}
	return &prepared{Cluster: name, Nodes: nodes, Run: run, Split: &splitTarget{env: e, td: td}}, nil
}

// outputHTML checks a request's output option ("json", the default, or "html").
func outputHTML(output string) (bool, error) {
	switch output {
	case "", "json":
		return false, nil
	case "html":
		return true, nil
	}
	return false, fault.Input("--output must be json or html, got %q", output)
}

// diffOutcome is a table-diff result as the CLI's --json prints it.
func diffOutcome(clusterName string, res *job.DiffResult) *Outcome {
	d := res.Diff
	out := &Outcome{
		Summary: map[string]any{"table": d.Table.String(), "diff_file": res.DiffFile,
			"html_report": res.HTMLFile, "summary": d.Summary},
		Files:    map[string]string{"diff": res.DiffFile},
		DiffFile: res.DiffFile,
		Tables: []TableResult{{Cluster: clusterName, Table: d.Table.String(), Status: d.Summary.Status,
			DifferingKeys: d.Summary.DifferingKeys, RowsCompared: d.Summary.RowsCompared, MissingOn: d.Summary.MissingOn}},
	}
	if res.HTMLFile != "" {
		out.Files["report"] = res.HTMLFile
	}
	return out
}

// differs is the error a finished comparison returns: ErrDiffer unless the nodes match.
func differs(status string) error {
	if status != "match" {
		return fault.ErrDiffer
	}
	return nil
}
