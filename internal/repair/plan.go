package repair

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
)

// NewPlan decides, for every differing key of an in-memory diff and every node, what the node
// must change so that the nodes converge under the options. It does no I/O: whatever it needs
// from the databases (commit timestamps) comes in through the options. Repairs of diff files plan
// batch by batch instead (see Repair); both use the same builder.
func NewPlan(d *report.Diff, o Options) (*Plan, error) {
	if err := o.validate(d); err != nil {
		return nil, err
	}
	b := newBuilder(d, o)
	src := report.FromDiff(d)
	for i := 0; ; {
		e, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if e.Transient {
			continue
		}
		if err := b.entry(i, e); err != nil {
			return nil, err
		}
		i++
	}
	p := b.take()
	for i := range p.Held {
		p.Held[i].Key = p.keyRecord(p.Held[i].key)
	}
	for i := range p.Conflicts {
		p.Conflicts[i].Key = p.keyRecord(p.Conflicts[i].key)
	}
	return p, nil
}

// builder plans entries, one at a time, into the plan of the current batch. Whether two nodes
// hold the same row is whether they are in the same version of the entry: the diff grouped them
// by its row hash, the comparison's own equality (v1 files without hashes: by equal values).
type builder struct {
	head *Plan
	d    *report.Diff
	o    Options
	// hashes: the diff recorded every version's row hash under the rule this build hashes with,
	// so the plan can carry them to the stale guard.
	hashes bool
	out    *Plan
	ver    []int // per node index: the version it holds in the current entry, -1 = none
}

func newBuilder(d *report.Diff, o Options) *builder {
	head := &Plan{
		Cluster: d.Cluster, Table: d.Table, Key: append([]string{}, d.Key...), Columns: d.Columns,
		Strict: d.Options.Strict, Nodes: d.Nodes, Mode: o.Mode, Source: o.Source,
	}
	b := &builder{head: head, d: d, o: o, hashes: len(d.Key) > 0 && d.Options.RowHash == encode.RowHashRule,
		ver: make([]int, len(d.Nodes))}
	b.out = b.fresh()
	return b
}

func (b *builder) fresh() *Plan {
	p := b.head.header()
	p.Changes = map[string][]Change{}
	return p
}

// take returns the plan built so far and starts a new one.
func (b *builder) take() *Plan {
	p := b.out
	b.out = b.fresh()
	return p
}

// entry plans one entry; i is its index in the diff.
func (b *builder) entry(i int, e *report.Entry) error {
	for n := range b.ver {
		b.ver[n] = -1
	}
	for v := range e.Versions {
		for _, n := range e.Versions[v].Nodes {
			if n < 0 || n >= len(b.ver) {
				return fmt.Errorf("diff entry %d: node number %d out of range", i+1, n)
			}
			b.ver[n] = v
		}
	}
	if len(b.d.Key) > 0 && len(e.Key) != len(b.d.Key) {
		return fmt.Errorf("diff entry %d: %d key values, the key has %d columns", i+1, len(e.Key), len(b.d.Key))
	}
	switch {
	case len(b.d.Key) == 0:
		return b.wholeRow(i, e)
	case b.o.Mode == ModeSource:
		b.converge(i, e, b.node(b.o.Source), b.others(b.node(b.o.Source)), false)
	case b.o.Mode == ModeBidirectional:
		b.bidirectional(i, e)
	case b.o.Mode == ModeFixNulls:
		b.fixNulls(i, e)
	case b.o.Mode == ModePlan:
		b.byRules(i, e)
	}
	return nil
}

// node returns the index of a node of the diff, or -1.
func (b *builder) node(name string) int {
	for i, n := range b.d.Nodes {
		if n == name {
			return i
		}
	}
	return -1
}

// values returns the row node n holds in e (nil: none).
func (b *builder) values(e *report.Entry, n int) []*string {
	if n < 0 || b.ver[n] < 0 {
		return nil
	}
	vals := e.Versions[b.ver[n]].Values
	if vals == nil {
		vals = []*string{}
	}
	return vals
}

// hashOf returns node n's recorded row hash, or an unknown hash when the diff has none (older diff
// files, whole-row mode, another hash rule) or the node lacks the row. A recorded 0 is taken as
// unknown: files without hashes carry 0, and an unknown hash is only computed on the node.
func (b *builder) hashOf(e *report.Entry, n int) rowHash {
	if !b.hashes || n < 0 || b.ver[n] < 0 {
		return rowHash{}
	}
	h := e.Versions[b.ver[n]].Hash
	return rowHash{v: h, known: h != 0}
}

// same reports whether nodes a and c hold the same version of the row (both present).
func (b *builder) same(a, c int) bool { return b.ver[a] >= 0 && b.ver[a] == b.ver[c] }

// others returns every node index but n.
func (b *builder) others(n int) []int {
	out := make([]int, 0, len(b.d.Nodes))
	for i := range b.d.Nodes {
		if i != n {
			out = append(out, i)
		}
	}
	return out
}

func (b *builder) all() []int { return b.others(-1) }

// presence returns the nodes holding the row.
func (b *builder) presence() []int {
	var present []int
	for n, v := range b.ver {
		if v >= 0 {
			present = append(present, n)
		}
	}
	return present
}

func (b *builder) names(nodes []int) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = b.d.Nodes[n]
	}
	return out
}

// converge plans the changes that make each target hold the version of node from (every target
// lacks the row when from is -1 or lacks it). With noDelete, targets holding a row are never made
// to lack it.
func (b *builder) converge(i int, e *report.Entry, from int, targets []int, noDelete bool) {
	want := b.values(e, from)
	for _, t := range targets {
		cur := b.values(e, t)
		var c Change
		switch {
		case want == nil && cur == nil:
			continue
		case want == nil:
			if noDelete {
				continue
			}
			if from >= 0 && b.o.OutsideWhere[i][b.d.Nodes[from]] {
				b.hold(Held{Node: b.d.Nodes[t], key: e.Key, Kind: Delete,
					Reason: b.d.Nodes[from] + " holds this key outside the diff's --where filter: its row is not in the diff"})
				continue
			}
			c = Change{Kind: Delete, Expected: cur}
		case cur == nil:
			if b.o.OutsideWhere[i][b.d.Nodes[t]] {
				b.hold(Held{Node: b.d.Nodes[t], key: e.Key, Kind: Insert,
					Reason: b.d.Nodes[t] + " holds this key outside the diff's --where filter: its row is not in the diff"})
				continue
			}
			c = Change{Kind: Insert, New: want}
		case b.same(t, from):
			continue
		default:
			c = Change{Kind: Update, Expected: cur, New: want}
		}
		c.Row, c.Key = i, e.Key
		c.expHash, c.newHash = b.hashOf(e, t), b.hashOf(e, from)
		b.add(t, c)
	}
}

func (b *builder) hold(h Held) { b.out.Held = append(b.out.Held, h) }

// add records a change unless --insert-only or --upsert-only holds it back.
func (b *builder) add(node int, c Change) {
	name := b.d.Nodes[node]
	switch {
	case b.o.InsertOnly && c.Kind != Insert:
		b.hold(Held{Node: name, key: c.Key, Kind: c.Kind, Reason: "--insert-only: rows are only inserted"})
	case b.o.UpsertOnly && c.Kind == Delete:
		b.hold(Held{Node: name, key: c.Key, Kind: c.Kind, Reason: "--upsert-only: rows are never deleted"})
	default:
		b.out.Changes[name] = append(b.out.Changes[name], c)
	}
}

// bidirectional inserts a row where it is missing when every node having it holds the same
// version; differing versions are a conflict, and nothing of that key is touched.
func (b *builder) bidirectional(i int, e *report.Entry) {
	present := b.presence()
	if len(present) == 0 {
		return
	}
	for _, n := range present[1:] {
		if !b.same(n, present[0]) {
			b.out.Conflicts = append(b.out.Conflicts, Conflict{key: e.Key, Nodes: b.names(present),
				Reason: "nodes hold different versions of the row"})
			return
		}
	}
	b.converge(i, e, present[0], b.all(), true)
}

// fixNulls fills, per column, the NULLs of nodes holding the row from the peers that have a
// value; when the peers' values differ the column is a conflict and stays as it is. Values are
// compared as the row hash compares them (numeric by value unless strict, domains by their base
// type).
func (b *builder) fixNulls(i int, e *report.Entry) {
	present := b.presence()
	if len(present) < 2 {
		return
	}
	filled := map[int][]*string{}
	var conflictCols []string
	for j, col := range b.d.Columns {
		if b.isKey(col.Name) {
			continue
		}
		var nulls []int
		var value *string
		distinct := 0
		for _, n := range present {
			v := at(b.values(e, n), j)
			if v == nil {
				nulls = append(nulls, n)
				continue
			}
			if value == nil {
				value, distinct = v, 1
			} else if distinct == 1 && !sameValue(col, *value, *v, b.head.Strict) {
				distinct = 2
			}
		}
		switch {
		case len(nulls) == 0 || distinct == 0:
			continue
		case distinct > 1:
			conflictCols = append(conflictCols, col.Name)
			continue
		}
		for _, n := range nulls {
			rec, ok := filled[n]
			if !ok {
				rec = append([]*string{}, b.values(e, n)...)
				for len(rec) < len(b.d.Columns) {
					rec = append(rec, nil)
				}
			}
			rec[j] = value
			filled[n] = rec
		}
	}
	if len(conflictCols) > 0 {
		b.out.Conflicts = append(b.out.Conflicts, Conflict{key: e.Key, Nodes: b.names(present), Columns: conflictCols,
			Reason: "the nodes that have a value disagree on it"})
	}
	for _, n := range present {
		if rec, ok := filled[n]; ok {
			// The merged row is no node's row: its hash is computed on the node.
			b.add(n, Change{Kind: Update, Row: i, Key: e.Key, Expected: b.values(e, n), New: rec, expHash: b.hashOf(e, n)})
		}
	}
}

// at returns vals[j], nil past the end.
func at(vals []*string, j int) *string {
	if j < len(vals) {
		return vals[j]
	}
	return nil
}

// wholeRow plans a whole-row (multiset) entry: copies are inserted or deleted until each target
// holds as many copies of the row as the source.
func (b *builder) wholeRow(i int, e *report.Entry) error {
	if len(e.Versions) == 0 {
		return fmt.Errorf("diff entry %d: a whole-row entry without its row", i+1)
	}
	v := &e.Versions[0]
	rec := v.Values
	if rec == nil {
		rec = []*string{}
	}
	key := []string{fmt.Sprint(v.Hash)}
	count := func(n int) int64 {
		if n >= 0 && n < len(e.Counts) {
			return e.Counts[n]
		}
		return 0
	}
	src := b.node(b.o.Source)
	want := count(src)
	for _, t := range b.others(src) {
		have := count(t)
		switch {
		case have < want:
			b.add(t, Change{Kind: Insert, Row: i, Key: key, New: rec, Copies: want - have, ExpectCount: have})
		case have > want:
			b.add(t, Change{Kind: Delete, Row: i, Key: key, Expected: rec, Copies: have - want, ExpectCount: have})
		}
	}
	return nil
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
func (b *builder) byRules(i int, e *report.Entry) {
	r := b.o.Rules
	act, source := r.decide(b, e)
	if act.Verb == ActLatest || act.Verb == ActFreshest {
		var why string
		name := act.String()
		if act.Verb == ActLatest {
			act, why = b.latest(i, e, r.Fallback)
		} else {
			act, why = b.freshest(e, act.Column, r.Fallback)
		}
		if act.Verb == "" {
			b.hold(Held{key: e.Key, Reason: source + ": " + name + ": " + why})
			return
		}
		source += ": " + name
		if why != "" {
			source += " (" + why + ")"
		}
	}
	switch act.Verb {
	case ActSkip:
		b.hold(Held{key: e.Key, Reason: source + ": skip"})
	case ActDelete:
		b.converge(i, e, -1, b.all(), false)
	case ActTake:
		b.converge(i, e, b.node(act.Node), b.all(), act.noDelete)
	}
}

// latest picks the version of the node whose commit of the row is newest. Nodes lacking the row
// have no version with a time, so latest-commit-wins never deletes: they receive the winner. When
// a holder's time is unknown or the newest time is shared by differing versions, the fallback
// decides (none: the key is held back, with why).
func (b *builder) latest(i int, e *report.Entry, fallback *Action) (Action, string) {
	times := b.o.CommitTimes[i]
	best := -1
	tie := false
	for _, n := range b.presence() {
		t, ok := times[b.d.Nodes[n]]
		if !ok {
			return b.fallback(fallback, "no commit timestamp for the row on "+b.d.Nodes[n])
		}
		switch {
		case best < 0 || t.After(times[b.d.Nodes[best]]):
			best, tie = n, false
		case t.Equal(times[b.d.Nodes[best]]) && !b.same(n, best):
			tie = true
		}
	}
	if best < 0 {
		return Action{}, "no node has the row"
	}
	if tie {
		return b.fallback(fallback, "two versions were committed at the same time")
	}
	return Action{Verb: ActTake, Node: b.d.Nodes[best], noDelete: true}, ""
}

// freshest picks the version whose value of the timestamp column col is greatest among the nodes
// that have the row (NULL is older than any value). Like latest-commit-wins it never deletes:
// nodes lacking the row receive the winner. When the greatest value is shared by differing
// versions, or no holder has a value, the fallback decides (none: the key is held back, with why).
func (b *builder) freshest(e *report.Entry, col string, fallback *Action) (Action, string) {
	j := column(b.d.Columns, col)
	c := b.d.Columns[j]
	best := -1
	var bestV *string
	tie := false
	for _, n := range b.presence() {
		v := at(b.values(e, n), j)
		switch {
		case best < 0:
			best, bestV = n, v
		case b.same(n, best):
		default:
			switch cmp := compareFresh(c, v, bestV); {
			case cmp > 0:
				best, bestV, tie = n, v, false
			case cmp == 0:
				tie = true
			}
		}
	}
	if best < 0 {
		return Action{}, "no node has the row"
	}
	if tie {
		return b.fallback(fallback, "two versions have the same "+col)
	}
	return Action{Verb: ActTake, Node: b.d.Nodes[best], noDelete: true}, ""
}

// compareFresh orders two texts of a timestamp column: NULL first, -infinity before and infinity
// after every value, timestamps and dates by time (the text is PostgreSQL's ISO output under the
// pinned settings), anything else as plan comparisons do (numbers by value, else byte-wise).
func compareFresh(c report.Column, a, b *string) int {
	rank := func(v *string) int {
		switch {
		case v == nil:
			return 0
		case *v == "-infinity":
			return 1
		case *v == "infinity":
			return 3
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb || ra != 2 {
		return ra - rb
	}
	ta, oka := parseTime(baseType(c), *a)
	tb, okb := parseTime(baseType(c), *b)
	if oka && okb {
		return ta.Compare(tb)
	}
	return compareValues(*a, *b)
}

// parseTime reads a timestamp, timestamptz or date as PostgreSQL prints it in ISO style (BC
// years and others it cannot read: false).
func parseTime(typ string, s string) (time.Time, bool) {
	var layouts []string
	switch {
	case strings.HasPrefix(typ, "timestamp") && strings.Contains(typ, "with time zone"):
		layouts = []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"}
	case strings.HasPrefix(typ, "timestamp"):
		layouts = []string{"2006-01-02 15:04:05.999999999"}
	case typ == "date":
		layouts = []string{"2006-01-02"}
	default:
		return time.Time{}, false
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (b *builder) fallback(f *Action, why string) (Action, string) {
	if f == nil {
		return Action{}, why + " and the plan has no fallback"
	}
	return *f, why + "; fallback " + f.String()
}

// sameValue reports whether two texts of a column are equal values under the row hash's rule:
// numeric (or a domain over numeric) by value unless strict (1.0 = 1.00), anything else by its
// text.
func sameValue(c report.Column, a, b string, strict bool) bool {
	if a == b {
		return true
	}
	if strict || !isNumeric(baseType(c)) {
		return false
	}
	return trimScale(a) == trimScale(b)
}

// trimScale drops trailing fractional zeros of a numeric's text, as trim_scale does.
func trimScale(s string) string {
	if !strings.Contains(s, ".") || strings.ContainsAny(s, "eE") {
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
	switch a.Verb {
	case ActTake:
		return fmt.Sprintf("take %s", a.Node)
	case ActFreshest:
		return fmt.Sprintf("freshest %s", a.Column)
	}
	return string(a.Verb)
}
