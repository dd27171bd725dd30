package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgSchema is the PostgreSQL schema holding every object of the store.
const pgSchema = "pgparity_history"

// pgLockKey is the advisory lock key taken by a PostgreSQL migration ("pgparity" in ASCII).
const pgLockKey int64 = 0x7067706172697479

// timeLayout is how SQLite stores a timestamp: UTC RFC 3339 with exactly six fractional digits, so
// that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dialect holds every difference between the two backends. Queries are written once, in SQLite's
// spelling with two extensions: `?` for each parameter and `@name` for each table of the store.
type dialect struct {
	postgres bool
}

func (d dialect) String() string {
	if d.postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// sql renders a query for the backend: `@name` becomes the table's (qualified, quoted) name and, on
// PostgreSQL, the n-th `?` becomes `$n`. Queries of this package hold neither character in a string
// literal.
func (d dialect) sql(q string) string {
	var b strings.Builder
	b.Grow(len(q) + len(q)/4)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '?' && d.postgres:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case c == '@':
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z') {
				j++
			}
			b.WriteString(d.table(q[i+1 : j]))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// table returns the quoted, on PostgreSQL schema-qualified, name of a table of the store.
func (d dialect) table(name string) string {
	if d.postgres {
		return pgx.Identifier{pgSchema, name}.Sanitize()
	}
	return pgx.Identifier{name}.Sanitize()
}

// time returns a timestamp as a query argument: RFC 3339 text on SQLite, a time.Time for a
// timestamptz on PostgreSQL. Both keep microseconds, PostgreSQL's precision.
func (d dialect) time(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.postgres {
		return t
	}
	return t.Format(timeLayout)
}

// tableExists tells whether the store has the named table.
func (d dialect) tableExists(ctx context.Context, q querier, name string) (bool, error) {
	var n int
	var err error
	if d.postgres {
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2", pgSchema, name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	return n > 0, err
}

// retryable reports whether a transaction that failed with err may simply be run again: a
// PostgreSQL deadlock or serialization failure between concurrent writers. SQLite writers never
// deadlock: every transaction takes the write lock first (BEGIN IMMEDIATE) and waits for it up to
// the busy timeout.
func (d dialect) retryable(err error) bool {
	var pe *pgconn.PgError
	return d.postgres && errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanTime reads a timestamp column of either backend: RFC 3339 text (SQLite) or a time.Time
// (PostgreSQL). NULL reads as the zero time. Times are returned in UTC.
type scanTime struct{ t *time.Time }

func (s scanTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = x.UTC()
	case string:
		return s.parse(x)
	case []byte:
		return s.parse(string(x))
	default:
		return fmt.Errorf("timestamp column holds %T", v)
	}
	return nil
}

func (s scanTime) parse(text string) error {
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return fmt.Errorf("timestamp column: %w", err)
	}
	*s.t = t.UTC()
	return nil
}

// maxTries bounds how often inTx runs a transaction that failed with a retryable error.
const maxTries = 5

// inTx runs fn in a transaction, committing if it returns nil. A transaction that fails with a
// retryable error is run again, after a short pause, up to maxTries times; fn must therefore have
// no effect outside the transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for try := 1; ; try++ {
		err := s.tryTx(ctx, fn)
		if err == nil || try == maxTries || !s.d.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try*try) * 10 * time.Millisecond):
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
