// Package history owns the run and divergence store: every run of a comparison or repair command
// (what ran, on which cluster and tables, with which outcome) and every differing key those runs
// saw, from the run that first saw it to the run that found it resolved. The store is an embedded
// SQLite file by default, or a schema of a PostgreSQL control-plane database shared by several
// processes. docs/history.md describes the schema and the resolution rules.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeout is how long a SQLite writer waits for another writer (of this or another process)
// before failing with SQLITE_BUSY. Writers hold the lock for one batch, milliseconds.
const busyTimeout = 30 * time.Second

// Store is an open history store. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  dialect
}

// Open opens the history store, creating it and migrating its schema as needed. With dsn empty the
// store is the SQLite file at path (its directory is created; the file is readable by its owner
// only); otherwise it is the schema pgparity_history of the PostgreSQL database dsn names, and path
// is ignored. Errors never contain the DSN's password.
func Open(ctx context.Context, dsn, path string) (*Store, error) {
	var s *Store
	var err error
	if dsn != "" {
		s, err = openPostgres(dsn)
	} else {
		s, err = openSQLite(path)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrateRetrying(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history store (%s): %w", s.d, err)
	}
	return s, nil
}

// migrateRetrying migrates the store, trying again for up to busyTimeout while SQLite answers
// SQLITE_BUSY without waiting: it does so to a connection opened while another process turns a
// fresh file into WAL mode, whatever the busy timeout.
func (s *Store) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for try := 1; ; try++ {
		err := s.migrate(ctx)
		var se *sqlite.Error
		if err == nil || s.d.postgres || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(min(try, 10)) * 20 * time.Millisecond):
		}
	}
}

func openPostgres(dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("history store DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	return &Store{db: db, d: dialect{postgres: true}}, nil
}

func openSQLite(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("history store: no SQLite path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("history store %s: %w", path, err)
	}
	if strings.ContainsRune(abs, '?') {
		// The driver reads everything after '?' as connection parameters.
		return nil, fmt.Errorf("history store %s: the path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	// Create the file ourselves so that it gets mode 0600; SQLite gives its -wal and -shm files
	// the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	f.Close()
	// _txlock=immediate: every transaction takes the write lock when it begins, so a writer waits
	// (busy_timeout) instead of failing when another connection wrote first.
	dsn := abs + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate",
		busyTimeout.Milliseconds())
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("history store %s: %w", abs, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// DefaultPath returns where the SQLite store lives by default: $XDG_STATE_HOME/pgparity/history.db,
// else ~/.local/state/pgparity/history.db. A relative $XDG_STATE_HOME is ignored, as the XDG base
// directory specification asks.
func DefaultPath() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "pgparity", "history.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("history store default path: %w", err)
	}
	return filepath.Join(home, ".local", "state", "pgparity", "history.db"), nil
}
