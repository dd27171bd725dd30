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
// Status is failed when the data comparison failed; else differ when the structure or the data
// differs (a table missing on a node differs); else skipped when the data was not compared
// (--skip-tables, a partition); else identical.
type Table struct {
	Name      string       `json:"name"`
	Status    string       `json:"status"`
	Structure []Difference `json:"structure"`
	Data      Data         `json:"data"`
}

// Result is the outcome of a schema comparison.
type Result struct {
	Schema string   `json:"schema"`
	Nodes  []string `json:"nodes"`
	// Structure holds every structural difference, tables' included, in a stable order.
	Structure []Difference `json:"structure"`
	Tables    []Table      `json:"tables"`
	Sequences []Sequence   `json:"sequences"`
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

// Failed returns the tables whose data comparison failed.
func (r *Result) Failed() []string { return failedTables(r.Tables) }

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
	res := &Result{Schema: o.Schema, Nodes: nodes, Structure: Compare(nodes, snaps), Tables: []Table{}}
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
		t.Status = tableStatus(len(t.Structure) > 0, t.Data, o.DDLOnly)
	}
	return res, nil
}

// tableStatus combines a table's structure and data outcome (see Table).
func tableStatus(structureDiffers bool, d Data, ddlOnly bool) string {
	switch {
	case d.Status == StatusFailed:
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
	var lack []string
	for i, s := range snaps {
		if _, ok := s.Objects[id]; !ok {
			lack = append(lack, nodes[i])
		}
	}
	switch {
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
	for _, s := range snaps {
		if _, ok := s.Objects[ObjectID{KindTable, name}]; ok {
			return true
		}
	}
	return false
}

// tableNames returns the tables of any node, sorted.
func tableNames(snaps []*Snapshot) []string {
	seen := map[string]bool{}
	for _, s := range snaps {
		for id := range s.Objects {
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

// loadAll reads the structure and the sequences of schema on every node at once, each node
// inside one read-only repeatable-read transaction.
func loadAll(ctx context.Context, pools cluster.Pools, schema string) ([]*Snapshot, [][]seqState, error) {
	snaps := make([]*Snapshot, len(pools))
	seqs := make([][]seqState, len(pools))
	found := make([]bool, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			err := pgx.BeginTxFunc(gctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				s, ok, err := Load(gctx, tx, p.Node.Name, schema)
				if err != nil || !ok {
					return err
				}
				snaps[i], found[i] = s, true
				seqs[i], err = loadSequences(gctx, tx, schema)
				return err
			})
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
