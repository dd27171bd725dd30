package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/history"
)

// errForbidden is a request the client's role does not allow.
var errForbidden = errors.New("forbidden")

// Enqueue validates a request as the command line validates its flags (an input error is
// fault.Input), checks that role may run it, and queues it.
func (s *Server) Enqueue(ctx context.Context, req Request, by, role string) (*rivertype.JobRow, error) {
	return s.enqueue(ctx, jobArgs{Request: req, By: by}, role, time.Time{})
}

// enqueue queues args; a scheduled run (args.Schedule set) is unique per schedule and tick, so
// that every instance may try to enqueue the same tick and one insert wins.
func (s *Server) enqueue(ctx context.Context, args jobArgs, role string, at time.Time) (*rivertype.JobRow, error) {
	cmd, err := lookup(&args.Request)
	if err != nil {
		return nil, err
	}
	if !allowed(role, cmd.Role) {
		return nil, fmt.Errorf("%w: role %s may not run %s (needs %s)", errForbidden, role, args.Request.Command, cmd.Role)
	}
	prep, err := cmd.Prepare(s.currentEnv(), &args.Request)
	if err != nil {
		return nil, err
	}
	if prep.Role != "" && !allowed(role, prep.Role) {
		return nil, fmt.Errorf("%w: role %s may not run %s with these options (needs %s)", errForbidden, role, args.Request.Command, prep.Role)
	}
	opts := &river.InsertOpts{MaxAttempts: 3, ScheduledAt: at}
	if !cmd.ReadOnly {
		opts.MaxAttempts = 1 // never retried blindly: an interrupted repair is left for a person
	}
	if args.Schedule != "" {
		opts.Tags = []string{scheduleTag(args.Schedule)}
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true}
	}
	res, err := s.queue().Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Request.Command, err)
	}
	return res.Job, nil
}

// ListJobs returns the newest jobs (at most limit rows read), filtered by status and command.
func (s *Server) ListJobs(ctx context.Context, status, command string, limit int) ([]JobView, error) {
	p := river.NewJobListParams().Kinds(jobKind).First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if status != "" {
		p = p.States(riverStates(status)...)
	}
	res, err := s.queue().JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := []JobView{}
	for _, row := range res.Jobs {
		var args jobArgs
		if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
			continue
		}
		v := view(row, &args)
		if (status == "" || v.Status == status) && (command == "" || v.Command == command) {
			out = append(out, v)
		}
	}
	return out, nil
}

// runView is a history run as GET /v1/history shows it.
type runView struct {
	ID            int64            `json:"id"`
	Command       string           `json:"command"`
	Cluster       string           `json:"cluster"`
	Tables        []string         `json:"tables"`
	StartedAt     time.Time        `json:"started_at"`
	FinishedAt    *time.Time       `json:"finished_at,omitempty"`
	Status        string           `json:"status"`
	ExitCode      int              `json:"exit_code"`
	DifferingKeys int64            `json:"differing_keys"`
	RowsCompared  map[string]int64 `json:"rows_compared,omitempty"`
	DiffFile      string           `json:"diff_file,omitempty"`
	Error         string           `json:"error,omitempty"`
}

func newRunView(r history.Run) runView {
	v := runView{ID: r.ID, Command: r.Command, Cluster: r.Cluster, Tables: r.Tables, StartedAt: r.StartedAt,
		Status: string(r.Status), ExitCode: r.ExitCode, DifferingKeys: r.DifferingKeys,
		RowsCompared: r.RowsCompared, DiffFile: r.DiffFile, Error: r.Error}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		v.FinishedAt = &t
	}
	return v
}

// scheduleTag is the River tag of a schedule's jobs (tags allow only word characters and '-').
func scheduleTag(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("schedule-%016x", h.Sum64())
}
