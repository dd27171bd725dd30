package repair

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
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

// DefaultBatchSize is how many keys of the diff a repair plans and applies at a time, unless
// their values pass batchBytes first (see docs/repair.md for the measurement behind it): the
// fixed number of statements per batch and node then costs little, and a batch of wide rows
// stays a few MB.
const DefaultBatchSize = 5000

// batchBytes ends a batch early when its values (all versions of its keys, as text) add up to
// it: rows of megabytes come a few at a time.
const batchBytes = 16 << 20

// ApplyOptions say how the changes are carried out.
type ApplyOptions struct {
	DryRun       bool   // do everything up to the writes, report, and roll back
	NoStaleGuard bool   // write even rows that changed since the diff (appeared/vanished rows are still skipped)
	FireTriggers bool   // keep session_replication_role as it is: triggers and FK checks fire
	Origin       string // run under this replication origin (created if missing)
	UndoPath     string // undo file to create (required unless DryRun)
	DiffFile     string // recorded in the undo file
	BatchSize    int    // keys (undo: entries) per batch; 0 = DefaultBatchSize
	// BeforeCommit, when set, runs on every node after its changes and undo entries are written
	// and before any node commits; an error fails that node. Tests use it to kill a node.
	BeforeCommit func(ctx context.Context, node string, backendPID uint32) error
	// AfterBatch, when set, runs on a node after each batch of its changes is applied (batch
	// counts the node's batches from 1), inside its open transaction; an error fails that node.
	// Tests use it to interrupt a repair between batches.
	AfterBatch func(ctx context.Context, node string, batch int, backendPID uint32) error
}

func (o ApplyOptions) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return DefaultBatchSize
}

var originName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// batches yields the plan of one batch after another, io.EOF after the last. Each plan holds
// only its batch's changes, conflicts and held-back changes.
type batches func(ctx context.Context) (*Plan, error)

// apply carries out a stream of planned batches: per node that has changes one transaction,
// opened when the node's first change arrives (after the node's preflight checks), in which
// every batch is applied in turn (locking the rows it changes, checking them against the diff:
// the stale guard, writing every kind of change with one set-based statement). Once the stream
// ends, every node finishes its transaction up to the commit and writes its undo entries; the
// nodes commit only when all of them got that far, else all roll back. The result says per node
// what happened, also when apply returns an error.
func apply(ctx context.Context, pools cluster.Pools, head *Plan, next batches, o ApplyOptions) (*Result, error) {
	started := time.Now()
	res := newResult(head, o)
	if o.Origin != "" && !originName.MatchString(o.Origin) {
		return res, fault.Input("--origin %q: use 1 to 63 characters a-z, 0-9 and _", o.Origin)
	}
	if !o.DryRun && o.UndoPath == "" {
		return res, fault.Input("an undo file path is required")
	}
	e := &engine{head: head, opts: o, res: res, pools: map[string]*cluster.Pool{}, works: make([]*nodeWork, len(head.Nodes))}
	for _, pl := range pools {
		e.pools[pl.Node.Name] = pl
	}
	err := e.run(ctx, next)
	res.finish(started)
	return res, err
}

// engine runs the node transactions of one repair.
type engine struct {
	head  *Plan
	opts  ApplyOptions
	res   *Result
	pools map[string]*cluster.Pool
	works []*nodeWork // by node index; nil until the node has a change
	undo  *undoWriter
	wg    sync.WaitGroup

	mu     sync.Mutex
	failed string // the first node whose work failed
	cancel context.CancelFunc
}

// nodeBatch is one batch of one node's changes.
type nodeBatch struct {
	changes []Change
}

// run reads the batches, hands each node its changes, and finishes every node's transaction.
func (e *engine) run(ctx context.Context, next batches) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.cancel = cancel
	cause := e.dispatch(pctx, next)
	if cause != nil {
		cancel()
	}
	for _, w := range e.works {
		if w != nil {
			close(w.batches)
		}
	}
	e.wg.Wait()
	if e.undo != nil {
		defer e.undo.close()
	}
	if ctx.Err() != nil {
		cause = fmt.Errorf("repair interrupted: %w", ctx.Err())
	}
	failed := e.failedNode()
	why := ""
	switch {
	case failed != "":
		why = "the repair failed on node " + failed
	case cause != nil:
		why = cause.Error()
	}
	commit := why == "" && !e.opts.DryRun
	for _, w := range e.works {
		if w == nil {
			continue
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w.finish(ctx, commit, failed, why)
		}()
	}
	e.wg.Wait()
	if failed == "" && cause != nil {
		e.dropUndo(cause)
		return cause
	}
	var errs []error // the failed node's first
	for _, w := range e.works {
		if w != nil && w.err != nil && w.node == failed {
			errs = append(errs, w.err)
		}
	}
	for _, w := range e.works {
		if w != nil && w.err != nil && w.node != failed {
			errs = append(errs, w.err)
		}
	}
	if len(errs) > 0 {
		err := cluster.JoinErrors(errs)
		e.dropUndo(err)
		return err
	}
	return nil
}

// dispatch plans batch after batch and hands each node its changes, starting a node's work when
// its first change arrives. It returns why it stopped early (nil: every batch was handed out, or
// a node failed, which the node reports).
func (e *engine) dispatch(ctx context.Context, next batches) error {
	for {
		if ctx.Err() != nil {
			if e.failedNode() != "" {
				return nil
			}
			return ctx.Err()
		}
		p, err := next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if e.failedNode() != "" {
				return nil
			}
			return err
		}
		e.res.absorb(p)
		for i, name := range e.head.Nodes {
			changes := p.Changes[name]
			if len(changes) == 0 {
				continue
			}
			e.res.Nodes[i].Planned += len(changes)
			w := e.works[i]
			if w == nil {
				if w, err = e.start(ctx, i); err != nil {
					return err
				}
			}
			select {
			case w.batches <- &nodeBatch{changes: changes}:
			case <-ctx.Done():
				if e.failedNode() != "" {
					return nil
				}
				return ctx.Err()
			}
		}
	}
}

// start runs node i's preflight checks and starts its work; the undo file is created when the
// first node starts.
func (e *engine) start(ctx context.Context, i int) (*nodeWork, error) {
	name := e.head.Nodes[i]
	pl := e.pools[name]
	if pl == nil {
		return nil, fault.Input("node %s has changes to make but is not connected", name)
	}
	w := &nodeWork{node: name, pool: pl, plan: e.head, opts: e.opts, res: e.res.Nodes[i],
		batches: make(chan *nodeBatch, 1), steps: map[string]time.Duration{}}
	warning, err := w.preflight(ctx)
	if err != nil {
		w.res.Error = err.Error()
		return nil, err
	}
	if warning != "" && !e.res.warned {
		e.res.Warnings = append(e.res.Warnings, warning)
		e.res.warned = true // once: it is the same on every node that lacks the privilege
	}
	if !e.opts.DryRun && e.undo == nil {
		u, err := createUndo(e.opts.UndoPath, e.head, e.opts.DiffFile)
		if err != nil {
			return nil, err
		}
		e.undo = u
		e.res.UndoFile = e.opts.UndoPath
	}
	w.undo = e.undo
	if w.undo != nil {
		w.us = w.undo.stream()
	}
	e.works[i] = w
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		w.started = time.Now()
		if err := w.prepare(ctx); err != nil {
			w.err = err
			if ctx.Err() == nil { // else it stopped because the repair did, elsewhere
				e.fail(w.node)
			}
		}
		for range w.batches { // after a failure: let the dispatcher go on to its end
		}
	}()
	return w, nil
}

func (e *engine) fail(node string) {
	e.mu.Lock()
	if e.failed == "" {
		e.failed = node
	}
	e.mu.Unlock()
	e.cancel()
}

func (e *engine) failedNode() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed
}

// dropUndo removes the undo file of a repair that stopped on bad input (found before any node
// could commit): it holds nothing to undo, and bad input leaves no files behind.
func (e *engine) dropUndo(cause error) {
	if e.undo == nil || !fault.IsInput(cause) || len(e.res.Committed()) > 0 {
		return
	}
	e.undo.close()
	if err := os.Remove(e.opts.UndoPath); err == nil {
		e.res.UndoFile = ""
	}
}

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
	if w.opts.Origin != "" && !w.opts.DryRun {
		var created bool
		if err := w.pool.QueryRow(ctx, originSQL, w.opts.Origin).Scan(&created); err != nil {
			return "", &cluster.NodeError{Node: w.node, Err: fmt.Errorf("replication origin %s: %w", w.opts.Origin, err)}
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
	if w.opts.Origin != "" {
		if _, err := w.conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", w.opts.Origin); err != nil {
			return fmt.Errorf("set up replication origin %s: %w", w.opts.Origin, err)
		}
	}
	if w.tx, err = w.conn.Begin(ctx); err != nil {
		return err
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
		sql += "TRUNCATE " + joinNames(truncate)
	}
	if sql == "" {
		return nil
	}
	if _, err := w.tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("empty temporary tables: %w", err)
	}
	return nil
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
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
	if w.undo != nil {
		if err := w.undo.writeStatus(w.node, s); err != nil && w.err == nil {
			w.err = fmt.Errorf("node %s: write undo file: %w", w.node, err)
		}
	}
}
