package schema

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

// Options say which schema to compare and how.
type Options struct {
	Schema string
	// DDLOnly compares the structure only, no table data.
	DDLOnly bool
	// SkipTables are tables of Schema whose data is not compared (their structure still is).
	SkipTables []string
	Data       DataOptions
}

// Table is the outcome for one table: its structural differences and its data comparison.
//
// Status is failed when its structure could not be read on some node (Failures) or its data
// comparison failed; else differ when the structure or the data differs (a table missing on a
// node differs); else skipped when the data was not compared (--skip-tables, a partition); else
// identical.
type Table struct {
	Name      string       `json:"name"`
	Status    string       `json:"status"`
	Structure []Difference `json:"structure"`
	Failures  []Failure    `json:"failures,omitempty"`
	Data      Data         `json:"data"`
}

// Failure is an object whose structure could not be read on a node, and why (another session
// holds a lock on a relation it needs). The object is not compared; the run fails (exit 3).
type Failure struct {
	Kind   string `json:"kind"`
	Object string `json:"object"`
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// Result is the outcome of a schema comparison.
type Result struct {
	Schema string   `json:"schema"`
	Nodes  []string `json:"nodes"`
	// Structure holds every structural difference, tables' included, in a stable order.
	Structure []Difference `json:"structure"`
	// Failures holds every object whose structure could not be read on some node, tables'
	// included, in the order of Structure (then by node).
	Failures  []Failure  `json:"failures"`
	Tables    []Table    `json:"tables"`
	Sequences []Sequence `json:"sequences"`
}

// Differs reports whether anything differs: structure, data, or a sequence behind its key.
func (r *Result) Differs() bool {
	if len(r.Structure) > 0 || tablesDiffer(r.Tables) {
		return true
	}
	for _, s := range r.Sequences {
		if s.Behind() {
			return true
		}
	}
	return false
}

// Failed returns the tables that failed: their structure could not be read on some node, or
// their data comparison failed.
func (r *Result) Failed() []string { return failedTables(r.Tables) }

// FailedObjects returns the other objects that could not be read or checked on some node, as
// "kind name": views, functions, sequences, publications… (a failed table is in Failed).
func (r *Result) FailedObjects() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, f := range r.Failures {
		if f.Kind != KindTable {
			add(f.Kind + " " + f.Object)
		}
	}
	for _, s := range r.Sequences {
		if s.Failed() {
			add(KindSequence + " " + s.Name)
		}
	}
	return out
}

// tablesDiffer reports whether any table's data differs.
func tablesDiffer(tables []Table) bool {
	for _, t := range tables {
		if t.Status == StatusDiffer {
			return true
		}
	}
	return false
}

// failedTables names the tables whose data comparison failed.
func failedTables(tables []Table) []string {
	var out []string
	for _, t := range tables {
		if t.Status == StatusFailed {
			out = append(out, t.Name)
		}
	}
	return out
}

// Run compares the schema on every node: structure first, then (unless DDLOnly) the data of
// every structurally comparable table, then the sequences. A schema missing on some node and an
// unknown --skip-tables name are input errors; a node that fails while the structure is read is
// a *cluster.NodeError; a table whose data comparison fails is reported in the result as failed.
func Run(ctx context.Context, pools cluster.Pools, o Options) (*Result, error) {
	nodes := pools.Names()
	snaps, seqs, err := loadAll(ctx, pools, o.Schema)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, name := range o.SkipTables {
		if !anyHasTable(snaps, name) {
			return nil, fault.Input("--skip-tables: %s is not a table of schema %s on any node", name, o.Schema)
		}
		skip[name] = true
	}
	res := &Result{Schema: o.Schema, Nodes: nodes, Structure: Compare(nodes, snaps), Failures: failures(nodes, snaps), Tables: []Table{}}
	if res.Structure == nil {
		res.Structure = []Difference{}
	}
	res.Sequences = compareSequences(nodes, seqs)

	names := tableNames(snaps)
	jobs := make([]tableJob, len(names))
	for i, name := range names {
		t := Table{Name: name, Structure: []Difference{}}
		for _, d := range res.Structure {
			if d.Kind == KindTable && d.Object == name {
				t.Structure = append(t.Structure, d)
			}
		}
		for _, f := range res.Failures {
			if f.Kind == KindTable && f.Object == name {
				t.Failures = append(t.Failures, f)
			}
		}
		res.Tables = append(res.Tables, t)
		jobs[i] = tableJob{name: name, skip: skipReason(nodes, snaps, name, skip[name], o.DDLOnly)}
	}
	data, err := diffTables(ctx, pools, o.Schema, jobs, o.Data)
	if err != nil {
		return nil, err
	}
	for i := range res.Tables {
		t := &res.Tables[i]
		t.Data = data[i]
		t.Status = tableStatus(len(t.Structure) > 0, len(t.Failures) > 0, t.Data, o.DDLOnly)
	}
	return res, nil
}

// failures lists the objects whose structure could not be read, per node, in the order of
// Compare.
func failures(nodes []string, snaps []*Snapshot) []Failure {
	out := []Failure{}
	for i, s := range snaps {
		for id, reason := range s.Failed {
			out = append(out, Failure{Kind: id.Kind, Object: id.Name, Node: nodes[i], Reason: reason})
		}
	}
	order := map[string]int{}
	for i, n := range nodes {
		order[n] = i
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return order[a.Node] < order[b.Node]
	})
	return out
}

// tableStatus combines a table's structure and data outcome (see Table).
func tableStatus(structureDiffers, structureFailed bool, d Data, ddlOnly bool) string {
	switch {
	case structureFailed || d.Status == StatusFailed:
		return StatusFailed
	case structureDiffers || d.Status == StatusDiffer:
		return StatusDiffer
	case d.Status == StatusSkipped && !ddlOnly:
		return StatusSkipped
	default:
		return StatusIdentical
	}
}

// skipReason says why a table's data is not compared, or "" when it is.
func skipReason(nodes []string, snaps []*Snapshot, name string, skipped, ddlOnly bool) string {
	id := ObjectID{KindTable, name}
	var lack, failed []string
	for i, s := range snaps {
		if _, ok := s.Failed[id]; ok {
			failed = append(failed, nodes[i])
		} else if _, ok := s.Objects[id]; !ok {
			lack = append(lack, nodes[i])
		}
	}
	switch {
	case len(failed) > 0:
		return "structure not read on " + strings.Join(failed, ", ")
	case len(lack) > 0:
		return "missing on " + strings.Join(lack, ", ")
	case ddlOnly:
		return "--ddl-only"
	case skipped:
		return "--skip-tables"
	}
	for _, s := range snaps {
		p := s.Objects[id]
		if parent, ok := p["partition of"]; ok {
			return "partition of " + leadingName(parent) + ": its rows are compared through the parent"
		}
		if p["kind"] == "foreign table" {
			return "foreign table"
		}
	}
	if why := columnsDiffer(nodes, snaps, name); why != "" {
		return "columns differ: " + why
	}
	return ""
}

// leadingName returns the qualified name that starts s ("s.\"my parts\" FOR VALUES …"): up to
// the first space outside double quotes.
func leadingName(s string) string {
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			return s[:i]
		}
	}
	return s
}

// columnsDiffer describes how the column names and types of a table differ between nodes, or
// returns "" when they agree (rows are then comparable).
func columnsDiffer(nodes []string, snaps []*Snapshot, table string) string {
	cols := map[string]bool{}
	for _, s := range snaps {
		for c := range s.ColumnTypes[table] {
			cols[c] = true
		}
	}
	names := make([]string, 0, len(cols))
	for c := range cols {
		names = append(names, c)
	}
	sort.Strings(names)
	var problems []string
	for _, c := range names {
		var have, lack, types []string
		seen := map[string]bool{}
		for i, s := range snaps {
			typ, ok := s.ColumnTypes[table][c]
			if !ok {
				lack = append(lack, nodes[i])
				continue
			}
			have = append(have, nodes[i])
			types = append(types, nodes[i]+" "+typ)
			seen[typ] = true
		}
		col := pgx.Identifier{c}.Sanitize()
		switch {
		case len(lack) > 0:
			problems = append(problems, fmt.Sprintf("column %s only on %s", col, strings.Join(have, ", ")))
		case len(seen) > 1:
			problems = append(problems, fmt.Sprintf("column %s has type %s", col, strings.Join(types, ", ")))
		}
	}
	return strings.Join(problems, "; ")
}

func anyHasTable(snaps []*Snapshot, name string) bool {
	id := ObjectID{KindTable, name}
	for _, s := range snaps {
		_, ok := s.Objects[id]
		_, failed := s.Failed[id]
		if ok || failed {
			return true
		}
	}
	return false
}

// tableNames returns the tables of any node, sorted (those whose structure failed included).
func tableNames(snaps []*Snapshot) []string {
	seen := map[string]bool{}
	for _, s := range snaps {
		for id := range s.Objects {
			if id.Kind == KindTable {
				seen[id.Name] = true
			}
		}
		for id := range s.Failed {
			if id.Kind == KindTable {
				seen[id.Name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// lockRetries is how many times loadAll reads a node again when a lock another session took
// after Load looked (probeLocks) made a read give up at lock_timeout: the next read sees it.
const lockRetries = 3

// loadAll reads the structure and the sequences of schema on every node at once, each node
// inside one read-only repeatable-read transaction.
func loadAll(ctx context.Context, pools cluster.Pools, schema string) ([]*Snapshot, [][]seqState, error) {
	snaps := make([]*Snapshot, len(pools))
	seqs := make([][]seqState, len(pools))
	found := make([]bool, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			read := func(tx pgx.Tx) error {
				s, ok, err := Load(gctx, tx, p.Node.Name, schema)
				if err != nil || !ok {
					return err
				}
				snaps[i], found[i] = s, true
				seqs[i], err = loadSequences(gctx, tx, schema, s.locks)
				return err
			}
			var err error
			for try := 1; ; try++ {
				err = pgx.BeginTxFunc(gctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, read)
				if !isLockTimeout(err) || try == lockRetries {
					break
				}
			}
			if err != nil {
				return &cluster.NodeError{Node: p.Node.Name, Err: err}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var lack []string
	for i, ok := range found {
		if !ok {
			lack = append(lack, pools[i].Node.Name)
		}
	}
	if len(lack) > 0 {
		return nil, nil, fault.Input("schema %s does not exist on node(s) %s", pgx.Identifier{schema}.Sanitize(), strings.Join(lack, ", "))
	}
	return snaps, seqs, nil
}
