// Package repair converges the nodes of a diff file: Plan decides, as a pure function of the diff
// and the options, which rows each node must insert, update or delete; Apply carries a plan out in
// one transaction per node, guarded against rows that changed since the diff, writing an undo file
// before any commit; Repair adds the checks around them and re-reads the repaired keys.
package repair

import (
	"fmt"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Mode says how the version a node must hold is chosen.
type Mode string

// Repair modes.
const (
	// ModeSource makes every node equal to one source node.
	ModeSource Mode = "source-of-truth"
	// ModeBidirectional inserts rows where they are missing when every node having them agrees.
	ModeBidirectional Mode = "bidirectional"
	// ModeFixNulls fills NULL columns from the peers that have a value.
	ModeFixNulls Mode = "fix-nulls"
	// ModePlan follows a plan file (per-key overrides, rules, default).
	ModePlan Mode = "plan"
)

// Kind is what a change does to a row of one node.
type Kind string

// Change kinds.
const (
	Insert Kind = "insert"
	Update Kind = "update"
	Delete Kind = "delete"
)

// Options choose how Plan decides.
type Options struct {
	Mode       Mode
	Source     string // ModeSource: the node every other node is made equal to
	InsertOnly bool   // never update or delete
	UpsertOnly bool   // never delete
	Rules      *Rules // ModePlan
	// CommitTimes holds, per diff row index and node, the commit time of that node's version of
	// the row; latest-commit-wins needs it (see CommitTimes in run.go). A missing entry means the
	// time is unknown.
	CommitTimes map[int]map[string]time.Time
	// OutsideWhere holds, for a diff taken with --where, per diff row index the nodes that lack
	// the row in the diff but hold its key outside the filter (see KeysOutsideWhere): their
	// absence is the filter's, so it never makes a node delete the row, and they are not sent a
	// row to insert over theirs.
	OutsideWhere map[int]map[string]bool
}

// Plan is what a repair will do: per node the changes, plus what it will not do and why.
type Plan struct {
	Cluster   string
	Table     report.TableRef
	Key       []string // empty: whole-row mode
	Columns   []report.Column
	Strict    bool
	Nodes     []string // every node of the diff, in diff order
	Mode      Mode
	Source    string
	Changes   map[string][]Change // node -> changes, in diff row order
	Conflicts []Conflict
	Held      []Held // changes a rule or a mode flag held back
}

// Change is one row to change on one node. Expected is the row the node held when the diff was
// taken (nil: it lacked the row): the stale guard only writes when the row still holds it. New is
// the row to write (nil: delete it).
type Change struct {
	Kind     Kind
	Row      int // index of the row in the diff
	Key      report.Record
	Expected *report.Record
	New      *report.Record
	// Copies is, in whole-row mode, how many copies to insert or delete; ExpectCount how many
	// copies the node held at diff time.
	Copies      int64 `json:",omitempty"`
	ExpectCount int64 `json:",omitempty"`
	// expHash and newHash are the row hashes of Expected and New as the diff recorded them
	// (keyed mode, see builder.hashOf); Apply computes the ones not known before the guard.
	expHash, newHash rowHash
}

// rowHash is a row hash (encode.RowHash) and whether it is known; an unknown hash of a row that
// is absent (nil record) means "absent".
type rowHash struct {
	v     int64
	known bool
}

// same reports whether two hashes describe the same row state: both absent, or both present
// and equal.
func (h rowHash) same(o rowHash) bool { return h.known == o.known && (!h.known || h.v == o.v) }

// Conflict is a key (and, for fix-nulls, a column) that the repair leaves alone because the nodes
// hold different versions and nothing says which one wins.
type Conflict struct {
	Key     report.Record `json:"key"`
	Nodes   []string      `json:"nodes"`
	Columns []string      `json:"columns,omitempty"`
	Reason  string        `json:"reason"`
}

// Held is a change the plan decided not to make, with the reason (a skip rule, --insert-only ...).
type Held struct {
	Node   string        `json:"node"`
	Key    report.Record `json:"key"`
	Kind   Kind          `json:"kind"`
	Reason string        `json:"reason"`
}

// Count returns the number of changes planned for node.
func (p *Plan) Count(node string) int { return len(p.Changes[node]) }

// Total returns the number of changes planned on all nodes.
func (p *Plan) Total() int {
	n := 0
	for _, c := range p.Changes {
		n += len(c)
	}
	return n
}

// validate checks the options against the diff; problems are input errors.
func (o *Options) validate(d *report.Diff) error {
	known := map[string]bool{}
	for _, n := range d.Nodes {
		known[n] = true
	}
	if o.InsertOnly && o.UpsertOnly {
		return fault.Input("--insert-only and --upsert-only exclude each other")
	}
	switch o.Mode {
	case ModeSource:
		if o.Source == "" {
			return fault.Input("--source-of-truth needs a node name")
		}
		if !known[o.Source] {
			return fault.Input("source node %q is not a node of the diff file (nodes: %v)", o.Source, d.Nodes)
		}
	case ModeBidirectional, ModeFixNulls:
		if o.InsertOnly || o.UpsertOnly {
			return fault.Input("--%s cannot be combined with --insert-only or --upsert-only", o.Mode)
		}
	case ModePlan:
		if o.Rules == nil {
			return fault.Input("plan mode needs a plan file")
		}
		if err := o.Rules.check(d); err != nil {
			return err
		}
	default:
		return fault.Input("choose one repair mode: --source-of-truth NODE, --bidirectional, --fix-nulls or --plan FILE")
	}
	if len(d.Key) == 0 && o.Mode != ModeSource {
		return fault.Input("%s has no key (whole-row diff): only --source-of-truth can repair it, by copy counts", d.Table)
	}
	return nil
}

func (k Kind) String() string { return string(k) }

// describe renders a key for messages and text reports: col=value, ...
func describe(key report.Record) string {
	s := ""
	for i, f := range key {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s=%v", f.Name, f.Value)
	}
	return s
}
