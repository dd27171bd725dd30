package repair

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Verb is what an action does with a key.
type Verb string

// Plan file actions.
const (
	ActTake   Verb = "take"
	ActLatest Verb = "latest-commit-wins"
	// ActFreshest takes the version whose timestamp column (Action.Column) is greatest.
	ActFreshest Verb = "freshest"
	ActDelete   Verb = "delete"
	ActSkip     Verb = "skip"
)

// Action is a parsed plan file action: "take NODE", "latest-commit-wins", "freshest COLUMN",
// "delete" or "skip".
type Action struct {
	Verb     Verb
	Node     string
	Column   string // freshest: the application timestamp column
	noDelete bool   // latest-commit-wins: nodes lacking the row receive it, none is deleted
}

// Rules is a parsed plan file (docs/repair-plans.md).
type Rules struct {
	Overrides []Override
	Rules     []Rule
	Default   Action
	Fallback  *Action // latest-commit-wins without a usable timestamp; nil = hold the key back
	// byKey indexes the overrides by key text (see overrideKey), built by check: a plan saved
	// from the HTML report holds one override per differing key, and matching every row against
	// every override would be quadratic.
	byKey map[string]int
}

// Override fixes the action of one key.
type Override struct {
	Key    map[string]Scalar
	Action Action
}

// Rule is a condition and the action for rows that meet it.
type Rule struct {
	Name   string
	When   When
	Action Action
	line   int
}

// When is a rule's condition: every part given must hold.
type When struct {
	PresentOn []string `yaml:"present_on"` // every listed node has the row
	MissingOn []string `yaml:"missing_on"` // every listed node lacks the row
	Differs   []string `yaml:"differs"`    // the column's value differs between nodes having the row
	Columns   []Match  `yaml:"columns"`
}

// Match tests one column of the row on one node ("any" node having the row, by default, or "all").
type Match struct {
	Column    string   `yaml:"column"`
	Node      string   `yaml:"node"`
	Equals    *Scalar  `yaml:"equals"`
	NotEquals *Scalar  `yaml:"not_equals"`
	In        []Scalar `yaml:"in"`
	IsNull    *bool    `yaml:"is_null"`
	LT        *Scalar  `yaml:"lt"`
	LE        *Scalar  `yaml:"le"`
	GT        *Scalar  `yaml:"gt"`
	GE        *Scalar  `yaml:"ge"`
}

// Scalar is a YAML scalar kept as the text it was written as; Null is set for null / ~.
type Scalar struct {
	Text string
	Null bool
}

// UnmarshalYAML keeps the scalar's text.
func (s *Scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a single value", n.Line)
	}
	s.Text, s.Null = n.Value, n.Tag == "!!null"
	return nil
}

type fileRules struct {
	Version   int `yaml:"version"`
	Overrides []struct {
		Key    map[string]Scalar `yaml:"key"`
		Action string            `yaml:"action"`
	} `yaml:"overrides"`
	Rules    []yaml.Node `yaml:"rules"`
	Default  string      `yaml:"default"`
	Fallback string      `yaml:"fallback"`
}

type fileRule struct {
	Name   string `yaml:"name"`
	When   When   `yaml:"when"`
	Action string `yaml:"action"`
}

// ReadRules reads a plan file. Its syntax is checked here; names of nodes and columns are
// checked against the diff by NewPlan. Problems are input errors naming the line.
func ReadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Input("cannot read plan file %s: %v", path, err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return nil, fault.Input("plan file %s: %v", path, err)
	}
	return r, nil
}

// ParseRules parses the YAML of a plan file.
func ParseRules(b []byte) (*Rules, error) {
	var f fileRules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty plan")
		}
		return nil, fmt.Errorf("%s", oneLine(err))
	}
	if f.Version != 0 && f.Version != 1 {
		return nil, fmt.Errorf("version %d is not known (this pgparity reads version 1)", f.Version)
	}
	r := &Rules{}
	var err error
	if f.Default == "" {
		f.Default = "skip"
	}
	if r.Default, err = parseAction(f.Default); err != nil {
		return nil, fmt.Errorf("default: %v", err)
	}
	if f.Fallback != "" {
		a, err := parseAction(f.Fallback)
		if err != nil {
			return nil, fmt.Errorf("fallback: %v", err)
		}
		if a.Verb == ActLatest || a.Verb == ActFreshest {
			return nil, fmt.Errorf("fallback: %s cannot be a fallback (use take NODE, delete or skip)", a.Verb)
		}
		r.Fallback = &a
	}
	for i, o := range f.Overrides {
		a, err := parseAction(o.Action)
		if err != nil {
			return nil, fmt.Errorf("override %d: %v", i+1, err)
		}
		if len(o.Key) == 0 {
			return nil, fmt.Errorf("override %d: key is missing", i+1)
		}
		r.Overrides = append(r.Overrides, Override{Key: o.Key, Action: a})
	}
	for i := range f.Rules {
		n := &f.Rules[i]
		var fr fileRule
		if err := strictDecode(n, &fr); err != nil {
			return nil, fmt.Errorf("rule %d (line %d): %s", i+1, n.Line, oneLine(err))
		}
		a, err := parseAction(fr.Action)
		if err != nil {
			return nil, fmt.Errorf("rule %d (line %d): %v", i+1, n.Line, err)
		}
		for j, m := range fr.When.Columns {
			if err := m.validate(); err != nil {
				return nil, fmt.Errorf("rule %d (line %d), column condition %d: %v", i+1, n.Line, j+1, err)
			}
		}
		name := fr.Name
		if name == "" {
			name = fmt.Sprintf("rule %d", i+1)
		}
		r.Rules = append(r.Rules, Rule{Name: name, When: fr.When, Action: a, line: n.Line})
	}
	return r, nil
}

// strictDecode re-decodes a node refusing unknown fields (yaml.Node.Decode ignores them).
func strictDecode(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(out)
}

func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:; ")
	return strings.Join(strings.Fields(msg), " ")
}

func parseAction(s string) (Action, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 2 && f[0] == "take":
		return Action{Verb: ActTake, Node: f[1]}, nil
	case len(f) == 1 && f[0] == string(ActLatest):
		return Action{Verb: ActLatest}, nil
	case len(f) == 2 && (f[0] == string(ActFreshest) || f[0] == string(ActFreshest)+":"):
		return Action{Verb: ActFreshest, Column: f[1]}, nil
	case len(f) == 1 && f[0] == string(ActDelete):
		return Action{Verb: ActDelete}, nil
	case len(f) == 1 && f[0] == string(ActSkip):
		return Action{Verb: ActSkip}, nil
	}
	return Action{}, fmt.Errorf("unknown action %q (use: take NODE, latest-commit-wins, freshest COLUMN, delete, skip)", s)
}

func (m *Match) validate() error {
	if m.Column == "" {
		return fmt.Errorf("column is missing")
	}
	n := 0
	for _, set := range []bool{m.Equals != nil, m.NotEquals != nil, m.In != nil, m.IsNull != nil,
		m.LT != nil, m.LE != nil, m.GT != nil, m.GE != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of equals, not_equals, in, is_null, lt, le, gt, ge for column %q", m.Column)
	}
	return nil
}

// check validates the names the plan uses against the diff: nodes, columns, override keys.
func (r *Rules) check(d *report.Diff) error {
	nodes := map[string]bool{}
	for _, n := range d.Nodes {
		nodes[n] = true
	}
	cols := map[string]bool{}
	for _, c := range d.Columns {
		cols[c.Name] = true
	}
	checkAction := func(where string, a *Action) error {
		if a.Verb == ActTake && !nodes[a.Node] {
			return fault.Input("plan %s: take %s: %q is not a node of the diff file (nodes: %v)", where, a.Node, a.Node, d.Nodes)
		}
		if a.Verb == ActFreshest && !cols[a.Column] {
			return fault.Input("plan %s: freshest %s: column %q is not a column of the diff file", where, a.Column, a.Column)
		}
		return nil
	}
	if err := checkAction("default", &r.Default); err != nil {
		return err
	}
	if r.Fallback != nil {
		if err := checkAction("fallback", r.Fallback); err != nil {
			return err
		}
	}
	r.byKey = map[string]int{}
	for i := range r.Overrides {
		o := &r.Overrides[i]
		where := fmt.Sprintf("override %d", i+1)
		if err := checkAction(where, &o.Action); err != nil {
			return err
		}
		if len(o.Key) != len(d.Key) {
			return fault.Input("plan %s: key must name exactly the key columns %v", where, d.Key)
		}
		for _, k := range d.Key {
			if _, ok := o.Key[k]; !ok {
				return fault.Input("plan %s: key must name exactly the key columns %v", where, d.Key)
			}
		}
		texts := make([]*string, len(d.Key))
		for j, k := range d.Key {
			if v := o.Key[k]; !v.Null {
				texts[j] = &v.Text
			}
		}
		if k, ok := overrideKey(texts); ok {
			if _, dup := r.byKey[k]; !dup {
				r.byKey[k] = i // the first override of a key wins
			}
		}
	}
	for i := range r.Rules {
		rule := &r.Rules[i]
		where := fmt.Sprintf("rule %q (line %d)", rule.Name, rule.line)
		if err := checkAction(where, &rule.Action); err != nil {
			return err
		}
		for _, n := range append(append([]string{}, rule.When.PresentOn...), rule.When.MissingOn...) {
			if !nodes[n] {
				return fault.Input("plan %s names node %q, which is not a node of the diff file (nodes: %v)", where, n, d.Nodes)
			}
		}
		for _, c := range rule.When.Differs {
			if !cols[c] {
				return fault.Input("plan %s names column %q, which the diff file does not have", where, c)
			}
		}
		for _, m := range rule.When.Columns {
			if !cols[m.Column] {
				return fault.Input("plan %s names column %q, which the diff file does not have", where, m.Column)
			}
			if m.Node != "" && m.Node != "any" && m.Node != "all" && !nodes[m.Node] {
				return fault.Input("plan %s names node %q, which is not a node of the diff file (nodes: %v)", where, m.Node, d.Nodes)
			}
		}
	}
	return nil
}

// needsCommitTimes reports whether any action is latest-commit-wins.
func (r *Rules) needsCommitTimes() bool {
	if r.Default.Verb == ActLatest {
		return true
	}
	for _, o := range r.Overrides {
		if o.Action.Verb == ActLatest {
			return true
		}
	}
	for _, x := range r.Rules {
		if x.Action.Verb == ActLatest {
			return true
		}
	}
	return false
}

// decide returns the action for the builder's current entry and a description of where it came
// from.
func (r *Rules) decide(b *builder, e *report.Entry) (Action, string) {
	if i, ok := r.override(e.Key); ok {
		return r.Overrides[i].Action, fmt.Sprintf("override %d", i+1)
	}
	for _, rule := range r.Rules {
		if rule.When.matches(b, e) {
			return rule.Action, fmt.Sprintf("rule %q", rule.Name)
		}
	}
	return r.Default, "default"
}

// override returns the index of the first override naming key (its text equals the key's,
// column by column).
func (r *Rules) override(key []string) (int, bool) {
	if len(r.byKey) == 0 {
		return 0, false
	}
	texts := make([]*string, len(key))
	for j := range key {
		texts[j] = &key[j]
	}
	k, ok := overrideKey(texts)
	if !ok {
		return 0, false
	}
	i, ok := r.byKey[k]
	return i, ok
}

// overrideKey joins key texts unambiguously (each prefixed by its length); false when one is
// NULL, which no override matches.
func overrideKey(texts []*string) (string, bool) {
	var b strings.Builder
	for _, t := range texts {
		if t == nil {
			return "", false
		}
		fmt.Fprintf(&b, "%d:%s", len(*t), *t)
	}
	return b.String(), true
}

func (w *When) matches(b *builder, e *report.Entry) bool {
	for _, n := range w.PresentOn {
		if b.values(e, b.node(n)) == nil {
			return false
		}
	}
	for _, n := range w.MissingOn {
		if b.values(e, b.node(n)) != nil {
			return false
		}
	}
	present := b.presence()
	for _, c := range w.Differs {
		j := column(b.d.Columns, c)
		var first *string
		differ := false
		for k, n := range present {
			v := at(b.values(e, n), j)
			switch {
			case k == 0:
				first = v
			case (v == nil) != (first == nil) || (v != nil && !sameValue(b.d.Columns[j], *v, *first, b.head.Strict)):
				differ = true
			}
		}
		if !differ {
			return false
		}
	}
	for _, m := range w.Columns {
		if !m.matches(b, e, present) {
			return false
		}
	}
	return true
}

// column returns the position of the named column (checked to exist by Rules.check).
func column(cols []report.Column, name string) int {
	for j, c := range cols {
		if c.Name == name {
			return j
		}
	}
	return -1
}

func (m *Match) matches(b *builder, e *report.Entry, present []int) bool {
	nodes := present
	if m.Node != "" && m.Node != "any" && m.Node != "all" {
		nodes = []int{b.node(m.Node)}
	}
	j := column(b.d.Columns, m.Column)
	all := m.Node == "all"
	hit := 0
	for _, n := range nodes {
		vals := b.values(e, n)
		if vals == nil {
			if all {
				return false
			}
			continue
		}
		if m.test(at(vals, j)) {
			hit++
		} else if all {
			return false
		}
	}
	return hit > 0
}

// test applies the match's comparison to one value. Ordering compares numbers by value when both
// sides are numbers, else text byte-wise; a NULL value meets only is_null: true and not_equals.
func (m *Match) test(v *string) bool {
	s, notNull := "", v != nil
	if notNull {
		s = *v
	}
	eq := func(x *Scalar) bool {
		if x.Null || !notNull {
			return x.Null == !notNull
		}
		return s == x.Text
	}
	switch {
	case m.IsNull != nil:
		return *m.IsNull == !notNull
	case m.Equals != nil:
		return eq(m.Equals)
	case m.NotEquals != nil:
		return !eq(m.NotEquals)
	case m.In != nil:
		for i := range m.In {
			if eq(&m.In[i]) {
				return true
			}
		}
		return false
	}
	if !notNull {
		return false
	}
	var bound *Scalar
	var ok func(int) bool
	switch {
	case m.LT != nil:
		bound, ok = m.LT, func(c int) bool { return c < 0 }
	case m.LE != nil:
		bound, ok = m.LE, func(c int) bool { return c <= 0 }
	case m.GT != nil:
		bound, ok = m.GT, func(c int) bool { return c > 0 }
	default:
		bound, ok = m.GE, func(c int) bool { return c >= 0 }
	}
	if bound.Null {
		return false
	}
	return ok(compareValues(s, bound.Text))
}

func compareValues(a, b string) int {
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	if okx && oky {
		return x.Cmp(y)
	}
	return strings.Compare(a, b)
}
