package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

//go:embed role.sql
var roleSQL string

//go:embed param_privilege.sql
var paramPrivilegeSQL string

//go:embed origin.sql
var originSQL string

// ApplyOptions say how a plan is carried out.
type ApplyOptions struct {
	DryRun       bool   // do everything up to the writes, report, and roll back
	NoStaleGuard bool   // write even rows that changed since the diff (appeared/vanished rows are still skipped)
	FireTriggers bool   // keep session_replication_role as it is: triggers and FK checks fire
	Origin       string // run under this replication origin (created if missing)
	UndoPath     string // undo file to create (required unless DryRun)
	DiffFile     string // recorded in the undo file
	// BeforeCommit, when set, runs on every node after its changes and undo entries are written
	// and before any node commits; an error fails that node. Tests use it to kill a node.
	BeforeCommit func(ctx context.Context, node string, backendPID uint32) error
}

var originName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Apply carries out a plan: one transaction per node that has changes, each locking the rows it
// changes, checking them against the diff (stale guard) and writing every kind of change with one
// set-based statement. Every node first prepares its transaction and writes its undo entries; the
// nodes commit only when all of them got that far, else all roll back. The result says per node
// what happened, also when Apply returns an error.
func Apply(ctx context.Context, pools cluster.Pools, p *Plan, o ApplyOptions) (*Result, error) {
	started := time.Now()
	res := newResult(p, o)
	if o.Origin != "" && !originName.MatchString(o.Origin) {
		return res, fault.Input("--origin %q: use 1 to 63 characters a-z, 0-9 and _", o.Origin)
	}
	byName := map[string]*cluster.Pool{}
	for _, pl := range pools {
		byName[pl.Node.Name] = pl
	}
	var works []*nodeWork
	for _, n := range p.Nodes {
		changes := p.Changes[n]
		if len(changes) == 0 {
			continue
		}
		pl := byName[n]
		if pl == nil {
			return res, fault.Input("node %s has changes to make but is not connected", n)
		}
		works = append(works, &nodeWork{node: n, pool: pl, plan: p, changes: changes, opts: o, res: res.node(n)})
	}
	if err := preflight(ctx, works, res); err != nil {
		return res, err
	}
	if len(works) > 0 && !o.DryRun {
		if o.UndoPath == "" {
			return res, fault.Input("an undo file path is required")
		}
		u, err := createUndo(o.UndoPath, p, o.DiffFile)
		if err != nil {
			return res, err
		}
		defer u.close()
		res.UndoFile = o.UndoPath
		for _, w := range works {
			w.undo = u
		}
	}

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var failedOnce sync.Once
	failed := ""
	for _, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.started = time.Now()
			if err := w.prepare(pctx); err != nil {
				w.err = err
				failedOnce.Do(func() { failed = w.node; cancel() })
			}
		}()
	}
	wg.Wait()
	commit := failed == "" && !o.DryRun && ctx.Err() == nil
	for _, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.finish(ctx, commit, failed)
		}()
	}
	wg.Wait()
	var errs []error
	for _, w := range works {
		if w.err != nil {
			errs = append(errs, w.err)
		}
	}
	res.finish(started)
	if len(errs) > 0 {
		return res, nodeErrors(errs)
	}
	return res, nil
}

// nodeWork is one node's part of a repair.
type nodeWork struct {
	node    string
	pool    *cluster.Pool
	plan    *Plan
	changes []Change
	opts    ApplyOptions
	res     *NodeResult
	st      *statements
	undo    *undoWriter
	// undoDone reports the end of the undo file write started before the writes.
	undoDone chan error

	conn    *pgx.Conn
	tx      pgx.Tx
	started time.Time
	err     error
}

// preflight checks every node before anything is written: the table still has the diff's
// columns (same types, none generated now) and key, the role may switch triggers off (or
// --fire-triggers was given), and the replication origin exists.
func preflight(ctx context.Context, works []*nodeWork, res *Result) error {
	errs := make([]error, len(works))
	warn := make([]string, len(works))
	var wg sync.WaitGroup
	for i, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			warn[i], errs[i] = w.preflight(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			works[i].res.Error = err.Error()
			return err
		}
	}
	for _, w := range warn {
		if w != "" {
			res.Warnings = append(res.Warnings, w)
			break // once: it is the same on every node that lacks the privilege
		}
	}
	return nil
}

func (w *nodeWork) preflight(ctx context.Context) (string, error) {
	p := w.plan
	t, err := catalog.Load(ctx, w.pool, p.Table.Schema, p.Table.Name)
	if errors.Is(err, catalog.ErrTableMissing) {
		return "", fault.Input("table %s does not exist on node %s", p.Table, w.node)
	}
	if err != nil {
		return "", &cluster.NodeError{Node: w.node, Err: err}
	}
	var cols, key []catalog.Column
	for _, c := range p.Columns {
		now, ok := t.Column(c.Name)
		switch {
		case !ok:
			return "", fault.Input("column %q of %s is gone on node %s since the diff: run table-diff again", c.Name, t.Ident(), w.node)
		case now.Type != c.Type:
			return "", fault.Input("column %q of %s is %s on node %s, but %s in the diff: run table-diff again", c.Name, t.Ident(), now.Type, w.node, c.Type)
		case now.Generated:
			return "", fault.Input("column %q of %s is generated on node %s: generated columns are never written; run table-diff again", c.Name, t.Ident(), w.node)
		}
		cols = append(cols, now)
	}
	if fmt.Sprint(t.Key) != fmt.Sprint(p.Key) && !(len(t.Key) == 0 && len(p.Key) == 0) {
		return "", fault.Input("the key of %s on node %s is %v, but %v in the diff: run table-diff again", t.Ident(), w.node, t.Key, p.Key)
	}
	for _, k := range p.Key {
		c, _ := t.Column(k)
		key = append(key, c)
	}
	w.st = newStatements(t, cols, key, p.Strict)

	warning := ""
	var super bool
	var version int
	var user string
	if err := w.pool.QueryRow(ctx, roleSQL).Scan(&super, &version, &user); err != nil {
		return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("check role: %w", err)}
	}
	may := super
	if !may && version >= 150000 {
		if err := w.pool.QueryRow(ctx, paramPrivilegeSQL).Scan(&may); err != nil {
			return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("check role: %w", err)}
		}
	}
	switch {
	case w.opts.FireTriggers && may:
		warning = "--fire-triggers: the repair runs with triggers and foreign-key checks on"
	case w.opts.FireTriggers:
		warning = fmt.Sprintf("role %s may not set session_replication_role on node %s: the repair runs with triggers and foreign-key checks on (--fire-triggers)", user, w.node)
	case !may:
		return "", fault.Input("role %s may not set session_replication_role = replica on node %s (it needs superuser, or on PostgreSQL 15+ GRANT SET ON PARAMETER session_replication_role): "+
			"without it user triggers and foreign-key checks fire during the repair; re-run with --fire-triggers to accept that", user, w.node)
	}
	if w.opts.Origin != "" && !w.opts.DryRun {
		var created bool
		if err := w.pool.QueryRow(ctx, originSQL, w.opts.Origin).Scan(&created); err != nil {
			return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("replication origin %s: %w", w.opts.Origin, err)}
		}
	}
	return warning, nil
}

// prepare runs the node's transaction up to, not including, the commit.
func (w *nodeWork) prepare(ctx context.Context) error {
	fail := func(step string, err error) error {
		return &cluster.NodeError{Node: w.node, Err: fmt.Errorf("repair %s: %s: %w", w.st.table.Ident(), step, err)}
	}
	mark := time.Now()
	step := func(name string) {
		slog.Debug("repair step", "node", w.node, "step", name, "seconds", time.Since(mark).Seconds())
		mark = time.Now()
	}
	c, err := w.pool.Acquire(ctx)
	if err != nil {
		return fail("connect", err)
	}
	// The connection carries session state (replication origin) and is closed afterwards, never
	// returned to the pool.
	w.conn = c.Hijack()
	if w.opts.Origin != "" {
		if _, err := w.conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", w.opts.Origin); err != nil {
			return fail("set up replication origin "+w.opts.Origin, err)
		}
	}
	if w.tx, err = w.conn.Begin(ctx); err != nil {
		return fail("begin", err)
	}
	if !w.opts.FireTriggers {
		if _, err := w.tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fail("set session_replication_role", err)
		}
	}
	for _, sql := range w.st.createTemps() {
		if _, err := w.tx.Exec(ctx, sql); err != nil {
			return fail("create temporary tables", err)
		}
	}
	step("begin")
	if err := w.load(ctx); err != nil {
		return fail("load changes", err)
	}
	step("copy changes into temporary tables")
	if len(w.st.key) > 0 {
		err = w.applyKeyed(ctx)
	} else {
		err = w.applyWhole(ctx)
	}
	undoErr := w.waitUndo()
	if err != nil {
		return fail("apply", err)
	}
	if undoErr != nil {
		return fmt.Errorf("node %s: write undo file: %w", w.node, undoErr)
	}
	step("guard, write and undo file")
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(ctx, w.node, w.conn.PgConn().PID()); err != nil {
			return fail("before commit", err)
		}
	}
	return nil
}

// load copies the change list and the expected and new rows into the temp tables.
func (w *nodeWork) load(ctx context.Context) error {
	if err := copyIn(ctx, w.tx, w.st.copyOps(), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		l.int(int64(i))
		l.text(string(c.Kind))
		if len(w.st.key) == 0 {
			h, _ := c.Key.Get("row_hash")
			l.value(h)
			l.int(c.Copies)
			l.int(c.ExpectCount)
			return nil
		}
		for _, k := range w.st.key {
			v, ok := c.Key.Get(k.Name)
			if !ok || v == nil {
				return fault.Input("diff row %d: key column %q missing or null", c.Row+1, k.Name)
			}
			l.value(v)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, side := range []struct {
		table string
		rec   func(*Change) *report.Record
	}{
		{tempExp, func(c *Change) *report.Record { return c.Expected }},
		{tempNew, func(c *Change) *report.Record { return c.New }},
	} {
		var idx []int
		for i := range w.changes {
			if side.rec(&w.changes[i]) != nil {
				idx = append(idx, i)
			}
		}
		err := copyIn(ctx, w.tx, w.st.copyRows(side.table), len(idx), func(j int, l *line) error {
			c := &w.changes[idx[j]]
			rec := side.rec(c)
			l.int(int64(idx[j]))
			for _, col := range w.st.cols {
				v, ok := rec.Get(col.Name)
				if !ok {
					return fault.Input("diff row %d: column %q missing", c.Row+1, col.Name)
				}
				l.value(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// applyKeyed locks the rows, evaluates the guard, reads the rows about to change (undo) and
// writes every change that passed, one statement per kind.
func (w *nodeWork) applyKeyed(ctx context.Context) error {
	start := time.Now()
	// A dry run takes no row locks: it must not block writers, nor touch a tuple.
	if !w.opts.DryRun {
		if _, err := w.tx.Exec(ctx, w.st.lock()); err != nil {
			return fmt.Errorf("lock rows: %w", err)
		}
	}
	slog.Debug("repair lock", "node", w.node, "seconds", time.Since(start).Seconds())
	start = time.Now()
	if _, err := w.tx.Exec(ctx, w.st.state(!w.opts.NoStaleGuard)); err != nil {
		return fmt.Errorf("check rows against the diff: %w", err)
	}
	slog.Debug("repair guard", "node", w.node, "seconds", time.Since(start).Seconds())
	actions := make([]string, len(w.changes))
	rows, err := w.tx.Query(ctx, states)
	if err != nil {
		return fmt.Errorf("read guard: %w", err)
	}
	want := map[string]int64{}
	for rows.Next() {
		var ord int64
		var action string
		var absent, expAbsent bool
		if err := rows.Scan(&ord, &action, &absent, &expAbsent); err != nil {
			rows.Close()
			return err
		}
		actions[ord] = action
		want[action]++
		c := &w.changes[ord]
		switch action {
		case "in_sync":
			w.res.InSync++
		case "stale":
			w.res.Stale = append(w.res.Stale, StaleRow{Key: c.Key, Kind: c.Kind, Reason: staleReason(absent, expAbsent)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read guard: %w", err)
	}
	before := make([]*report.Record, len(w.changes))
	rows, err = w.tx.Query(ctx, w.st.before())
	if err != nil {
		return fmt.Errorf("read rows to change: %w", err)
	}
	for rows.Next() {
		var ord int64
		texts := make([]*string, len(w.st.cols))
		dest := []any{&ord}
		for i := range texts {
			dest = append(dest, &texts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		rec := recordOf(w.st.cols, texts)
		before[ord] = &rec
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows to change: %w", err)
	}

	var entries []undoEntry
	for i, a := range actions {
		if a != "insert" && a != "update" && a != "delete" {
			continue
		}
		c := &w.changes[i]
		e := undoEntry{Node: w.node, Op: Kind(a), Key: c.Key, Before: before[i]}
		if a != "delete" {
			e.After = c.New
		}
		entries = append(entries, e)
	}
	if w.opts.DryRun {
		w.res.Inserted, w.res.Updated, w.res.Deleted = want["insert"], want["update"], want["delete"]
		w.res.Changes = entries
		return nil
	}
	w.startUndo(entries)
	// Deletes first, inserts last: a row deleted and another inserted may share a unique value.
	for _, step := range []struct {
		kind string
		sql  string
		n    *int64
	}{
		{"delete", w.st.remove(), &w.res.Deleted},
		{"update", w.st.update(), &w.res.Updated},
		{"insert", w.st.insert(), &w.res.Inserted},
	} {
		if want[step.kind] == 0 {
			continue
		}
		start := time.Now()
		tag, err := w.tx.Exec(ctx, step.sql)
		if err != nil {
			return fmt.Errorf("%s rows: %w", step.kind, err)
		}
		if tag.RowsAffected() != want[step.kind] {
			return fmt.Errorf("%s rows: %d changed, %d expected", step.kind, tag.RowsAffected(), want[step.kind])
		}
		*step.n = tag.RowsAffected()
		slog.Debug("repair write", "node", w.node, "kind", step.kind, "rows", *step.n, "seconds", time.Since(start).Seconds())
	}
	return nil
}

func staleReason(absent, expectedAbsent bool) string {
	switch {
	case absent && !expectedAbsent:
		return "the row was deleted since the diff"
	case !absent && expectedAbsent:
		return "the row was inserted since the diff"
	default:
		return "the row changed since the diff"
	}
}

// applyWhole repairs a whole-row diff: the table is locked against writes, copies are counted
// per row hash, and copies are inserted or deleted until the count is the source's.
func (w *nodeWork) applyWhole(ctx context.Context) error {
	if _, err := w.tx.Exec(ctx, w.st.lockTable()); err != nil {
		return fmt.Errorf("lock table: %w", err)
	}
	if _, err := w.tx.Exec(ctx, w.st.wholeState(!w.opts.NoStaleGuard)); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	rows, err := w.tx.Query(ctx, wholeStates)
	if err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	var entries []undoEntry
	want := map[string]int64{}
	for rows.Next() {
		var ord, cur, n int64
		var action string
		if err := rows.Scan(&ord, &action, &cur, &n); err != nil {
			rows.Close()
			return err
		}
		c := &w.changes[ord]
		switch action {
		case "in_sync":
			w.res.InSync++
			continue
		case "stale":
			w.res.Stale = append(w.res.Stale, StaleRow{Key: c.Key, Kind: c.Kind,
				Reason: fmt.Sprintf("the node holds %d copies of the row, the diff saw %d", cur, c.ExpectCount)})
			continue
		}
		want[action] += n
		rec := c.New
		if rec == nil {
			rec = c.Expected
		}
		after := cur + n
		if action == "delete" {
			after = cur - n
		}
		entries = append(entries, undoEntry{Node: w.node, Op: Kind(action), Key: c.Key, Row: rec,
			Copies: n, CountBefore: cur, CountAfter: after})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	if w.opts.DryRun {
		w.res.Inserted, w.res.Deleted = want["insert"], want["delete"]
		w.res.Changes = entries
		return nil
	}
	w.startUndo(entries)
	for _, step := range []struct {
		kind string
		sql  string
		n    *int64
	}{
		{"delete", w.st.wholeDelete(), &w.res.Deleted},
		{"insert", w.st.wholeInsert(), &w.res.Inserted},
	} {
		if want[step.kind] == 0 {
			continue
		}
		tag, err := w.tx.Exec(ctx, step.sql)
		if err != nil {
			return fmt.Errorf("%s rows: %w", step.kind, err)
		}
		if tag.RowsAffected() != want[step.kind] {
			return fmt.Errorf("%s rows: %d changed, %d expected", step.kind, tag.RowsAffected(), want[step.kind])
		}
		*step.n = tag.RowsAffected()
	}
	return nil
}

// startUndo writes (and fsyncs) the node's undo entries while the database applies the changes;
// waitUndo waits for it. Both happen before the node may commit.
func (w *nodeWork) startUndo(entries []undoEntry) {
	if w.undo == nil {
		return
	}
	w.undoDone = make(chan error, 1)
	go func() { w.undoDone <- w.undo.writeNode(w.node, entries) }()
}

func (w *nodeWork) waitUndo() error {
	if w.undoDone == nil {
		return nil
	}
	return <-w.undoDone
}

// finish commits or rolls back the node's transaction and records the outcome.
func (w *nodeWork) finish(ctx context.Context, commit bool, failed string) {
	defer func() {
		if w.conn != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = w.conn.Close(cctx)
			cancel()
		}
		w.res.DurationSeconds = time.Since(w.started).Seconds()
		if w.err != nil {
			w.res.Error = w.err.Error()
		}
	}()
	if w.err != nil {
		if failed != "" && failed != w.node && errors.Is(w.err, context.Canceled) && ctx.Err() == nil {
			w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("rolled back: the repair failed on node %s", failed)}
		}
		w.rollback(ctx)
		w.status("failed")
		return
	}
	if !commit {
		w.rollback(ctx)
		if !w.opts.DryRun {
			w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("rolled back: the repair failed on node %s", failed)}
			if failed == "" {
				w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("rolled back: %w", ctx.Err())}
			}
			w.status("rolled back")
		}
		return
	}
	if err := w.tx.Commit(ctx); err != nil {
		w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("commit repair of %s: %w", w.st.table.Ident(), err)}
		w.status("commit failed")
		return
	}
	w.res.Committed = true
	w.status("committed")
}

func (w *nodeWork) rollback(ctx context.Context) {
	if w.tx == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = w.tx.Rollback(rctx) // a broken connection fails here; the server ends the transaction
}

func (w *nodeWork) status(s string) {
	if w.undo != nil {
		if err := w.undo.writeStatus(w.node, s); err != nil && w.err == nil {
			w.err = fmt.Errorf("node %s: write undo file: %w", w.node, err)
		}
	}
}

// nodeErrors joins per-node errors on one line, keeping each reachable with errors.As.
type nodeErrors []error

func (m nodeErrors) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

func (m nodeErrors) Unwrap() []error { return m }
