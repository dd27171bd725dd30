// Package repair converges the nodes of a diff: Plan decides, as a pure function of the diff and
// the options, which rows each node must insert, update or delete; the apply engine carries the
// changes out in one transaction per node, batch after batch as the diff is read, guarded against
// rows that changed since the diff, writing an undo file before any commit; Repair adds the checks
// around them and re-reads the repaired keys. Memory is bounded by a batch, whatever the number of
// differences.
package repair

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	// CommitTimes holds, per diff entry index and node, the commit time of that node's version of
	// the row; latest-commit-wins needs it (Repair reads it batch by batch). A missing entry means
	// the time is unknown.
	CommitTimes map[int]map[string]time.Time
	// OutsideWhere holds, for a diff taken with --where, per diff entry index the nodes that lack
	// the row in the diff but hold its key outside the filter (Repair reads it batch by batch):
	// their absence is the filter's, so it never makes a node delete the row, and they are not sent
	// a row to insert over theirs.
	OutsideWhere map[int]map[string]bool
}

// Plan is what a repair will do: per node the changes, plus what it will not do and why. A
// streamed repair plans one batch of keys at a time into a Plan of that batch; NewPlan plans a
// whole in-memory diff.
type Plan struct {
	Cluster   string
	Table     report.TableRef
	Key       []string // empty: whole-row mode
	Columns   []report.Column
	Strict    bool
	Nodes     []string // every node of the diff, in diff order
	Mode      Mode
	Source    string
	Changes   map[string][]Change // node -> changes, in diff order
	Conflicts []Conflict
	Held      []Held // changes a rule or a mode flag held back
}

// Change is one row to change on one node, as PostgreSQL text. Expected is the row the node held
// when the diff was taken (nil: it lacked the row): the stale guard only writes when the row still
// holds it. New is the row to write (nil: delete it). Values are by position in Plan.Columns, NULL
// is a nil pointer; the slices are shared with the diff entry they come from.
type Change struct {
	Kind     Kind
	Row      int      // index of the entry in the diff (of the line in an undo file)
	Key      []string // the key's texts in key order; whole-row mode: the row hash
	Expected []*string
	New      []*string
	// Copies is, in whole-row mode, how many copies to insert or delete; ExpectCount how many
	// copies the node held at diff time.
	Copies      int64
	ExpectCount int64
	// expHash and newHash are the row hashes of Expected and New as the diff recorded them
	// (keyed mode, see builder.hashOf); the apply computes the ones not known before the guard.
	expHash, newHash rowHash
	// group is the origin group the change commits in (--preserve-origin, set by groupChanges).
	group originGroup
}

// rowHash is a row hash (encode.RowHash) and whether it is known; an unknown hash of a row that
// is absent (nil values) means "absent".
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
	key     []string      // Key as texts; Key is filled only where the conflict is kept
}

// Held is a change the plan decided not to make, with the reason (a skip rule, --insert-only ...).
// An empty Node holds the key back on every node.
type Held struct {
	Node   string        `json:"node"`
	Key    report.Record `json:"key"`
	Kind   Kind          `json:"kind"`
	Reason string        `json:"reason"`
	key    []string      // Key as texts; Key is filled only where the held change is kept
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

// header returns p without its changes: what every batch of a repair shares.
func (p *Plan) header() *Plan {
	return &Plan{Cluster: p.Cluster, Table: p.Table, Key: p.Key, Columns: p.Columns, Strict: p.Strict,
		Nodes: p.Nodes, Mode: p.Mode, Source: p.Source}
}

// keyRecord returns a key's texts as the record reports and undo files show: typed for JSON
// (integers as numbers), named by the key columns; in whole-row mode {"row_hash": N}.
func (p *Plan) keyRecord(texts []string) report.Record {
	if len(p.Key) == 0 {
		if len(texts) == 0 {
			return report.Record{}
		}
		return report.Record{{Name: report.RowHashField, Value: json.Number(texts[0])}}
	}
	rec := make(report.Record, len(p.Key))
	for i, k := range p.Key {
		col := report.Column{Name: k}
		for _, c := range p.Columns {
			if c.Name == k {
				col = c
				break
			}
		}
		var t *string
		if i < len(texts) {
			t = &texts[i]
		}
		rec[i] = report.Field{Name: k, Value: jsonValue(col, t)}
	}
	return rec
}

// valuesRecord returns a row's texts as a record of the plan's columns, typed for JSON.
func (p *Plan) valuesRecord(vals []*string) *report.Record {
	if vals == nil {
		return nil
	}
	rec := make(report.Record, len(p.Columns))
	for i, c := range p.Columns {
		var t *string
		if i < len(vals) {
			t = vals[i]
		}
		rec[i] = report.Field{Name: c.Name, Value: jsonValue(c, t)}
	}
	return &rec
}

// jsonValue types a diff column's text for JSON as diff files do: integer types as exact numbers,
// booleans as true/false, everything else as text.
func jsonValue(c report.Column, t *string) any {
	if t == nil {
		return nil
	}
	switch baseType(c) {
	case "smallint", "integer", "bigint", "oid":
		if _, err := strconv.ParseInt(*t, 10, 64); err == nil {
			return json.Number(*t)
		}
	case "boolean":
		return *t == "true"
	}
	return *t
}

// baseType is the column's base type as format_type prints it (the type itself for non-domains
// and for diff files that did not record it).
func baseType(c report.Column) string {
	if c.Base != "" {
		return c.Base
	}
	return c.Type
}

// validate checks the options against the diff's header; problems are input errors.
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
	var b strings.Builder
	for i, f := range key {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%v", f.Name, f.Value)
	}
	return b.String()
}
