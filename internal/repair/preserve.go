package repair

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// MaxOriginGroups is how many (origin, commit time) groups, each its own open transaction, a
// --preserve-origin repair holds on one node at most; past it the repair stops on bad input
// before any node commits (see docs/repair.md).
const MaxOriginGroups = 64

// originGroup is the replication origin and commit time a group of one node's changes commits
// with (--preserve-origin); the zero group commits as a plain transaction.
type originGroup struct {
	origin string
	at     int64 // commit time, Unix microseconds; 0: none
}

func (g originGroup) time() time.Time { return time.UnixMicro(g.at).UTC() }

// GroupResult is one (origin, commit time) transaction of a node in a --preserve-origin repair.
type GroupResult struct {
	Origin     string     `json:"origin,omitempty"`      // "": none (or the repair's --origin, see docs)
	CommitTime *time.Time `json:"commit_time,omitempty"` // nil: not preserved (the commit's own time)
	Planned    int        `json:"planned"`
	Committed  bool       `json:"committed"`
	Status     string     `json:"status,omitempty"`
}

// stamp is the replication origin (roname; "": local) and commit time (nil: unknown) of the
// transaction that wrote the source's version of a row.
type stamp struct {
	origin string
	at     *time.Time
}

// originStampSQL is what scanKeys reads per row of the source: its commit's time and origin name.
const originStampSQL = `(SELECT c."timestamp" FROM pg_catalog.pg_xact_commit_timestamp_origin(` + aliasT + `.xmin) AS c), ` +
	`(SELECT ro.roname::text FROM pg_catalog.pg_xact_commit_timestamp_origin(` + aliasT + `.xmin) AS c ` +
	`JOIN pg_catalog.pg_replication_origin AS ro ON ro.roident = c.roident)`

// preserve is the state of a --preserve-origin repair's planning: the origin rows committed
// locally on the source run under (the repair's --origin), and how many such rows had none.
type preserve struct {
	fallback string
	local    int
}

// checkPreserve checks that a --preserve-origin repair can carry the source's origins: a
// source-of-truth repair of a keyed table (every row written is then the source's row, of one
// known commit), and a source that records commit timestamps.
func checkPreserve(ctx context.Context, lk *lookups, d *report.Diff, o Options, ao ApplyOptions) (*preserve, error) {
	if o.Mode != ModeSource {
		return nil, fault.Input("--preserve-origin goes with --source-of-truth only: in other modes a written row may be no single node's row (merges) or come from several nodes")
	}
	if len(d.Key) == 0 {
		return nil, fault.Input("--preserve-origin needs a keyed table: a whole-row diff (no key) holds no per-row commits to carry")
	}
	if err := lk.checkPreserve(ctx, o.Source); err != nil {
		return nil, err
	}
	return &preserve{fallback: ao.Origin}, nil
}

// checkPreserve checks that the source records commit timestamps (--preserve-origin).
func (lk *lookups) checkPreserve(ctx context.Context, source string) error {
	p := lk.pools[source]
	if p == nil {
		return fault.Input("--preserve-origin: source node %s is not connected", source)
	}
	on := false
	if err := p.QueryRow(ctx, commitTSSettingSQL).Scan(&on); err != nil {
		return &cluster.NodeError{Node: source, Err: fmt.Errorf("read track_commit_timestamp: %w", err)}
	}
	if !on {
		return fault.Input("--preserve-origin reads the source's commit timestamps and origins, and track_commit_timestamp is off on node %s", source)
	}
	return nil
}

// stamps reads, for the entries of a batch that the source holds, the origin and commit time of
// the source's version (pg_xact_commit_timestamp_origin(xmin)), by diff entry index.
func (lk *lookups) stamps(ctx context.Context, source string, batch []report.Entry, first int) (map[int]stamp, error) {
	ni := -1
	for i, n := range lk.d.Nodes {
		if n == source {
			ni = i
		}
	}
	out := map[int]stamp{}
	var at *time.Time
	var origin *string
	err := lk.scanKeys(ctx, source, batch, holders(batch, ni, true), originStampSQL, []any{&at, &origin}, func(i int) {
		s := stamp{at: at}
		if origin != nil {
			s.origin = *origin
		}
		out[first+i] = s
	})
	if err != nil {
		return nil, &cluster.NodeError{Node: source, Err: fmt.Errorf("read commit timestamps and origins: %w", err)}
	}
	return out, nil
}

// groupChanges sets the origin group of every change of a batch's plan from the source's stamps:
// the source's origin and time; a local commit's time under the repair's --origin (fallback), or
// no group without one (counted in local); deletes and rows of unknown time: no group.
func groupChanges(p *Plan, stamps map[int]stamp, fallback string, local *int) {
	for _, changes := range p.Changes {
		for i := range changes {
			c := &changes[i]
			s, ok := stamps[c.Row]
			if c.New == nil || !ok || s.at == nil {
				continue
			}
			switch {
			case s.origin != "":
				c.group = originGroup{origin: s.origin, at: s.at.UnixMicro()}
			case fallback != "":
				c.group = originGroup{origin: fallback, at: s.at.UnixMicro()}
			default:
				*local++
			}
		}
	}
}

// splitGroups splits a node's changes by origin group, keeping their order within a group.
func splitGroups(changes []Change) ([]originGroup, map[originGroup][]Change) {
	var order []originGroup
	by := map[originGroup][]Change{}
	for _, c := range changes {
		if _, ok := by[c.group]; !ok {
			order = append(order, c.group)
		}
		by[c.group] = append(by[c.group], c)
	}
	return order, by
}

// checkOriginPrivilege fails unless the role may call the replication origin functions.
func (w *nodeWork) checkOriginPrivilege(ctx context.Context) error {
	var may bool
	var user string
	err := w.pool.QueryRow(ctx, `SELECT r.rolsuper OR (
	pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_session_setup(text)', 'EXECUTE') AND
	pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)', 'EXECUTE') AND
	pg_catalog.has_function_privilege('pg_catalog.pg_replication_origin_create(text)', 'EXECUTE')), current_user::text
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`).Scan(&may, &user)
	if err != nil {
		return &cluster.NodeError{Node: w.node, Err: fmt.Errorf("check role: %w", err)}
	}
	if !may {
		return fault.Input("--preserve-origin: role %s may not use replication origins on node %s "+
			"(it needs superuser, or EXECUTE on pg_replication_origin_create, _session_setup and _xact_setup)", user, w.node)
	}
	return nil
}

// setupGroup runs, in the group's open transaction, what makes its commit carry the source's
// origin and time; the session's origin was set up by begin.
func (w *nodeWork) setupGroup(ctx context.Context, tx pgx.Tx) error {
	if w.group.at == 0 {
		return nil
	}
	// LSN 0/0: the origin's progress (remote_lsn) never moves backwards, so this leaves it as it is.
	if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_xact_setup('0/0', $1)", w.group.time()); err != nil {
		return fmt.Errorf("set up origin %s commit time: %w", w.group.origin, err)
	}
	return nil
}

// sessionOrigin is the replication origin the work's session runs under.
func (w *nodeWork) sessionOrigin() string {
	if w.group.origin != "" {
		return w.group.origin
	}
	return w.opts.Origin
}

// mergeGroups sums, per node, the results of its origin groups into the node's result, lists the
// groups, and writes the node's status to the undo file: committed when any group committed
// (undoing the groups that did not commit finds their rows stale and leaves them alone).
func (e *engine) mergeGroups() {
	for i, name := range e.head.Nodes {
		n := e.res.Nodes[i]
		var ws []*nodeWork
		for _, w := range e.works {
			if w.node == name {
				ws = append(ws, w)
			}
		}
		if len(ws) == 0 {
			continue
		}
		sort.SliceStable(ws, func(a, b int) bool {
			if ws[a].group.origin != ws[b].group.origin {
				return ws[a].group.origin < ws[b].group.origin
			}
			return ws[a].group.at < ws[b].group.at
		})
		all, some := true, false
		var errs []error
		status := ""
		for _, w := range ws {
			g := w.res
			n.Inserted += g.Inserted
			n.Updated += g.Updated
			n.Deleted += g.Deleted
			n.InSync += g.InSync
			for _, s := range g.Stale {
				n.stale(s)
			}
			n.Skipped += g.StaleLeftOut
			n.StaleLeftOut += g.StaleLeftOut
			for _, c := range g.Changes {
				n.change(func() undoEntry { return c })
			}
			n.ChangesLeftOut += g.ChangesLeftOut
			if g.DurationSeconds > n.DurationSeconds {
				n.DurationSeconds = g.DurationSeconds
			}
			gr := GroupResult{Origin: w.sessionOrigin(), Planned: g.Planned, Committed: g.Committed, Status: w.last}
			if w.group.at != 0 {
				t := w.group.time()
				gr.CommitTime = &t
			}
			n.Groups = append(n.Groups, gr)
			all = all && g.Committed
			some = some || g.Committed
			if w.err != nil {
				errs = append(errs, w.err)
			}
			if status == "" || w.last != "committed" {
				status = w.last
			}
		}
		n.Committed = all
		if some && !all {
			status = "committed" // partly: see above
			n.Error = fmt.Sprintf("only some origin groups committed: %v", errors.Join(errs...))
		} else if len(errs) > 0 {
			n.Error = errors.Join(errs...).Error()
		}
		if e.undo != nil && status != "" {
			if err := e.undo.writeStatus(name, status); err != nil && n.Error == "" {
				n.Error = fmt.Sprintf("write undo file: %v", err)
			}
		}
	}
}
