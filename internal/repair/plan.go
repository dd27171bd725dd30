package repair

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
)

// NewPlan decides, for every row of the diff and every node, what the node must change so that
// the nodes converge under the options. It does no I/O: whatever it needs from the databases
// (commit timestamps) comes in through the options.
func NewPlan(d *report.Diff, o Options) (*Plan, error) {
	if err := o.validate(d); err != nil {
		return nil, err
	}
	p := &Plan{
		Cluster: d.Cluster, Table: d.Table, Key: append([]string{}, d.Key...), Columns: d.Columns,
		Strict: d.Options.Strict, Nodes: d.Nodes, Mode: o.Mode, Source: o.Source,
		Changes: map[string][]Change{},
	}
	b := &builder{p: p, d: d, o: o, hashes: len(d.Key) > 0 && d.Options.RowHash == encode.RowHashRule}
	for i := range d.Rows {
		row := &d.Rows[i]
		switch {
		case len(d.Key) == 0:
			b.wholeRow(i, row)
		case o.Mode == ModeSource:
			b.converge(i, row, o.Source, b.others(o.Source), false)
		case o.Mode == ModeBidirectional:
			b.bidirectional(i, row)
		case o.Mode == ModeFixNulls:
			b.fixNulls(i, row)
		case o.Mode == ModePlan:
			b.byRules(i, row)
		}
	}
	return p, nil
}

type builder struct {
	p *Plan
	d *report.Diff
	o Options
	// hashes: the diff recorded every present node's row hash under the rule this build hashes
	// with, so the plan can carry them to the stale guard.
	hashes bool
}

// hashOf returns node's recorded row hash of the row, or an unknown hash when the diff has none
// (older diff files, whole-row mode, another hash rule) or the node lacks the row.
func (b *builder) hashOf(row *report.Row, node string) rowHash {
	if !b.hashes || node == "" || row.Values[node] == nil {
		return rowHash{}
	}
	s, ok := row.Hashes[node]
	if !ok {
		return rowHash{}
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return rowHash{}
	}
	return rowHash{v: v, known: true}
}

// same reports whether nodes a and b hold the same version of the row (both present): by the
// recorded hashes when the diff has them, which are the comparison's own equality, else by
// sameRecord.
func (b *builder) same(row *report.Row, a, c string) bool {
	if ha, hc := b.hashOf(row, a), b.hashOf(row, c); ha.known && hc.known {
		return ha.v == hc.v
	}
	return sameRecord(row.Values[a], row.Values[c], b.d.Columns, b.p.Strict)
}

// others returns every node but n, in diff order.
func (b *builder) others(n string) []string {
	var out []string
	for _, x := range b.d.Nodes {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

// converge plans the changes that make each target hold the version of node from (every target
// lacks the row when from is "" or lacks it). With noDelete, targets holding a row are never made
// to lack it.
func (b *builder) converge(i int, row *report.Row, from string, targets []string, noDelete bool) {
	var want *report.Record
	if from != "" {
		want = row.Values[from]
	}
	for _, t := range targets {
		cur := row.Values[t]
		var c Change
		switch {
		case want == nil && cur == nil:
			continue
		case want == nil:
			if noDelete {
				continue
			}
			if from != "" && b.o.OutsideWhere[i][from] {
				b.p.Held = append(b.p.Held, Held{Node: t, Key: row.Key, Kind: Delete,
					Reason: from + " holds this key outside the diff's --where filter: its row is not in the diff"})
				continue
			}
			c = Change{Kind: Delete, Expected: cur}
		case cur == nil:
			if b.o.OutsideWhere[i][t] {
				b.p.Held = append(b.p.Held, Held{Node: t, Key: row.Key, Kind: Insert,
					Reason: t + " holds this key outside the diff's --where filter: its row is not in the diff"})
				continue
			}
			c = Change{Kind: Insert, New: want}
		case b.same(row, t, from):
			continue
		default:
			c = Change{Kind: Update, Expected: cur, New: want}
		}
		c.Row, c.Key = i, row.Key
		c.expHash, c.newHash = b.hashOf(row, t), b.hashOf(row, from)
		b.add(t, c)
	}
}

// add records a change unless --insert-only or --upsert-only holds it back.
func (b *builder) add(node string, c Change) {
	switch {
	case b.o.InsertOnly && c.Kind != Insert:
		b.p.Held = append(b.p.Held, Held{Node: node, Key: c.Key, Kind: c.Kind, Reason: "--insert-only: rows are only inserted"})
	case b.o.UpsertOnly && c.Kind == Delete:
		b.p.Held = append(b.p.Held, Held{Node: node, Key: c.Key, Kind: c.Kind, Reason: "--upsert-only: rows are never deleted"})
	default:
		b.p.Changes[node] = append(b.p.Changes[node], c)
	}
}

// bidirectional inserts a row where it is missing when every node having it holds the same
// version; differing versions are a conflict, and nothing of that key is touched.
func (b *builder) bidirectional(i int, row *report.Row) {
	present, _ := b.presence(row)
	if len(present) == 0 {
		return
	}
	for _, n := range present[1:] {
		if !b.same(row, n, present[0]) {
			b.p.Conflicts = append(b.p.Conflicts, Conflict{Key: row.Key, Nodes: present,
				Reason: "nodes hold different versions of the row"})
			return
		}
	}
	b.converge(i, row, present[0], b.d.Nodes, true)
}

// fixNulls fills, per column, the NULLs of nodes holding the row from the peers that have a
// value; when the peers' values differ the column is a conflict and stays as it is.
func (b *builder) fixNulls(i int, row *report.Row) {
	present, _ := b.presence(row)
	if len(present) < 2 {
		return
	}
	filled := map[string]report.Record{}
	var conflictCols []string
	for _, col := range b.d.Columns {
		if b.isKey(col.Name) {
			continue
		}
		var nulls []string
		var value any
		distinct := map[string]bool{}
		for _, n := range present {
			v, _ := row.Values[n].Get(col.Name)
			if v == nil {
				nulls = append(nulls, n)
				continue
			}
			norm := normalValue(v, col, b.p.Strict)
			if len(distinct) == 0 {
				value = v
			}
			distinct[norm] = true
		}
		switch {
		case len(nulls) == 0 || len(distinct) == 0:
			continue
		case len(distinct) > 1:
			conflictCols = append(conflictCols, col.Name)
			continue
		}
		for _, n := range nulls {
			rec, ok := filled[n]
			if !ok {
				rec = append(report.Record{}, *row.Values[n]...)
			}
			for j := range rec {
				if rec[j].Name == col.Name {
					rec[j].Value = value
				}
			}
			filled[n] = rec
		}
	}
	if len(conflictCols) > 0 {
		b.p.Conflicts = append(b.p.Conflicts, Conflict{Key: row.Key, Nodes: present, Columns: conflictCols,
			Reason: "the nodes that have a value disagree on it"})
	}
	for _, n := range present {
		if rec, ok := filled[n]; ok {
			// The merged row is no node's row: its hash is computed on the node.
			b.add(n, Change{Kind: Update, Row: i, Key: row.Key, Expected: row.Values[n], New: &rec, expHash: b.hashOf(row, n)})
		}
	}
}

// wholeRow plans a whole-row (multiset) diff: copies are inserted or deleted until each target
// holds as many copies of the row as the source.
func (b *builder) wholeRow(i int, row *report.Row) {
	src := b.o.Source
	var rec *report.Record
	for _, n := range b.d.Nodes {
		if row.Values[n] != nil {
			rec = row.Values[n]
			break
		}
	}
	want := row.Counts[src]
	for _, t := range b.others(src) {
		have := row.Counts[t]
		switch {
		case have < want:
			b.add(t, Change{Kind: Insert, Row: i, Key: row.Key, New: rec, Copies: want - have, ExpectCount: have})
		case have > want:
			b.add(t, Change{Kind: Delete, Row: i, Key: row.Key, Expected: rec, Copies: have - want, ExpectCount: have})
		}
	}
}

// presence splits the diff's nodes into those holding the row and those lacking it.
func (b *builder) presence(row *report.Row) (present, missing []string) {
	for _, n := range b.d.Nodes {
		if row.Values[n] != nil {
			present = append(present, n)
		} else {
			missing = append(missing, n)
		}
	}
	return present, missing
}

func (b *builder) isKey(name string) bool {
	for _, k := range b.d.Key {
		if k == name {
			return true
		}
	}
	return false
}

// byRules applies the plan file: the key's override, else the first matching rule, else the
// default.
func (b *builder) byRules(i int, row *report.Row) {
	r := b.o.Rules
	act, source := r.decide(b.d, row)
	if act.Verb == ActLatest {
		var why string
		act, why = b.latest(i, row, r.Fallback)
		if act.Verb == "" {
			b.p.Held = append(b.p.Held, Held{Key: row.Key, Reason: source + ": latest-commit-wins: " + why})
			return
		}
		source += ": latest-commit-wins"
		if why != "" {
			source += " (" + why + ")"
		}
	}
	switch act.Verb {
	case ActSkip:
		b.p.Held = append(b.p.Held, Held{Key: row.Key, Reason: source + ": skip"})
	case ActDelete:
		b.converge(i, row, "", b.d.Nodes, false)
	case ActTake:
		b.converge(i, row, act.Node, b.d.Nodes, act.noDelete)
	}
}

// latest picks the version of the node whose commit of the row is newest. Nodes lacking the row
// have no version with a time, so latest-commit-wins never deletes: they receive the winner. When
// a holder's time is unknown or the newest time is shared by differing versions, the fallback
// decides (none: the key is held back, with why).
func (b *builder) latest(i int, row *report.Row, fallback *Action) (Action, string) {
	present, _ := b.presence(row)
	times := b.o.CommitTimes[i]
	var best string
	tie := false
	for _, n := range present {
		t, ok := times[n]
		if !ok {
			return b.fallback(fallback, "no commit timestamp for the row on "+n)
		}
		switch {
		case best == "" || t.After(times[best]):
			best, tie = n, false
		case t.Equal(times[best]) && !b.same(row, n, best):
			tie = true
		}
	}
	if best == "" {
		return Action{}, "no node has the row"
	}
	if tie {
		return b.fallback(fallback, "two versions were committed at the same time")
	}
	return Action{Verb: ActTake, Node: best, noDelete: true}, ""
}

func (b *builder) fallback(f *Action, why string) (Action, string) {
	if f == nil {
		return Action{}, why + " and the plan has no fallback"
	}
	return *f, why + "; fallback " + f.String()
}

// sameRecord reports whether two rows are equal under the diff's equality: values compared as
// text, numeric by value unless strict (1.0 = 1.00).
func sameRecord(a, b *report.Record, cols []report.Column, strict bool) bool {
	for _, c := range cols {
		va, oka := a.Get(c.Name)
		vb, okb := b.Get(c.Name)
		if oka != okb {
			return false
		}
		if (va == nil) != (vb == nil) {
			return false
		}
		if va != nil && normalValue(va, c, strict) != normalValue(vb, c, strict) {
			return false
		}
	}
	return true
}

// normalValue is a value's text for equality: numeric without trailing fractional zeros unless
// strict, as the row hash does.
func normalValue(v any, c report.Column, strict bool) string {
	s, _ := encode.Text(v)
	if strict || !isNumeric(c.Type) || !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func isNumeric(typ string) bool { return typ == "numeric" || strings.HasPrefix(typ, "numeric(") }

// sortedNodes returns the keys of m in order.
func sortedNodes[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a Action) String() string {
	if a.Verb == ActTake {
		return fmt.Sprintf("take %s", a.Node)
	}
	return string(a.Verb)
}
