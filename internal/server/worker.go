package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/fault"
)

// Job states of the API (River's states are mapped onto them in status.go).
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateDone      = "done"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateSkipped   = "skipped"
)

// record is what a job writes on its River row (the row's output): while it runs, and when it
// ends. It is written eagerly, so that a rescued copy of a finished job sees it and does not run
// the command again.
type record struct {
	State      string     `json:"state"`
	Instance   string     `json:"instance"`
	Attempt    int        `json:"attempt"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	ExitCode   *int       `json:"exit_code,omitempty"`
	Error      string     `json:"error,omitempty"`
	Outcome    *Outcome   `json:"outcome,omitempty"`
	// Split is the progress of a split table-diff waiting for its batch jobs.
	Split *splitProgress `json:"split,omitempty"`
}

// readRecord reads the record a job left on its row (nil when none).
func readRecord(row *rivertype.JobRow) *record {
	b := row.Output()
	if len(b) == 0 {
		return nil
	}
	var r record
	if json.Unmarshal(b, &r) != nil || r.State == "" {
		return nil
	}
	return &r
}

// worker runs pgparity jobs for River.
type worker struct {
	river.WorkerDefaults[jobArgs]
	s           *Server
	rescueAfter time.Duration
}

// Timeout implements river.Worker. River's rescuer leaves alone a running job whose timeout
// has not passed since its attempted_at, and ignores jobs without a timeout altogether; the
// heartbeat keeps attempted_at fresh, so the timeout is job_rescue_after. Work detaches from
// the deadline it sets (a comparison takes as long as the table needs).
func (w *worker) Timeout(*river.Job[jobArgs]) time.Duration { return w.rescueAfter }

// Work implements river.Worker.
func (w *worker) Work(riverCtx context.Context, j *river.Job[jobArgs]) error {
	ctx, stop := detach(riverCtx)
	defer stop()
	s := w.s
	q := s.queue()
	if rec := readRecord(j.JobRow); rec != nil && rec.FinishedAt != nil {
		return nil // a rescued copy of a job that finished: nothing to do
	}
	cmd, err := lookup(&j.Args.Request)
	if err != nil {
		return s.finish(ctx, j, &record{State: StateFailed, StartedAt: time.Now().UTC()}, nil, err)
	}
	env := s.currentEnv()
	prep, err := cmd.Prepare(env, &j.Args.Request)
	if err != nil {
		return s.finish(ctx, j, &record{State: StateFailed, StartedAt: time.Now().UTC()}, nil, err)
	}
	keys := []lockKey{{Name: "job:" + strconv.FormatInt(j.ID, 10), Slots: 1}}
	if j.Args.Schedule != "" {
		keys = append(keys, lockKey{Name: "schedule:" + j.Args.Schedule, Slots: 1})
	}
	for _, n := range prep.Nodes {
		keys = append(keys, lockKey{Name: "node:" + prep.Cluster + "/" + n, Slots: s.config().MaxJobsPerNode})
	}
	release, ok, err := s.locks.TryAcquire(ctx, keys)
	if err != nil {
		return err // River retries: the control plane was unreachable
	}
	if !ok {
		return s.busy(ctx, j, keys)
	}
	defer release()
	// The job lock is held: re-read the row, a copy of this job may have finished meanwhile.
	rec := &record{State: StateRunning, Instance: s.instance, Attempt: j.Attempt, StartedAt: time.Now().UTC()}
	if row, err := q.JobGet(ctx, j.ID); err == nil {
		prev := readRecord(row)
		if prev != nil && prev.FinishedAt != nil {
			return nil
		}
		if prev != nil && prev.Split != nil { // a split job back from waiting for its batches
			rec.StartedAt, rec.Split = prev.StartedAt, prev.Split
		}
	}
	if _, err := q.JobUpdate(ctx, j.ID, &river.JobUpdateParams{Output: rec}); err != nil {
		return fmt.Errorf("job %d: record start: %w", j.ID, err)
	}
	s.running.Add(1)
	defer s.running.Add(-1)
	defer s.heartbeat(ctx, j.ID)()
	dir := filepath.Join(env.Settings.OutputDir, "jobs", strconv.FormatInt(j.ID, 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s.finish(ctx, j, rec, nil, fmt.Errorf("job directory: %w", err))
	}
	var out *Outcome
	var runErr error
	split := false
	if prep.Split != nil {
		var wait bool
		out, wait, split, runErr = s.splitRun(ctx, j, rec, prep.Split, dir)
		if wait {
			return river.JobSnooze(time.Second) // the batches run; the job checks again in 1 s
		}
	}
	if !split {
		out, runErr = prep.Run(ctx, env, dir)
	}
	if ctx.Err() != nil && s.draining.Load() && cmd.ReadOnly {
		// Shut down mid-run: a read-only job starts again on the next instance to fetch it.
		_, _ = q.JobUpdate(context.WithoutCancel(ctx), j.ID, &river.JobUpdateParams{Output: &record{State: StateQueued}})
		return river.JobSnooze(0)
	}
	return s.finish(ctx, j, rec, out, runErr)
}

// busy is a job that cannot have its locks (keys: the job's own first, then its schedule's,
// then its nodes'). A copy of a job still running elsewhere waits for it; a scheduled run whose
// previous run still runs is skipped; a job waiting for node slots tries again in 2 s (snoozing
// does not use up attempts).
func (s *Server) busy(ctx context.Context, j *river.Job[jobArgs], keys []lockKey) error {
	probe := func(k lockKey) bool {
		release, ok, err := s.locks.TryAcquire(ctx, []lockKey{k})
		if ok {
			release()
		}
		return ok || err != nil
	}
	if !probe(keys[0]) {
		return river.JobSnooze(s.config().JobRescueAfter.Duration / 2)
	}
	if j.Args.Schedule != "" && !probe(keys[1]) {
		return s.finish(ctx, j, &record{State: StateSkipped, StartedAt: time.Now().UTC()}, nil, errSkipped)
	}
	return river.JobSnooze(2 * time.Second)
}

// finish writes a job's final record and its metrics. Command errors end the job (they are in
// its record, with the exit code); River retries only jobs whose instance died.
func (s *Server) finish(ctx context.Context, j *river.Job[jobArgs], rec *record, out *Outcome, err error) error {
	now := time.Now().UTC()
	code := exitCode(ctx, err)
	rec.FinishedAt, rec.ExitCode, rec.Outcome, rec.Instance = &now, &code, out, s.instance
	switch {
	case errors.Is(err, errSkipped):
		rec.State, rec.Error = StateSkipped, err.Error()
	case ctx.Err() != nil:
		rec.State, rec.Error = StateCancelled, "cancelled"
	case code <= 1 || code == 4: // a verdict: match, differ, inconclusive
		rec.State = StateDone
	default:
		rec.State, rec.Error = StateFailed, err.Error()
	}
	s.metrics.observe(j.Args.Request.Command, rec, now.Sub(rec.StartedAt))
	wctx := context.WithoutCancel(ctx)
	if err := river.RecordOutput(ctx, rec); err != nil {
		return err
	}
	if _, err := s.queue().JobUpdate(wctx, j.ID, &river.JobUpdateParams{Output: rec}); err != nil {
		return fmt.Errorf("job %d: record result: %w", j.ID, err)
	}
	if rec.State == StateCancelled {
		return river.JobCancel(errors.New("cancelled"))
	}
	return nil
}

// exitCode maps a command's error to pgparity's exit codes (as the command line does).
func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errSkipped):
		return 0
	case ctx.Err() != nil:
		return 130
	case errors.Is(err, fault.ErrDiffer):
		return 1
	case errors.Is(err, fault.ErrInconclusive):
		return 4
	case fault.IsInput(err):
		return 2
	default:
		return 3
	}
}

// heartbeat touches a running job until the returned function is called (see backend.touch).
func (s *Server) heartbeat(ctx context.Context, id int64) (stop func()) {
	every := s.config().JobRescueAfter.Duration / 4
	if every < 500*time.Millisecond {
		every = 500 * time.Millisecond
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := s.backend.touch(hctx, id); err != nil && hctx.Err() == nil {
					s.log.Warn("job heartbeat", "job", id, "err", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// detach returns a context that River's job timeout does not end but a cancellation (DELETE
// /v1/jobs/{id}, or shutdown past drain_timeout) does.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cancel(context.Cause(ctx))
			}
		case <-done:
		}
	}()
	return out, func() {
		close(done)
		cancel(nil)
	}
}
