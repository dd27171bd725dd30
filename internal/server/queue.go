package server

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite"
)

// queueSchema is the PostgreSQL schema of River's tables on the control-plane database.
const queueSchema = "pgparity_queue"

// jobKind is the River kind of every pgparity job: the command is in the arguments.
const jobKind = "pgparity"

// jobArgs are a job's River arguments.
type jobArgs struct {
	Request Request `json:"request"`
	// Schedule and Tick (Unix seconds of the nominal tick) make a scheduled run unique across
	// instances: every instance tries to enqueue the tick, one insert wins.
	Schedule string `json:"schedule,omitempty"`
	Tick     int64  `json:"tick,omitempty"`
	// By is the client certificate's common name that posted the job ("" for schedules).
	By string `json:"by,omitempty"`
}

// Kind implements river.JobArgs.
func (jobArgs) Kind() string { return jobKind }

// queue is what the server uses of a River client. *river.Client[pgx.Tx] (PostgreSQL) and
// *river.Client[*sql.Tx] (SQLite) both implement it, so one queue code serves both drivers.
type queue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobUpdate(ctx context.Context, id int64, params *river.JobUpdateParams) (*rivertype.JobRow, error)
}

// backend is an open queue with the locker that goes with its database.
type backend struct {
	q      queue
	locks  locker
	driver string // "postgres" or "sqlite"
	close  func()
	// touch marks a running job alive (its attempted_at is now): River rescues a running job
	// whose attempted_at is older than job_rescue_after, so a live job touched more often than
	// that is never run twice, and a dead instance's job is rescued after job_rescue_after.
	touch func(ctx context.Context, id int64) error
}

// riverConfig is the River configuration shared by both drivers.
func riverConfig(w *worker, workers int, rescueAfter time.Duration, id string) *river.Config {
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	river.AddWorker(ws, &batchWorker{s: w.s, rescueAfter: rescueAfter})
	return &river.Config{
		ID:                   id,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:              ws,
		JobTimeout:           rescueAfter, // see worker.Timeout
		RescueStuckJobsAfter: rescueAfter,
		FetchPollInterval:    200 * time.Millisecond,
		FetchCooldown:        50 * time.Millisecond,
		Logger:               w.s.log.With("component", "river"),
		MaxAttempts:          3,
	}
}

// openBackend opens River on the PostgreSQL control-plane database dsn, or on the SQLite file
// path when dsn is "", and migrates River's tables.
func openBackend(ctx context.Context, dsn, path string, cfg *river.Config) (*backend, error) {
	if dsn != "" {
		return openPostgresBackend(ctx, dsn, cfg)
	}
	return openSQLiteBackend(ctx, path, cfg)
}

func openPostgresBackend(ctx context.Context, dsn string, cfg *river.Config) (*backend, error) {
	pc, err := pgxpool.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("job queue DSN: %w", err)
	}
	// River's own connections, plus one per running job for its locks.
	pc.MaxConns = int32(cfg.Queues[river.QueueDefault].MaxWorkers) + 8
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{queueSchema}.Sanitize()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("job queue: create schema: %w", err)
	}
	drv := riverpgxv5.New(pool)
	if err := migrateLocked(ctx, pool, drv); err != nil {
		pool.Close()
		return nil, err
	}
	cfg.Schema = queueSchema
	client, err := river.NewClient(drv, cfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	touchSQL := "UPDATE " + pgx.Identifier{queueSchema, "river_job"}.Sanitize() + " SET attempted_at = now() WHERE id = $1 AND state = 'running'"
	touch := func(ctx context.Context, id int64) error {
		_, err := pool.Exec(ctx, touchSQL, id)
		return err
	}
	return &backend{q: client, locks: &advisoryLocker{pool: pool}, driver: "postgres", close: pool.Close, touch: touch}, nil
}

func openSQLiteBackend(ctx context.Context, path string, cfg *river.Config) (*backend, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("job queue %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	conn, err := sqlite.NewConnector(abs + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("job queue %s: %w", abs, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1) // River's advice for SQLite: one writer at a time, no SQLITE_BUSY
	drv := riversqlite.New(db)
	if err := migrate(ctx, drv, ""); err != nil {
		db.Close()
		return nil, err
	}
	client, err := river.NewClient(drv, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	touch := func(ctx context.Context, id int64) error {
		// River's SQLite driver writes its times as datetime('now', 'subsec').
		_, err := db.ExecContext(ctx, "UPDATE river_job SET attempted_at = datetime('now', 'subsec') WHERE id = ? AND state = 'running'", id)
		return err
	}
	return &backend{q: client, locks: newLocalLocker(), driver: "sqlite", close: func() { db.Close() }, touch: touch}, nil
}

// migrate brings River's tables up to the version of the River library built in.
func migrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], schema string) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Schema: schema})
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}

// migrateLocked migrates under an advisory lock: instances starting together migrate one after
// the other.
func migrateLocked(ctx context.Context, pool *pgxpool.Pool, drv *riverpgxv5.Driver) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	defer conn.Release()
	key := lockID("pgparity-queue-migrate", 0)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("job queue: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // the session ends with the pool anyway
	return migrate(ctx, drv, queueSchema)
}
