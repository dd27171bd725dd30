package server

import (
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// JobView is a job as the API shows it.
type JobView struct {
	ID         string            `json:"id"`
	Command    string            `json:"command"`
	Cluster    string            `json:"cluster,omitempty"`
	Table      string            `json:"table,omitempty"`
	Schema     string            `json:"schema,omitempty"`
	Status     string            `json:"status"`
	ExitCode   *int              `json:"exit_code"`
	Summary    any               `json:"summary,omitempty"`
	DiffFile   string            `json:"diff_file,omitempty"`
	ReportURL  string            `json:"report_url,omitempty"`
	Files      map[string]string `json:"files,omitempty"`
	Error      string            `json:"error,omitempty"`
	Schedule   string            `json:"schedule,omitempty"`
	By         string            `json:"by,omitempty"`
	Instance   string            `json:"instance,omitempty"`
	Attempt    int               `json:"attempt"`
	CreatedAt  time.Time         `json:"created_at"`
	StartedAt  *time.Time        `json:"started_at,omitempty"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
	Tables     []TableResult     `json:"tables,omitempty"`
}

// view maps a River row and the record the job left on it to the API's job.
func view(row *rivertype.JobRow, args *jobArgs) JobView {
	id := strconv.FormatInt(row.ID, 10)
	v := JobView{ID: id, Command: args.Request.Command, Cluster: args.Request.Cluster, Table: args.Request.Table,
		Schema: args.Request.Schema, Schedule: args.Schedule, By: args.By, Attempt: row.Attempt, CreatedAt: row.CreatedAt}
	rec := readRecord(row)
	if rec != nil {
		v.Instance = rec.Instance
		if !rec.StartedAt.IsZero() {
			t := rec.StartedAt
			v.StartedAt = &t
		}
	}
	switch {
	case rec != nil && rec.FinishedAt != nil:
		v.Status, v.ExitCode, v.Error, v.FinishedAt = rec.State, rec.ExitCode, rec.Error, rec.FinishedAt
		if o := rec.Outcome; o != nil {
			v.Summary, v.DiffFile, v.Tables = o.Summary, o.DiffFile, o.Tables
			v.Files = map[string]string{}
			for name := range o.Files {
				v.Files[name] = "/v1/jobs/" + id + "/files/" + url.PathEscape(name)
			}
			if _, ok := o.Files["report"]; ok {
				v.ReportURL = v.Files["report"]
			}
		}
	case row.State == rivertype.JobStateRunning, rec != nil && rec.Split != nil &&
		(row.State == rivertype.JobStateScheduled || row.State == rivertype.JobStateAvailable):
		v.Status = StateRunning // (a split table-diff waiting for its batch jobs is running)
	case row.State == rivertype.JobStateCancelled:
		v.Status = StateCancelled
	case row.State == rivertype.JobStateCompleted:
		v.Status = StateDone
	case row.State == rivertype.JobStateDiscarded:
		v.Status = StateFailed
		v.Error = "the instance running it stopped and the job was not retried"
		if !commands[args.Request.Command].ReadOnly {
			v.Error += " (a repair is never retried blindly: check the nodes and the job's undo file)"
		}
		if n := len(row.Errors); n > 0 {
			v.Error += ": " + row.Errors[n-1].Error
		}
	default: // available, scheduled, retryable, pending
		v.Status = StateQueued
	}
	return v
}

// riverStates are the River states a status filter can match (before the records are read).
func riverStates(status string) []rivertype.JobState {
	switch status {
	case StateQueued:
		return []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled,
			rivertype.JobStateRetryable, rivertype.JobStatePending}
	case StateRunning: // (a split table-diff waiting for its batches is snoozed: scheduled or available)
		return []rivertype.JobState{rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateAvailable}
	case StateCancelled:
		return []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateRunning}
	default: // finished: done, failed, skipped (a finished record can sit on a running row briefly)
		return []rivertype.JobState{rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
			rivertype.JobStateCancelled, rivertype.JobStateRunning}
	}
}
