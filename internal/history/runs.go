package history

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is the outcome of a run.
type Status string

// The statuses of a run. A run is StatusRunning from StartRun until FinishRun; one whose process
// died stays so.
const (
	StatusRunning      Status = "running"
	StatusMatch        Status = "match"        // the nodes hold the same rows
	StatusDiffer       Status = "differ"       // differences found
	StatusPartial      Status = "partial"      // part of the data was not compared
	StatusInconclusive Status = "inconclusive" // no verdict could be given (verify)
	StatusFailed       Status = "failed"       // the run failed
	StatusRepaired     Status = "repaired"     // a repair applied its changes
)

// ErrNoRun is returned for a run that does not exist, or by FinishRun for one already finished.
var ErrNoRun = errors.New("no such running run")

// Start describes a run as it starts.
type Start struct {
	Command string          // "table-diff", "mtree table-diff", "verify", "schema-diff", "table-repair", ...
	Cluster string          // cluster name
	Tables  []string        // tables as schema.name
	Options json.RawMessage // the run's options as a JSON object (nil: {}); never secrets
	// StartedAt is when the run started (the zero time: now). It is the time the run observed
	// the data: divergences seen or resolved by the run carry it.
	StartedAt time.Time
}

// Result is the outcome of a run, recorded when it finishes.
type Result struct {
	Status        Status
	ExitCode      int
	DifferingKeys int64
	TransientKeys int64            // keys that differed once and matched on recheck
	RowsCompared  map[string]int64 // rows compared per node
	Coverage      *float64         // the fraction of the data compared, when the command knows it
	DiffFile      string           // the diff file written, if any
	Error         string           // why the run failed, if it did
	FinishedAt    time.Time        // when the run finished (the zero time: now)
	// AllTables, when not nil, replaces the run's tables (Start.Tables): for a command that learns
	// them as it runs (schema-diff). A recorded Run leaves it nil.
	AllTables []string
}

// Run is a recorded run. While it runs, its Result holds StatusRunning and zero values.
type Run struct {
	ID int64
	Start
	Result
}

// StartRun records that a run started, with StatusRunning, and returns its id. Ids grow in the
// order runs are started.
func (s *Store) StartRun(ctx context.Context, st Start) (int64, error) {
	if st.Command == "" || st.Cluster == "" {
		return 0, errors.New("start run: command and cluster are required")
	}
	tables, err := json.Marshal(nonNil(st.Tables))
	if err != nil {
		return 0, err
	}
	opts, err := compactObject(st.Options)
	if err != nil {
		return 0, fmt.Errorf("start run: options: %w", err)
	}
	if st.StartedAt.IsZero() {
		st.StartedAt = time.Now()
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.sql(`INSERT INTO @runs (command, cluster, tables, options, started_at, status)
VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			st.Command, st.Cluster, string(tables), opts, s.d.time(st.StartedAt), string(StatusRunning)).Scan(&id)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, t := range st.Tables {
			if seen[t] {
				continue
			}
			seen[t] = true
			if _, err := tx.ExecContext(ctx, s.d.sql("INSERT INTO @run_tables (table_name, run_id) VALUES (?, ?)"), t, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("start %s run on %s: %w", st.Command, st.Cluster, err)
	}
	return id, nil
}

// FinishRun records the result of a running run. It returns ErrNoRun for a run that does not
// exist or is already finished.
func (s *Store) FinishRun(ctx context.Context, id int64, r Result) error {
	if r.Status == "" || r.Status == StatusRunning {
		return fmt.Errorf("finish run %d: status %q is not an outcome", id, r.Status)
	}
	counts, err := json.Marshal(nonNilMap(r.RowsCompared))
	if err != nil {
		return err
	}
	var tables []byte
	if r.AllTables != nil {
		if tables, err = json.Marshal(r.AllTables); err != nil {
			return err
		}
	}
	if r.FinishedAt.IsZero() {
		r.FinishedAt = time.Now()
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.sql(`UPDATE @runs SET finished_at = ?, status = ?, exit_code = ?,
 differing_keys = ?, transient_keys = ?, rows_compared = ?, coverage = ?, diff_file = ?, error = ?
WHERE id = ? AND status = ?`),
			s.d.time(r.FinishedAt), string(r.Status), r.ExitCode, r.DifferingKeys, r.TransientKeys, string(counts),
			r.Coverage, nullString(r.DiffFile), nullString(r.Error), id, string(StatusRunning))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNoRun
		}
		if r.AllTables == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.d.sql("UPDATE @runs SET tables = ? WHERE id = ?"), string(tables), id); err != nil {
			return err
		}
		for _, t := range r.AllTables {
			if _, err := tx.ExecContext(ctx, s.d.sql("INSERT INTO @run_tables (table_name, run_id) VALUES (?, ?) ON CONFLICT DO NOTHING"), t, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// RunFilter selects runs; empty fields select everything.
type RunFilter struct {
	Cluster string
	Table   string // runs that covered this table (schema.name)
	Command string
	Since   time.Time // runs started at or after
	Limit   int       // at most this many (0: no limit)
}

// runColumns are the columns scanRun reads, in its order.
const runColumns = `r.id, r.command, r.cluster, r.tables, r.options, r.started_at, r.finished_at, r.status,
 r.exit_code, r.differing_keys, r.transient_keys, r.rows_compared, r.coverage, r.diff_file, r.error`

// runsQuery builds the query of Runs, in the store's query spelling.
func runsQuery(f RunFilter, d dialect) (string, []any) {
	var where []string
	var args []any
	if f.Cluster != "" {
		where = append(where, "r.cluster = ?")
		args = append(args, f.Cluster)
	}
	if f.Command != "" {
		where = append(where, "r.command = ?")
		args = append(args, f.Command)
	}
	if f.Table != "" {
		where = append(where, "EXISTS (SELECT 1 FROM @run_tables t WHERE t.table_name = ? AND t.run_id = r.id)")
		args = append(args, f.Table)
	}
	if !f.Since.IsZero() {
		where = append(where, "r.started_at >= ?")
		args = append(args, d.time(f.Since))
	}
	q := "SELECT " + runColumns + "\nFROM @runs r"
	if len(where) > 0 {
		q += "\nWHERE " + strings.Join(where, " AND ")
	}
	q += "\nORDER BY r.started_at DESC, r.id DESC"
	if f.Limit > 0 {
		q += "\nLIMIT ?"
		args = append(args, f.Limit)
	}
	return q, args
}

// Runs returns the runs the filter selects, newest (by start time) first.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	q, args := runsQuery(f, s.d)
	rows, err := s.db.QueryContext(ctx, s.d.sql(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// Run returns one run, or ErrNoRun.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, s.d.sql("SELECT "+runColumns+" FROM @runs r WHERE r.id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNoRun
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %d: %w", id, err)
	}
	return r, nil
}

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var tables, options, counts, status string
	var exitCode sql.NullInt64
	var coverage sql.NullFloat64
	var diffFile, errText sql.NullString
	err := row.Scan(&r.ID, &r.Command, &r.Cluster, &tables, &options, scanTime{&r.StartedAt}, scanTime{&r.FinishedAt},
		&status, &exitCode, &r.DifferingKeys, &r.TransientKeys, &counts, &coverage, &diffFile, &errText)
	if err != nil {
		return r, err
	}
	r.Status = Status(status)
	r.ExitCode = int(exitCode.Int64)
	r.Options = json.RawMessage(options)
	r.DiffFile, r.Error = diffFile.String, errText.String
	if coverage.Valid {
		r.Coverage = &coverage.Float64
	}
	if err := json.Unmarshal([]byte(tables), &r.Tables); err != nil {
		return r, fmt.Errorf("run %d tables: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(counts), &r.RowsCompared); err != nil {
		return r, fmt.Errorf("run %d rows compared: %w", r.ID, err)
	}
	return r, nil
}

// compactObject returns a JSON object as compact text; nil is {}.
func compactObject(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "{}", nil
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return "", errors.New("not a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
