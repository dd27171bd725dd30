package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/job"
)

// batchWorker runs the batch jobs of split table-diffs for River.
type batchWorker struct {
	river.WorkerDefaults[batchArgs]
	s           *Server
	rescueAfter time.Duration
}

// Timeout implements river.Worker (see worker.Timeout).
func (w *batchWorker) Timeout(*river.Job[batchArgs]) time.Duration { return w.rescueAfter }

// Work implements river.Worker: hash the batch's ranges and write its candidate file. A batch
// whose file exists is done (a rescued copy of a batch that finished).
func (w *batchWorker) Work(riverCtx context.Context, j *river.Job[batchArgs]) error {
	ctx, stop := detach(riverCtx)
	defer stop()
	s := w.s
	out := batchFile(j.Args.Dir, j.Args.Index)
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	if row, err := s.queue().JobGet(ctx, j.Args.Parent); err == nil && row.State == rivertype.JobStateCancelled {
		return nil // the split job was cancelled: its batches have nothing to do
	}
	prep, err := prepareTableDiff(s.currentEnv(), &j.Args.Request)
	if err != nil {
		return river.JobCancel(err) // the parent's request no longer validates: retrying cannot help
	}
	keys := []lockKey{{Name: "job:" + strconv.FormatInt(j.ID, 10), Slots: 1}}
	for _, n := range prep.Nodes {
		keys = append(keys, lockKey{Name: "node:" + prep.Cluster + "/" + n, Slots: s.config().MaxJobsPerNode})
	}
	release, ok, err := s.locks.TryAcquire(ctx, keys)
	if err != nil {
		return err
	}
	if !ok {
		// Node slots are taken (often by sibling batches, which take a fraction of a second).
		return river.JobSnooze(time.Duration(250+rand.IntN(250)) * time.Millisecond)
	}
	defer release()
	if _, err := os.Stat(out); err == nil { // a copy finished while this one waited for the locks
		return nil
	}
	plan, err := readPlan(j.Args.Dir)
	if err != nil {
		return fmt.Errorf("batch %d of job %d: %w", j.Args.Index, j.Args.Parent, err)
	}
	if j.Args.Index >= plan.batches() {
		return river.JobCancel(fmt.Errorf("batch %d of job %d: the plan has %d batches", j.Args.Index, j.Args.Parent, plan.batches()))
	}
	s.running.Add(1)
	defer s.running.Add(-1)
	defer s.heartbeat(ctx, j.ID)()
	env := *prep.Split.env
	env.Settings.OutputDir = j.Args.Dir
	env.NoHistory = true // the parent records the run
	if err := job.RunTableDiffBatch(ctx, &env, prep.Split.td, plan.slice(j.Args.Index), out); err != nil {
		if ctx.Err() != nil && s.draining.Load() {
			return river.JobSnooze(0) // shut down mid-batch: the next instance hashes it again
		}
		return fmt.Errorf("batch %d of job %d: %w", j.Args.Index, j.Args.Parent, err)
	}
	return nil
}
