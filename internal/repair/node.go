package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

//go:embed role.sql
var roleSQL string

//go:embed param_privilege.sql
var paramPrivilegeSQL string

//go:embed origin.sql
var originSQL string

// nodeWork is one node's part of a repair.
type nodeWork struct {
	node string
	pool *cluster.Pool
	plan *Plan // the repair's header
	opts ApplyOptions
	res  *NodeResult
	st   *statements
	// insertable are the table's columns an insert may write; seqs the written columns fed by a
	// sequence, with the values written into them.
	insertable []catalog.Column
	seqs       []*sequenced
	row        *jsonRow    // encodes rows of st.cols for the undo file
	keyRow     *jsonRow    // encodes keys (st.key)
	undo       *undoWriter // the repair's undo file (nil: dry run)
	us         *undoStream // this node's entries on their way to it
	batches    chan *nodeBatch
	// group is the origin group whose changes this work commits (--preserve-origin: grouped, res
	// is the group's own and merged into the node's when every work is done; last is its status).
	group   originGroup
	grouped bool
	last    string

	changes []Change        // the batch being applied
	masks   []byte          // keyed: per change and column, '1' where an update sets the column
	done    int             // batches applied
	loaded  int64           // whole-row: changes loaded so far
	hashed  int64           // keyed: current rows hashed by the node (their text matched neither version)
	temps   map[string]bool // temporary tables created (and to empty before reuse)
	steps   map[string]time.Duration
	mark    time.Time

	conn    *pgx.Conn
	tx      pgx.Tx
	started time.Time
	err     error
}

// preflight checks the node before its transaction opens: the table still has the diff's columns
// (same types, none generated now) and key, the role may switch triggers off (or --fire-triggers
// was given: the warning says so), and the replication origin exists (it is created if missing).
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
	w.row, w.keyRow = newJSONRow(cols), newJSONRow(key)
	w.insertable = insertable(t)
	if err := w.loadIdentity(ctx); err != nil {
		return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("read identity and serial columns of %s: %w", t.Ident(), err)}
	}

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
	if w.grouped {
		if err := w.checkOriginPrivilege(ctx); err != nil {
			return "", err
		}
	}
	if o := w.sessionOrigin(); o != "" && !w.opts.DryRun {
		var created bool
		if err := w.pool.QueryRow(ctx, originSQL, o).Scan(&created); err != nil {
			return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("replication origin %s: %w", o, err)}
		}
	}
	return warning, nil
}

// prepare runs the node's transaction up to, not including, the commit: it opens it, applies
// every batch it is handed, then (whole-row mode) decides and writes, and waits for its undo
// entries to be on disk.
func (w *nodeWork) prepare(ctx context.Context) error {
	fail := func(step string, err error) error {
		return &cluster.NodeError{Node: w.node, Err: fmt.Errorf("repair %s: %s: %w", w.st.table.Ident(), step, err)}
	}
	w.mark = time.Now()
	defer func() {
		for name, d := range w.steps {
			slog.Debug("repair step", "node", w.node, "step", name, "seconds", d.Seconds(), "batches", w.done)
		}
	}()
	if err := w.begin(ctx); err != nil {
		w.closeUndo()
		return fail("begin", err)
	}
	keyed := len(w.st.key) > 0
	for b := range w.batches {
		w.step("wait for the batch (read and plan)")
		w.changes = b.changes
		var err error
		if keyed {
			err = w.applyKeyed(ctx)
		} else {
			err = w.loadWhole(ctx)
		}
		w.changes = nil
		if err != nil {
			w.closeUndo()
			return fail("apply", err)
		}
		w.done++
		if w.opts.AfterBatch != nil {
			if err := w.opts.AfterBatch(ctx, w.node, w.done, w.conn.PgConn().PID()); err != nil {
				w.closeUndo()
				return fail(fmt.Sprintf("after batch %d", w.done), err)
			}
		}
	}
	if err := ctx.Err(); err != nil { // the stream stopped early: the repair fails elsewhere
		w.closeUndo()
		return err
	}
	if !keyed {
		if err := w.applyWhole(ctx); err != nil {
			w.closeUndo()
			return fail("apply", err)
		}
	}
	if !w.opts.DryRun {
		if err := w.advanceSequences(ctx); err != nil {
			w.closeUndo()
			return fail("apply", err)
		}
		w.step("advance sequences")
	}
	if err := w.closeUndo(); err != nil {
		return fmt.Errorf("node %s: write undo file: %w", w.node, err)
	}
	w.step("undo file written and synced")
	slog.Debug("repair prepared", "node", w.node, "batches", w.done, "hashed", w.hashed, "seconds", time.Since(w.started).Seconds())
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(ctx, w.node, w.conn.PgConn().PID()); err != nil {
			return fail("before commit", err)
		}
	}
	return nil
}

// begin opens the node's connection and transaction and creates its temporary tables.
func (w *nodeWork) begin(ctx context.Context) error {
	c, err := w.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// The connection carries session state (replication origin) and is closed afterwards, never
	// returned to the pool.
	w.conn = c.Hijack()
	origin := w.sessionOrigin()
	if origin != "" && !(w.grouped && w.opts.DryRun) {
		if _, err := w.conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", origin); err != nil {
			return fmt.Errorf("set up replication origin %s: %w", origin, err)
		}
	}
	if w.tx, err = w.conn.Begin(ctx); err != nil {
		return err
	}
	if !w.opts.DryRun {
		if err := w.setupGroup(ctx, w.tx); err != nil {
			return err
		}
	}
	// The statements below are few and simple; JIT compiling them (their cost estimates scale with
	// the number of changes) takes longer than running them.
	if _, err := w.tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return fmt.Errorf("set jit: %w", err)
	}
	if !w.opts.FireTriggers {
		if _, err := w.tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fmt.Errorf("set session_replication_role: %w", err)
		}
	}
	w.temps = map[string]bool{}
	ops := w.st.keyedOps()
	if len(w.st.key) == 0 {
		ops = w.st.wholeOps()
	}
	if _, err := w.tx.Exec(ctx, ops+"; "+w.st.rowsTable(tempNew)); err != nil {
		return fmt.Errorf("create temporary tables: %w", err)
	}
	w.temps[tempOps], w.temps[tempNew] = true, true
	w.step("begin")
	return nil
}

// empty makes the named temporary tables empty, creating those that do not exist yet: the first
// batch finds them empty, later ones truncate them (in place, as they were created in this
// transaction: no new files, no catalog growth).
func (w *nodeWork) empty(ctx context.Context, tables ...string) error {
	var create, truncate []string
	for _, t := range tables {
		switch {
		case !w.temps[t]:
			create = append(create, w.st.rowsTable(t))
			w.temps[t] = true
		case w.done > 0 || t == tempHash:
			truncate = append(truncate, t)
		}
	}
	sql := ""
	for _, c := range create {
		sql += c + "; "
	}
	if len(truncate) > 0 {
		sql += "TRUNCATE " + strings.Join(truncate, ", ")
	}
	if sql == "" {
		return nil
	}
	if _, err := w.tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("empty temporary tables: %w", err)
	}
	return nil
}

// step adds the time since the last step to the named step's total (logged at debug level).
func (w *nodeWork) step(name string) {
	now := time.Now()
	w.steps[name] += now.Sub(w.mark)
	w.mark = now
}

// closeUndo closes the node's undo stream, if any: its entries are written and fsync'd.
func (w *nodeWork) closeUndo() error {
	if w.us == nil {
		return nil
	}
	return w.us.close()
}

// finish commits or rolls back the node's transaction and records the outcome. why says why the
// repair does not commit ("" when it does, or in a dry run); failed is the node that failed first.
func (w *nodeWork) finish(ctx context.Context, commit bool, failed, why string) {
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
		w.rollback(ctx)
		if why != "" && failed != w.node && errors.Is(w.err, context.Canceled) {
			// Stopped because the repair stopped elsewhere: nothing failed here.
			w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("rolled back: %s", why)}
			w.status("rolled back")
			return
		}
		w.status("failed")
		return
	}
	if !commit {
		w.rollback(ctx)
		if !w.opts.DryRun || why != "" {
			w.err = &cluster.NodeError{Node: w.node, Err: fmt.Errorf("rolled back: %s", why)}
			w.status("rolled back")
		}
		return
	}
	// Every node is ready, so the decision to commit is made: an interrupt (Ctrl-C) arriving now
	// must not leave some nodes committed and others rolled back.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := w.tx.Commit(cctx); err != nil {
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
	w.last = s
	if w.undo != nil && !w.grouped { // a grouped work's node status is written by mergeGroups
		if err := w.undo.writeStatus(w.node, s); err != nil && w.err == nil {
			w.err = fmt.Errorf("node %s: write undo file: %w", w.node, err)
		}
	}
}
