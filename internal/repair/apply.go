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
		return res, cluster.JoinErrors(errs)
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
	undo    *undoWriter // the repair's undo file (nil: dry run)
	us      *undoStream // this node's entries on their way to it
	masks   []byte      // keyed: per change and column, '1' where an update sets the column

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
	// The statements below are few and simple; JIT compiling them (their cost estimates scale with
	// the number of changes) takes longer than running them.
	if _, err := w.tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return fail("set jit", err)
	}
	if !w.opts.FireTriggers {
		if _, err := w.tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fail("set session_replication_role", err)
		}
	}
	step("begin")
	if len(w.st.key) > 0 {
		err = w.applyKeyed(ctx, step)
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
	step("undo file written and synced")
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(ctx, w.node, w.conn.PgConn().PID()); err != nil {
			return fail("before commit", err)
		}
	}
	return nil
}

// waitUndo closes the node's undo stream, if any: its entries are written and fsync'd.
func (w *nodeWork) waitUndo() error {
	if w.us == nil {
		return nil
	}
	return w.us.close()
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
