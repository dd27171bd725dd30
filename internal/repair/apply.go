package repair

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

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
	// PreserveOrigin commits every node's changes in one transaction per origin group: the
	// replication origin and commit time of the source's version (see docs/repair.md).
	PreserveOrigin bool
	UndoPath       string // undo file to create (required unless DryRun)
	DiffFile       string // recorded in the undo file
	BatchSize      int    // keys (undo: entries) per batch; 0 = DefaultBatchSize
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
	e := &engine{head: head, opts: o, res: res, pools: map[string]*cluster.Pool{}, byKey: map[workKey]*nodeWork{}}
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
	works []*nodeWork           // in start order; a node's work starts with its first change
	byKey map[workKey]*nodeWork // by node index and origin group (--preserve-origin, else the zero group)
	undo  *undoWriter
	wg    sync.WaitGroup

	mu     sync.Mutex
	failed string // the first node whose work failed
	cancel context.CancelFunc
}

// workKey names one transaction of a repair: a node's, or with --preserve-origin one of its
// origin groups'.
type workKey struct {
	node  int
	group originGroup
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
	if e.opts.PreserveOrigin {
		e.mergeGroups()
	}
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
			order, by := []originGroup{{}}, map[originGroup][]Change{{}: changes}
			if e.opts.PreserveOrigin {
				order, by = splitGroups(changes)
			}
			for _, g := range order {
				if ctx.Err() != nil {
					break // the loop's head says why
				}
				if err := e.send(ctx, workKey{i, g}, by[g]); err != nil {
					return err
				}
			}
		}
	}
}

// send hands a work its changes, starting it first if need be.
func (e *engine) send(ctx context.Context, k workKey, changes []Change) error {
	w := e.byKey[k]
	if w == nil {
		n := 0
		for o := range e.byKey {
			if o.node == k.node {
				n++
			}
		}
		if n >= MaxOriginGroups {
			return fault.Input("--preserve-origin: the changes of node %s come from more than %d distinct (origin, commit time) groups, "+
				"each its own transaction; repair without --preserve-origin, or in parts (table-diff --where)", e.head.Nodes[k.node], MaxOriginGroups)
		}
		var err error
		if w, err = e.start(ctx, k); err != nil {
			return err
		}
	}
	if w.grouped {
		w.res.Planned += len(changes)
	}
	select {
	case w.batches <- &nodeBatch{changes: changes}:
		return nil
	case <-ctx.Done():
		if e.failedNode() != "" {
			return nil
		}
		return ctx.Err()
	}
}

// start runs node i's preflight checks and starts its work; the undo file is created when the
// first node starts.
func (e *engine) start(ctx context.Context, k workKey) (*nodeWork, error) {
	i := k.node
	name := e.head.Nodes[i]
	pl := e.pools[name]
	if pl == nil {
		return nil, fault.Input("node %s has changes to make but is not connected", name)
	}
	w := &nodeWork{node: name, pool: pl, plan: e.head, opts: e.opts, res: e.res.Nodes[i],
		batches: make(chan *nodeBatch, 1), steps: map[string]time.Duration{}, group: k.group, grouped: e.opts.PreserveOrigin}
	if w.grouped {
		w.res = &NodeResult{Node: name}
	}
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
	e.works = append(e.works, w)
	e.byKey[k] = w
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
