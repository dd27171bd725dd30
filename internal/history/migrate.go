package history

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrSchemaTooNew is returned by Open for a store whose schema was migrated by a newer pgparity.
var ErrSchemaTooNew = errors.New("history store schema is newer than this pgparity")

//go:embed migrations
var migrationFiles embed.FS

// migration is one ordered step of the schema, as SQL in the store's query spelling (see dialect).
type migration struct {
	version int
	sql     string
}

// migrations returns the backend's migrations in order. Their file names start with the version
// (0001_init.sql); versions are 1, 2, ... without gaps.
func (d dialect) migrations() ([]migration, error) {
	dir := "migrations/sqlite"
	if d.postgres {
		dir = "migrations/postgres"
	}
	entries, err := migrationFiles.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries { // ReadDir returns names sorted
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: expected version %d first in its name", e.Name(), len(out)+1)
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, sql: string(b)})
	}
	return out, nil
}

// version reads the schema version of the store: 0 when it has no schema yet.
func (d dialect) version(ctx context.Context, q querier) (int, error) {
	exists, err := d.tableExists(ctx, q, "schema_version")
	if err != nil || !exists {
		return 0, err
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, d.sql("SELECT max(version) FROM @schema_version")).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// migrate brings the store's schema to the newest version this build knows, and refuses a store
// whose schema is newer. A store already current is only read. Otherwise the migrations run in
// one transaction that first excludes every other migrating process: an advisory lock on
// PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite; the version is read again under it, so
// of two processes opening a fresh store at once, one migrates and the other finds it done.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.d.migrations()
	if err != nil {
		return err
	}
	known := len(ms)
	check := func(v int) error {
		if v > known {
			return fmt.Errorf("%w: it is at version %d, this build knows versions up to %d; upgrade pgparity", ErrSchemaTooNew, v, known)
		}
		return nil
	}
	v, err := s.d.version(ctx, s.db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v == known {
		return nil
	}
	if err := check(v); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", pgLockKey); err != nil {
				return fmt.Errorf("lock for migration: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{pgSchema}.Sanitize()); err != nil {
				return fmt.Errorf("create schema %s: %w", pgSchema, err)
			}
		}
		v, err := s.d.version(ctx, tx)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if err := check(v); err != nil {
			return err
		}
		for _, m := range ms[v:] {
			if _, err := tx.ExecContext(ctx, s.d.sql(m.sql)); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", m.version, err)
			}
			if _, err := tx.ExecContext(ctx, s.d.sql("INSERT INTO @schema_version (version, applied_at) VALUES (?, ?)"),
				m.version, s.d.time(time.Now())); err != nil {
				return fmt.Errorf("record schema version %d: %w", m.version, err)
			}
		}
		return nil
	})
}
