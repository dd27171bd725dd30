package repair

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pgparity/pgparity/internal/report"
)

// ResultFormat is the version tag of repair reports.
const ResultFormat = "pgparity.repair/v1"

// Status values of Result.Status.
const (
	StatusRepaired   = "repaired"   // every node committed and the keys now agree
	StatusUnresolved = "unresolved" // every node committed, but some keys still differ (skipped, held back, conflicts)
	StatusFailed     = "failed"     // some node did not commit
	StatusDryRun     = "dry-run"    // nothing was changed
)

// Result is the report of a repair (also of a dry run and of an undo).
type Result struct {
	Format          string          `json:"format"`
	Status          string          `json:"status"`
	Cluster         string          `json:"cluster"`
	Table           report.TableRef `json:"table"`
	DiffFile        string          `json:"diff_file,omitempty"`
	Mode            Mode            `json:"mode"`
	Source          string          `json:"source,omitempty"`
	DryRun          bool            `json:"dry_run"`
	StaleGuard      bool            `json:"stale_guard"`
	Triggers        string          `json:"triggers"`
	Origin          string          `json:"origin,omitempty"`
	UndoFile        string          `json:"undo_file,omitempty"`
	StartedAt       time.Time       `json:"started_at"`
	DurationSeconds float64         `json:"duration_seconds"`
	Nodes           []*NodeResult   `json:"nodes"`
	// Conflicts and Held list the first ListLimit conflicts and held-back changes; the counts say
	// how many there are and how many the lists leave out.
	Conflicts        []Conflict `json:"conflicts"`
	ConflictCount    int        `json:"conflict_count"`
	ConflictsLeftOut int        `json:"conflicts_left_out,omitempty"`
	Held             []Held     `json:"held_back"`
	HeldCount        int        `json:"held_back_count"`
	HeldLeftOut      int        `json:"held_back_left_out,omitempty"`
	Verify           *Verify    `json:"verify,omitempty"`
	Warnings         []string   `json:"warnings,omitempty"`
	Error            string     `json:"error,omitempty"`
	warned           bool       // the preflight warning is in Warnings
}

// ListLimit is how many conflicts, held-back changes, and per node stale rows and dry-run changes
// a result lists; past it only their number grows, so a result's size is bounded whatever the
// number of differences.
const ListLimit = 1000

// NodeResult is what happened on one node.
type NodeResult struct {
	Node            string     `json:"node"`
	Planned         int        `json:"planned"`
	Inserted        int64      `json:"inserted"`
	Updated         int64      `json:"updated"`
	Deleted         int64      `json:"deleted"`
	InSync          int64      `json:"already_in_sync"`
	Skipped         int        `json:"skipped_stale"`
	Held            int        `json:"held_back"`
	Conflicts       int        `json:"conflicts"`
	DurationSeconds float64    `json:"duration_seconds"`
	Committed       bool       `json:"committed"`
	Error           string     `json:"error,omitempty"`
	Stale           []StaleRow `json:"stale,omitempty"` // the first ListLimit rows skipped as stale
	StaleLeftOut    int        `json:"stale_left_out,omitempty"`
	// Changes lists, in a dry run, the first ListLimit changes with the rows before and after.
	Changes        []undoEntry `json:"changes,omitempty"`
	ChangesLeftOut int         `json:"changes_left_out,omitempty"`
	// Groups lists, with --preserve-origin, the node's transactions: one per (origin, commit time)
	// of the source's versions, and whether each committed.
	Groups []GroupResult `json:"origin_groups,omitempty"`
}

// stale records a change the stale guard skipped.
func (n *NodeResult) stale(s StaleRow) {
	n.Skipped++
	if len(n.Stale) < ListLimit {
		n.Stale = append(n.Stale, s)
	} else {
		n.StaleLeftOut++
	}
}

// change lists a dry run's change, built by entry only when the list has room.
func (n *NodeResult) change(entry func() undoEntry) {
	if len(n.Changes) < ListLimit {
		n.Changes = append(n.Changes, entry())
	} else {
		n.ChangesLeftOut++
	}
}

// StaleRow is a planned change the stale guard skipped.
type StaleRow struct {
	Key    report.Record `json:"key"`
	Kind   Kind          `json:"kind"`
	Reason string        `json:"reason"`
}

// Verify is the outcome of re-reading the repaired keys on every node after the commits.
type Verify struct {
	// By says how the keys were re-read: "keys" (each key of the diff on every node) or "ranges"
	// (one range pass over the whole table found every node equal).
	By             string          `json:"by"`
	Agree          bool            `json:"agree"`
	StillDiffering int             `json:"still_differing"`
	Keys           []report.Record `json:"keys,omitempty"` // the first 100 keys that still differ
}

func newResult(p *Plan, o ApplyOptions) *Result {
	r := &Result{
		Format: ResultFormat, Cluster: p.Cluster, Table: p.Table, DiffFile: o.DiffFile, Mode: p.Mode,
		Source: p.Source, DryRun: o.DryRun, StaleGuard: !o.NoStaleGuard, Origin: o.Origin,
		StartedAt: time.Now().UTC(), Conflicts: []Conflict{}, Held: []Held{},
		Triggers: "off (session_replication_role = replica)",
	}
	if o.FireTriggers {
		r.Triggers = "on (--fire-triggers)"
	}
	for _, n := range p.Nodes {
		r.Nodes = append(r.Nodes, &NodeResult{Node: n})
	}
	return r
}

// absorb counts a batch's conflicts and held-back changes, per node too, and keeps the first
// ListLimit of each.
func (r *Result) absorb(p *Plan) {
	for _, h := range p.Held {
		for _, n := range r.Nodes {
			if h.Node == n.Node || h.Node == "" {
				n.Held++
			}
		}
		r.HeldCount++
		if len(r.Held) < ListLimit {
			if h.Key == nil {
				h.Key = p.keyRecord(h.key)
			}
			r.Held = append(r.Held, h)
		} else {
			r.HeldLeftOut++
		}
	}
	for _, c := range p.Conflicts {
		for _, n := range r.Nodes {
			for _, cn := range c.Nodes {
				if cn == n.Node {
					n.Conflicts++
				}
			}
		}
		r.ConflictCount++
		if len(r.Conflicts) < ListLimit {
			if c.Key == nil {
				c.Key = p.keyRecord(c.key)
			}
			r.Conflicts = append(r.Conflicts, c)
		} else {
			r.ConflictsLeftOut++
		}
	}
}

func (r *Result) node(n string) *NodeResult {
	for _, nr := range r.Nodes {
		if nr.Node == n {
			return nr
		}
	}
	return nil
}

func (r *Result) finish(started time.Time) {
	r.DurationSeconds = time.Since(started).Seconds()
	r.Status = StatusRepaired
	for _, n := range r.Nodes {
		switch {
		case r.DryRun:
		case n.Planned > 0 && !n.Committed:
			r.Status = StatusFailed
		case n.Skipped > 0 || n.Held > 0 || n.Conflicts > 0:
			if r.Status == StatusRepaired {
				r.Status = StatusUnresolved
			}
		}
	}
	if r.DryRun {
		r.Status = StatusDryRun
	}
}

// Committed returns the nodes that committed.
func (r *Result) Committed() []string {
	var out []string
	for _, n := range r.Nodes {
		if n.Committed {
			out = append(out, n.Node)
		}
	}
	return out
}

// WriteFile writes the report as JSON to path atomically (temporary file, fsync, rename).
func (r *Result) WriteFile(path string) error {
	return report.WriteAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return err
		}
		return w.Flush()
	})
}

// maxListed bounds the rows a text summary lists per section; the JSON report lists up to
// ListLimit.
const maxListed = 20

// WriteSummary prints the report for a terminal: per node counts, then the rows skipped, held
// back and in conflict (the first few of each), then the verification.
func (r *Result) WriteSummary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	what := "repair"
	if r.DryRun {
		what = "dry run (nothing changed)"
	}
	fmt.Fprintf(bw, "%s of %s (%s", what, r.Table, r.Mode)
	if r.Source != "" {
		fmt.Fprintf(bw, " %s", r.Source)
	}
	fmt.Fprintf(bw, "): %s\n", r.Status)
	fmt.Fprintf(bw, "%-12s %9s %9s %9s %9s %9s %9s %9s %9s  %s\n", "node", "planned", "inserted", "updated", "deleted", "in-sync", "stale", "held", "conflict", "committed")
	for _, n := range r.Nodes {
		committed := "no"
		switch {
		case n.Committed:
			committed = "yes"
		case n.Planned == 0:
			committed = "-"
		case r.DryRun:
			committed = "dry run"
		}
		fmt.Fprintf(bw, "%-12s %9d %9d %9d %9d %9d %9d %9d %9d  %s\n", n.Node, n.Planned, n.Inserted, n.Updated, n.Deleted,
			n.InSync, n.Skipped, n.Held, n.Conflicts, committed)
	}
	for _, n := range r.Nodes {
		if n.Error != "" {
			fmt.Fprintf(bw, "error on %s: %s\n", n.Node, n.Error)
		}
		list(bw, fmt.Sprintf("would change on %s", n.Node), len(n.Changes)+n.ChangesLeftOut, len(n.Changes), func(i int) string {
			c := n.Changes[i]
			return fmt.Sprintf("%s %s", c.Op, describe(c.Key))
		})
		list(bw, fmt.Sprintf("skipped on %s (stale)", n.Node), n.Skipped, len(n.Stale), func(i int) string {
			return fmt.Sprintf("%s %s: %s", n.Stale[i].Kind, describe(n.Stale[i].Key), n.Stale[i].Reason)
		})
	}
	list(bw, "held back", r.HeldCount, len(r.Held), func(i int) string {
		h := r.Held[i]
		where := ""
		if h.Node != "" {
			where = " on " + h.Node
		}
		return fmt.Sprintf("%s%s: %s", describe(h.Key), where, h.Reason)
	})
	list(bw, "conflicts", r.ConflictCount, len(r.Conflicts), func(i int) string {
		c := r.Conflicts[i]
		cols := ""
		if len(c.Columns) > 0 {
			cols = fmt.Sprintf(" columns %v", c.Columns)
		}
		return fmt.Sprintf("%s%s on %v: %s", describe(c.Key), cols, c.Nodes, c.Reason)
	})
	if r.UndoFile != "" {
		fmt.Fprintf(bw, "undo file: %s\n", r.UndoFile)
	}
	if v := r.Verify; v != nil {
		switch {
		case v.Agree && v.By == "ranges":
			fmt.Fprintf(bw, "verified: the whole table agrees on every node (one range pass)\n")
		case v.Agree:
			fmt.Fprintf(bw, "verified: the repaired keys agree on every node\n")
		default:
			fmt.Fprintf(bw, "verified: %d key(s) still differ\n", v.StillDiffering)
		}
	}
	return bw.Flush()
}

// list prints a section of n items, of which the first shown can be rendered by item.
func list(w io.Writer, title string, n, shown int, item func(int) string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "%s: %d\n", title, n)
	for i := 0; i < shown && i < maxListed; i++ {
		fmt.Fprintf(w, "  %s\n", item(i))
	}
	if n > maxListed {
		more := "see the JSON report"
		if n > shown {
			more = fmt.Sprintf("the JSON report lists the first %d", shown)
		}
		fmt.Fprintf(w, "  ... and %d more (%s)\n", n-min(shown, maxListed), more)
	}
}
