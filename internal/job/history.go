package job

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
)

// historyTimeout bounds each history write made after a run's own context is done (its finish
// after an interruption): recording never keeps a finished command waiting long.
const historyTimeout = time.Minute

// RunInfo describes a run to record in the history store.
type RunInfo struct {
	Command string   // "table-diff", "mtree table-diff", "verify", "schema-diff", "table-repair", ...
	Cluster string   // the cluster's name (resolved: not "")
	Tables  []string // schema.name; a run that learns its tables as it goes adds them (Recorder.AddTable)
	// Options are the run's options as given (JSON-encodable values), never a secret.
	Options map[string]any
}

// Recorder records one run, its divergences and its outcome in the history store. Every method
// is safe on a Recorder that records nothing (history off, or the store could not be opened) and
// for concurrent use. A failure to write history never fails the command: it is logged as a
// warning, and from then on the run resolves no divergence (an unrecorded sighting must not let
// a key look resolved).
type Recorder struct {
	store   *history.Store // nil: recording nothing
	id      int64
	cluster string

	mu       sync.Mutex
	tables   []string // the run's tables
	added    bool     // tables were added after the start
	broken   bool     // a write failed
	finished bool     // Finish was called
}

// HistoryOpen opens the configured history store: history_dsn when set, else the SQLite file
// history_path (default history.DefaultPath()).
func (e *Env) HistoryOpen(ctx context.Context) (*history.Store, error) {
	s := e.Settings
	path := s.HistoryPath
	if s.HistoryDSN == "" && path == "" {
		p, err := history.DefaultPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	return history.Open(ctx, s.HistoryDSN, path)
}

// StartRun records that a run starts and returns its recorder. With history off (NoHistory), or
// when the store cannot be written, it logs why (a warning) and returns a recorder that records
// nothing: history never fails a command. The recorder holds the store open until Finish.
func (e *Env) StartRun(ctx context.Context, info RunInfo) *Recorder {
	if e.NoHistory || info.Cluster == "" || ctx.Err() != nil { // interrupted before it began: nothing ran
		return &Recorder{}
	}
	store, err := e.HistoryOpen(ctx)
	if err != nil {
		slog.Warn("history: not recording this run", "command", info.Command, "err", err)
		return &Recorder{}
	}
	opts, err := json.Marshal(info.Options)
	if err != nil || info.Options == nil {
		opts = nil
	}
	id, err := store.StartRun(ctx, history.Start{Command: info.Command, Cluster: info.Cluster, Tables: info.Tables, Options: opts})
	if err != nil {
		store.Close()
		slog.Warn("history: not recording this run", "command", info.Command, "err", err)
		return &Recorder{}
	}
	return &Recorder{store: store, id: id, cluster: info.Cluster, tables: slices.Clone(info.Tables)}
}

// ID returns the run's id in the store (0 when nothing is recorded).
func (r *Recorder) ID() int64 { return r.id }

// fail logs a failed history write and stops the run from resolving anything.
func (r *Recorder) fail(what string, err error) {
	if errors.Is(err, context.Canceled) {
		slog.Debug("history: "+what, "run", r.id, "err", err) // the command says it was interrupted
	} else {
		slog.Warn("history: "+what, "run", r.id, "err", err)
	}
	r.mu.Lock()
	r.broken = true
	r.mu.Unlock()
}

// AddTable adds a table the run compares, for a run that learns its tables as it goes
// (schema-diff); they are recorded by Finish.
func (r *Recorder) AddTable(table string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.tables, table) {
		r.tables, r.added = append(r.tables, table), true
	}
}

// Seen records keys the run saw differing on a table, streaming (see history.RecordDivergences).
func (r *Recorder) Seen(ctx context.Context, table string, keys iter.Seq[history.Seen]) {
	if r.store == nil {
		return
	}
	if _, err := r.store.RecordDivergences(ctx, r.id, r.cluster, table, keys); err != nil {
		r.fail("divergences not recorded", err)
	}
}

// Repaired records that the run (a repair) touched keys of a table: a later run that compares
// the whole table and finds them equal credits this repair with their resolution.
func (r *Recorder) Repaired(ctx context.Context, table string, keys iter.Seq[history.Key]) {
	if r.store == nil {
		return
	}
	if _, err := r.store.RecordRepair(ctx, r.id, r.cluster, table, keys); err != nil {
		r.fail("repaired keys not recorded", err)
	}
}

// Resolve marks resolved every open divergence of the table that the run did not see, when the
// run compared the whole table (coveredAll) and recorded every key it saw differing on it; call it
// after the table's sightings are recorded. It returns how many it resolved.
func (r *Recorder) Resolve(ctx context.Context, table string, coveredAll bool) int64 {
	r.mu.Lock()
	broken := r.broken
	r.mu.Unlock()
	if r.store == nil || !coveredAll || broken {
		return 0
	}
	n, err := r.store.ResolveAbsent(ctx, r.id, r.cluster, table, true)
	if err != nil {
		r.fail("divergences not resolved", err)
	}
	return n
}

// ResolveKeys marks resolved the open divergences of keys that the run re-read on every node and
// did not see differing (table-rerun); call it after the run's sightings are recorded.
func (r *Recorder) ResolveKeys(ctx context.Context, table string, keys iter.Seq[history.Key]) {
	r.mu.Lock()
	broken := r.broken
	r.mu.Unlock()
	if r.store == nil || broken {
		return
	}
	if _, err := r.store.ResolveKeys(ctx, r.id, r.cluster, table, keys); err != nil {
		r.fail("divergences not resolved", err)
	}
}

// Finish records the run's outcome and closes the store; a second call does nothing. err is the
// run's error, if any: the status is then failed unless res says otherwise, the error text is
// recorded (fault.ErrDiffer, the outcome "differences found", is not an error), and the exit code
// is the one pgparity exits with for it (unless res sets one). Finish writes even when ctx is
// cancelled (an interrupted run is recorded as failed), within historyTimeout.
func (r *Recorder) Finish(ctx context.Context, res history.Result, err error) {
	r.mu.Lock()
	done := r.finished
	r.finished = true
	if r.added {
		res.AllTables = slices.Clone(r.tables)
	}
	r.mu.Unlock()
	if r.store == nil || done {
		return
	}
	defer r.store.Close()
	cancelled := ctx.Err() != nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), historyTimeout)
	defer cancel()
	switch {
	case err == nil:
	case errors.Is(err, fault.ErrDiffer):
		if res.Status == "" {
			res.Status = history.StatusDiffer
		}
	default:
		if res.Status == "" {
			res.Status = history.StatusFailed
		}
		res.Error = err.Error()
	}
	if res.ExitCode == 0 {
		res.ExitCode = exitCode(res.Status, err, cancelled)
	}
	if ferr := r.store.FinishRun(ctx, r.id, res); ferr != nil {
		slog.Warn("history: run outcome not recorded", "run", r.id, "err", ferr)
	}
}

// exitCode is the exit code pgparity gives a run that ended with status and err (see DESIGN.md).
func exitCode(status history.Status, err error, cancelled bool) int {
	switch {
	case cancelled:
		return 130
	case err == nil && (status == history.StatusDiffer || status == history.StatusPartial):
		return 1
	case err == nil && status == history.StatusInconclusive:
		return 4
	case err == nil:
		return 0
	case errors.Is(err, fault.ErrDiffer):
		return 1
	case fault.IsInput(err):
		return 2
	}
	return 3
}

// DiffHistoryResult returns the history result of a finished comparison: its status, counts and
// diff file ("" = none); coverage 1 when it compared the whole table (full, see FullCoverage).
func DiffHistoryResult(d *report.Diff, diffFile string, full bool) history.Result {
	res := history.Result{Status: history.StatusFailed}
	if d == nil {
		return res
	}
	s := d.Summary
	res = history.Result{Status: history.Status(s.Status), DifferingKeys: int64(s.DifferingKeys),
		TransientKeys: int64(s.Transient), RowsCompared: s.RowsCompared, DiffFile: absPath(diffFile)}
	if full {
		one := 1.0
		res.Coverage = &one
	}
	return res
}

// absPath returns a file's absolute path for the history store, which outlives the working
// directory; "" stays "".
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// FullCoverage reports whether a finished comparison compared the whole table on every node of
// its cluster (clusterNodes of them): every row and every column, to its end. Only such a run may
// resolve divergences: an uncompared key or column may still differ.
func FullCoverage(d *report.Diff, clusterNodes int) bool {
	if d == nil {
		return false
	}
	o := d.Options
	return d.Summary.Status != report.StatusPartial && o.Where == "" && o.Until == "" &&
		len(o.Columns) == 0 && len(o.ExcludeColumns) == 0 && len(d.Nodes) >= clusterNodes
}
