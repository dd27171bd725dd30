package server

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/cluster"
)

// schedule is a configured schedule and its next tick.
type schedule struct {
	cfg  cluster.Schedule
	cron *cronExpr
	req  Request
	next time.Time // the next nominal tick ("" until the scheduler first sees it)
}

// buildSchedules checks schedules: known read-only commands, cron expressions.
func buildSchedules(list []cluster.Schedule) ([]*schedule, error) {
	out := make([]*schedule, 0, len(list))
	for _, c := range list {
		sc := &schedule{cfg: c, req: Request{Command: c.Command, Cluster: c.Cluster, Table: c.Table,
			Schema: c.Schema, Publication: c.Publication}}
		cmd, err := lookup(&sc.req)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", c.Name, err)
		}
		if !cmd.ReadOnly {
			return nil, fmt.Errorf("schedule %s: %s changes data and is not run on a schedule", c.Name, c.Command)
		}
		if c.Cron != "" {
			if sc.cron, err = parseCron(c.Cron); err != nil {
				return nil, fmt.Errorf("schedule %s: %w", c.Name, err)
			}
		}
		if len(c.Options) > 0 {
			if sc.req.Options, err = json.Marshal(c.Options); err != nil {
				return nil, fmt.Errorf("schedule %s: options: %w", c.Name, err)
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// carryOver keeps the next tick of schedules a reload did not change.
func carryOver(old, cur []*schedule) []*schedule {
	prev := map[string]*schedule{}
	for _, s := range old {
		prev[s.cfg.Name] = s
	}
	for _, s := range cur {
		if p, ok := prev[s.cfg.Name]; ok && p.cfg.Every == s.cfg.Every && p.cfg.Cron == s.cfg.Cron {
			s.next = p.next
		}
	}
	return cur
}

// tickAfter is the first nominal tick strictly after t: multiples of the interval since the
// Unix epoch (so that every instance computes the same ticks), or the cron expression's next
// minute.
func (sc *schedule) tickAfter(t time.Time) time.Time {
	if sc.cron != nil {
		return sc.cron.Next(t)
	}
	every := sc.cfg.Every.Duration
	return t.Truncate(every).Add(every)
}

// jitter is the delay of a tick: the same on every instance (a hash of schedule and tick), so
// that their inserts stay one unique job.
func (sc *schedule) jitter(tick time.Time) time.Duration {
	j := sc.cfg.Jitter.Duration
	if j <= 0 {
		return 0
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", sc.cfg.Name, tick.Unix())
	return time.Duration(h.Sum64() % uint64(j))
}

// runScheduler enqueues every schedule's ticks until ctx ends. Every instance runs it; the
// unique insert makes one job per tick. A tick whose schedule still has a run queued or running
// is skipped, so that one schedule never runs twice at once.
func (s *Server) runScheduler(ctx context.Context) {
	defer close(s.schedDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		now := time.Now()
		s.mu.Lock()
		var due []*schedule
		for _, sc := range s.schedules {
			if sc.next.IsZero() {
				sc.next = sc.tickAfter(now)
			}
			if !sc.next.IsZero() && !now.Before(sc.next) {
				c := *sc
				due = append(due, &c)
				sc.next = sc.tickAfter(now) // missed ticks collapse into one
			}
		}
		s.mu.Unlock()
		for _, sc := range due {
			s.enqueueTick(ctx, sc)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// enqueueTick enqueues one tick of a schedule unless a run of it is still queued or running.
func (s *Server) enqueueTick(ctx context.Context, sc *schedule) {
	tick := sc.next
	active, err := s.queue().JobList(ctx, river.NewJobListParams().Kinds(jobKind).TagsAny(scheduleTag(sc.cfg.Name)).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
			rivertype.JobStateScheduled, rivertype.JobStatePending).First(10))
	if err != nil {
		s.log.Error("schedule: list its jobs", "schedule", sc.cfg.Name, "err", err)
		return
	}
	for _, row := range active.Jobs {
		var a jobArgs
		if json.Unmarshal(row.EncodedArgs, &a) == nil && a.Tick != tick.Unix() {
			s.log.Info("schedule: previous run still queued or running; tick skipped", "schedule", sc.cfg.Name, "tick", tick, "job", row.ID)
			return
		}
	}
	row, err := s.enqueue(ctx, jobArgs{Request: sc.req, Schedule: sc.cfg.Name, Tick: tick.Unix()}, cluster.RoleAdmin, tick.Add(sc.jitter(tick)))
	if err != nil {
		s.log.Error("schedule: enqueue", "schedule", sc.cfg.Name, "tick", tick, "err", err)
		return
	}
	s.log.Debug("schedule: enqueued", "schedule", sc.cfg.Name, "tick", tick, "job", row.ID)
}
