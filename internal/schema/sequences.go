package schema

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
)

//go:embed fix_sequence.sql
var fixSequenceSQL string

// Sequence is one sequence of the schema on every node. Logical replication does not replicate
// sequences, so a subscriber's sequence stays where it was while rows arrive with keys from the
// publisher's: after a failover, nextval would then return keys that already exist.
type Sequence struct {
	Name string `json:"name"`
	// OwnedBy is the column the sequence feeds (serial, identity or OWNED BY): schema.table.column.
	OwnedBy string `json:"owned_by,omitempty"`
	// Nodes holds the state per node; a node without the sequence is absent.
	Nodes map[string]*SequenceState `json:"nodes"`
}

// SequenceState is a sequence on one node.
type SequenceState struct {
	// LastValue is pg_sequences.last_value: null until nextval or setval was first called.
	LastValue *int64 `json:"last_value"`
	// NextValue is what nextval would return.
	NextValue int64 `json:"next_value"`
	// MaxKey is the largest value of the owning column on this node (null: no rows, or no owner).
	MaxKey *int64 `json:"max_key"`
	// Increment is the sequence's increment.
	Increment int64 `json:"increment"`
	// IsBehind is set when NextValue is not past MaxKey: nextval would return an existing key.
	IsBehind bool `json:"behind"`
	// Error says why the sequence's state or its column's largest key was not read on this node
	// (another session holds a lock); the sequence is then not checked there.
	Error string `json:"error,omitempty"`
}

// Failed reports whether the sequence could not be checked on some node (State.Error).
func (s Sequence) Failed() bool {
	for _, st := range s.Nodes {
		if st.Error != "" {
			return true
		}
	}
	return false
}

// Behind reports whether the sequence is behind its column's largest key on any node.
func (s Sequence) Behind() bool {
	for _, st := range s.Nodes {
		if st.IsBehind {
			return true
		}
	}
	return false
}

// seqState is one row of sequences.sql on one node, with the owning column's largest value.
type seqState struct {
	name               string
	increment, start   int64
	last               *int64
	ownerSchema, table *string
	relkind, column    *string
	numeric            *bool // the owning column holds numbers
	maxKey             *int64
	// next is what nextval would return, read from the sequence itself: pg_sequences shows
	// last_value as null both before the first nextval and after RESTART or setval(…, false),
	// when the next value is last_value rather than start_value.
	next int64
	// err says why the state (or the largest key) was not read: a lock.
	err string
}

func (s seqState) owned() bool { return s.table != nil && s.column != nil }

// loadSequences reads the schema's sequences on one node and the largest value of each owning
// column, except what would wait for a lock another session holds (l, from probeLocks): such a
// sequence carries the reason instead.
func loadSequences(ctx context.Context, q Querier, schema string, l *locks) ([]seqState, error) {
	rows, err := q.Query(ctx, sequencesSQL, schema, l.relations)
	if err != nil {
		return nil, fmt.Errorf("read sequences of schema %s: %w", schema, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seqState, error) {
		var s seqState
		err := r.Scan(&s.name, &s.increment, &s.start, &s.last, &s.ownerSchema, &s.table, &s.relkind, &s.column, &s.numeric)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read sequences of schema %s: %w", schema, err)
	}
	for id, reason := range l.failed {
		if id.Kind == KindSequence {
			out = append(out, seqState{name: id.Name, err: "state not read: " + reason})
		}
	}
	for i := range out {
		s := &out[i]
		if s.err != "" {
			continue
		}
		var last int64
		var called bool
		if err := q.QueryRow(ctx, seqStateSQL(schema, s.name)).Scan(&last, &called); err != nil {
			return nil, fmt.Errorf("read state of sequence %s: %w", pgx.Identifier{schema, s.name}.Sanitize(), err)
		}
		s.next = last
		if called {
			s.next = last + s.increment
		}
		if !s.owned() || s.numeric == nil || !*s.numeric {
			continue
		}
		if reason, ok := l.largestKey[s.name]; ok {
			s.err = "largest key not read: " + reason
			continue
		}
		sql, args := maxKeySQL(*s.ownerSchema, *s.table, *s.relkind, *s.column)
		if err := q.QueryRow(ctx, sql, args...).Scan(&s.maxKey); err != nil {
			return nil, fmt.Errorf("read largest %s of %s for sequence %s: %w", *s.column,
				pgx.Identifier{*s.ownerSchema, *s.table}.Sanitize(), s.name, err)
		}
	}
	return out, nil
}

// seqStateSQL returns the query for a sequence's last_value and is_called.
func seqStateSQL(schema, name string) string {
	return "SELECT last_value, is_called FROM " + pgx.Identifier{schema, name}.Sanitize()
}

// fixSQL returns the statement that advances a sequence past a key (fix_sequence.sql), with
// parameters schema, sequence name and key.
func fixSQL(schema, name string) string {
	return fmt.Sprintf(fixSequenceSQL, pgx.Identifier{schema, name}.Sanitize())
}

// maxKeySQL returns the query for the largest value of a column (of a whole partition tree for a
// partitioned table, of the table alone otherwise).
func maxKeySQL(schema, table, relkind, column string) (string, []any) {
	from := pgx.Identifier{schema, table}.Sanitize()
	if relkind != "p" {
		from = "ONLY " + from
	}
	return "SELECT pg_catalog.max(" + pgx.Identifier{column}.Sanitize() + ")::pg_catalog.int8 FROM " + from, nil
}

// compareSequences combines the per-node sequence states into one Sequence per name.
func compareSequences(nodes []string, perNode [][]seqState) []Sequence {
	byName := map[string]*Sequence{}
	for i, states := range perNode {
		for _, s := range states {
			seq := byName[s.name]
			if seq == nil {
				seq = &Sequence{Name: s.name, Nodes: map[string]*SequenceState{}}
				byName[s.name] = seq
			}
			if seq.OwnedBy == "" && s.owned() {
				seq.OwnedBy = *s.ownerSchema + "." + *s.table + "." + *s.column
			}
			st := &SequenceState{LastValue: s.last, NextValue: s.next, MaxKey: s.maxKey, Increment: s.increment, Error: s.err}
			st.IsBehind = s.err == "" && s.increment > 0 && s.maxKey != nil && st.NextValue <= *s.maxKey
			seq.Nodes[nodes[i]] = st
		}
	}
	out := make([]Sequence, 0, len(byName))
	for _, s := range byName {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Fix is one sequence advanced (or to advance, in a dry run) on one node.
type Fix struct {
	Node     string `json:"node"`
	Sequence string `json:"sequence"`
	// From is the value nextval returned before; To is the value set with setval, so that
	// nextval next returns To + increment.
	From      int64 `json:"from"`
	To        int64 `json:"to"`
	Increment int64 `json:"increment"`
	Applied   bool  `json:"applied"`
	// Skipped is set when, on applying, the sequence was already past the key (another session
	// advanced it since it was read).
	Skipped bool `json:"skipped,omitempty"`
}

// SQL is the statement the fix runs, for dry-run output.
func (f Fix) SQL(schema string) string {
	return fmt.Sprintf("SELECT pg_catalog.setval('%s', %d, true);", escapeLiteral(pgx.Identifier{schema, f.Sequence}.Sanitize()), f.To)
}

func escapeLiteral(s string) string {
	out := ""
	for _, r := range s {
		if r == '\'' {
			out += "'"
		}
		out += string(r)
	}
	return out
}

// PlanSequenceFixes lists, per node, the sequences behind their column's largest key and the
// value each must be set to, in sequence then node order.
func PlanSequenceFixes(res *Result) []Fix {
	var out []Fix
	for _, s := range res.Sequences {
		for _, n := range res.Nodes {
			st := s.Nodes[n]
			if st == nil || !st.IsBehind {
				continue
			}
			out = append(out, Fix{Node: n, Sequence: s.Name, From: st.NextValue, To: *st.MaxKey, Increment: st.Increment})
		}
	}
	return out
}

// ApplySequenceFixes runs the fixes of res: each advances a sequence with setval, unless it is
// already past the value (it never moves a sequence backwards), and res is updated to match. It
// stops at the first failure and returns the fixes with Applied or Skipped set for those done.
func ApplySequenceFixes(ctx context.Context, pools cluster.Pools, res *Result, fixes []Fix) ([]Fix, error) {
	schema := res.Schema
	byNode := map[string]*cluster.Pool{}
	for _, p := range pools {
		byNode[p.Node.Name] = p
	}
	out := append([]Fix{}, fixes...)
	for i := range out {
		f := &out[i]
		p := byNode[f.Node]
		if p == nil {
			return out, fmt.Errorf("sequence fix for unknown node %s", f.Node)
		}
		var set int64
		err := p.QueryRow(ctx, fixSQL(schema, f.Sequence), schema, f.Sequence, f.To).Scan(&set)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			f.Skipped = true
		case err != nil:
			return out, &cluster.NodeError{Node: f.Node, Err: fmt.Errorf("advance sequence %s: %w", pgx.Identifier{schema, f.Sequence}.Sanitize(), err)}
		default:
			f.Applied = true
		}
		res.markFixed(*f)
	}
	return out, nil
}

// markFixed records in the result that a fix was applied (or found unnecessary).
func (r *Result) markFixed(f Fix) {
	for _, s := range r.Sequences {
		st := s.Nodes[f.Node]
		if s.Name != f.Sequence || st == nil {
			continue
		}
		if f.Applied {
			st.LastValue = &f.To
			st.NextValue = f.To + st.Increment
		}
		st.IsBehind = false
	}
}
