package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/job"
)

// A table-diff job whose plan has more than server.split_ranges ranges is split: the job (the
// parent) plans the ranges once and keeps the plan in split/plan.json of its directory, queues
// one batch job per server.split_batch ranges, and snoozes; each batch job hashes its ranges and
// writes its candidate keys to split/batch-NNNNN.json. When every batch has completed, the
// parent re-reads all candidate keys by key on every node (job.FinishTableDiffSplit) and ends
// with the diff file and summary the command line would give. Batches are River jobs: one whose
// instance died is rescued and hashes its own ranges again; the parent only waits.

// splitTarget is what a split needs of a prepared table-diff.
type splitTarget struct {
	env *job.Env // the job's settings (overrides applied); OutputDir is set per job
	td  job.TableDiff
}

// splitPlan is split/plan.json: the ranges, the batches and their River jobs.
type splitPlan struct {
	StartedAt time.Time    `json:"started_at"`
	Ranges    []diff.Range `json:"ranges"`
	Batch     int          `json:"batch"`
	Jobs      []int64      `json:"jobs,omitempty"`
}

func (p *splitPlan) batches() int { return (len(p.Ranges) + p.Batch - 1) / p.Batch }

// slice returns the ranges of batch i.
func (p *splitPlan) slice(i int) []diff.Range {
	return p.Ranges[i*p.Batch : min((i+1)*p.Batch, len(p.Ranges))]
}

// splitProgress is a waiting parent's progress, on its record.
type splitProgress struct {
	Batches int `json:"batches"`
	Done    int `json:"done"`
}

// batchKind is the River kind of a batch job of a split table-diff.
const batchKind = "pgparity-batch"

// batchArgs are a batch job's River arguments: the parent's request (to resolve the same
// settings) and directory, and the batch's position in the plan.
type batchArgs struct {
	Parent  int64   `json:"parent"`
	Index   int     `json:"index"`
	Dir     string  `json:"dir"`
	Request Request `json:"request"`
}

// Kind implements river.JobArgs.
func (batchArgs) Kind() string { return batchKind }

func splitDir(dir string) string { return filepath.Join(dir, "split") }
func batchFile(dir string, i int) string {
	return filepath.Join(splitDir(dir), fmt.Sprintf("batch-%05d.json", i))
}

func readPlan(dir string) (*splitPlan, error) {
	b, err := os.ReadFile(filepath.Join(splitDir(dir), "plan.json"))
	if err != nil {
		return nil, err
	}
	var p splitPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("split plan: %w", err)
	}
	return &p, nil
}

// writePlan replaces split/plan.json atomically.
func writePlan(dir string, p *splitPlan) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(splitDir(dir), 0o755); err != nil {
		return fmt.Errorf("split plan: %w", err)
	}
	tmp := filepath.Join(splitDir(dir), ".plan.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("split plan: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(splitDir(dir), "plan.json")); err != nil {
		return fmt.Errorf("split plan: %w", err)
	}
	return nil
}

// splitRun runs a table-diff job that may be split. split is false when the job is not split
// (too few ranges, or options a split cannot honour): the caller runs it whole. wait is true
// while batches run: the job snoozes and comes back.
func (s *Server) splitRun(ctx context.Context, j *river.Job[jobArgs], rec *record, t *splitTarget, dir string) (out *Outcome, wait, split bool, err error) {
	cfg := s.config()
	env := *t.env
	env.Settings.OutputDir = dir
	plan, err := readPlan(dir)
	if os.IsNotExist(err) {
		if cfg.SplitRanges < 0 || !job.Splittable(&env, t.td) {
			return nil, false, false, nil
		}
		ranges, err := job.PlanTableDiff(ctx, &env, t.td, cfg.SplitRanges)
		if err != nil {
			return nil, false, true, err
		}
		if len(ranges) <= cfg.SplitRanges {
			return nil, false, false, nil
		}
		plan = &splitPlan{StartedAt: time.Now().UTC(), Ranges: ranges, Batch: cfg.SplitBatch}
		if err := writePlan(dir, plan); err != nil {
			return nil, false, true, err
		}
	} else if err != nil {
		return nil, false, true, err
	}
	if len(plan.Jobs) != plan.batches() {
		if err := s.enqueueBatches(ctx, j, dir, plan); err != nil {
			return nil, false, true, err
		}
	}
	done, err := s.batchesDone(ctx, plan)
	if err != nil {
		return nil, false, true, err
	}
	if done < plan.batches() {
		rec.Split = &splitProgress{Batches: plan.batches(), Done: done}
		if _, err := s.queue().JobUpdate(ctx, j.ID, &river.JobUpdateParams{Output: rec}); err != nil {
			return nil, false, true, fmt.Errorf("job %d: record progress: %w", j.ID, err)
		}
		return nil, true, true, nil
	}
	parts := make([]string, plan.batches())
	for i := range parts {
		parts[i] = batchFile(dir, i)
	}
	res, err := job.FinishTableDiffSplit(ctx, &env, t.td, parts, plan.StartedAt)
	if err != nil {
		return nil, false, true, err
	}
	return diffOutcome(res.Diff.Cluster, res), false, true, differs(res.Diff.Summary.Status)
}

// enqueueBatches queues the plan's batch jobs (unique by parent and index, so a parent rescued
// midway gets the same jobs back) and records their ids in the plan.
func (s *Server) enqueueBatches(ctx context.Context, j *river.Job[jobArgs], dir string, plan *splitPlan) error {
	plan.Jobs = plan.Jobs[:0]
	for i := 0; i < plan.batches(); i++ {
		res, err := s.queue().Insert(ctx, batchArgs{Parent: j.ID, Index: i, Dir: dir, Request: j.Args.Request},
			&river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}})
		if err != nil {
			return fmt.Errorf("job %d: queue batch %d: %w", j.ID, i, err)
		}
		plan.Jobs = append(plan.Jobs, res.Job.ID)
	}
	return writePlan(dir, plan)
}

// batchesDone counts the completed batches; a batch that failed for good fails the job.
func (s *Server) batchesDone(ctx context.Context, plan *splitPlan) (int, error) {
	var rows []*rivertype.JobRow
	for at := 0; at < len(plan.Jobs); at += 1000 {
		ids := plan.Jobs[at:min(at+1000, len(plan.Jobs))]
		res, err := s.queue().JobList(ctx, river.NewJobListParams().IDs(ids...).First(len(ids)))
		if err != nil {
			return 0, fmt.Errorf("split batches: %w", err)
		}
		rows = append(rows, res.Jobs...)
	}
	done := 0
	for _, row := range rows {
		switch row.State {
		case rivertype.JobStateCompleted:
			done++
		case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
			var msgs []string
			for _, e := range row.Errors {
				msgs = append(msgs, e.Error)
			}
			return 0, fmt.Errorf("split batch job %d failed: %s", row.ID, strings.Join(msgs, "; "))
		}
	}
	return done, nil
}
