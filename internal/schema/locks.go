package schema

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed locks.sql
var locksSQL string

// lockNotAvailable is SQLSTATE lock_not_available: a lock wait gave up at lock_timeout.
const lockNotAvailable = "55P03"

// isLockTimeout reports whether err is a lock wait that gave up at lock_timeout.
func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == lockNotAvailable
}

// lockedReason says why something of relation rel cannot be read.
func lockedReason(rel string) string {
	return rel + " is locked by another session (no lock within lock_timeout)"
}

// locks is what of a schema cannot be read on one node now, because another session holds (or
// awaits) an ACCESS EXCLUSIVE lock on a relation it needs.
type locks struct {
	// relations and functions are left out of the structure queries ($2 and $3); never nil, so
	// that "oid <> ALL" holds for every other oid.
	relations, functions []uint32
	// failed holds the objects whose structure is not read, with the reason.
	failed map[ObjectID]string
	// largestKey holds the sequences whose column's largest key is not read, with the reason.
	largestKey map[string]string
}

// lockNeed is one row of locks.sql: an object of the schema and a locked relation it needs.
type lockNeed struct {
	kind, name         string
	oid                uint32
	catalog, what      string
	rel                uint32
	relSchema, relName string
}

// probeLocks finds the relations that reading the schema's structure, its sequences' states and
// their columns' largest keys would wait for (another session holds or awaits an ACCESS
// EXCLUSIVE lock on them: pg_locks), waits up to lock_timeout for each, and returns what needs
// the relations still locked then, so that Load leaves it out instead of waiting. Each wait runs
// in a savepoint of q, so that a timeout does not end the transaction. With lock_timeout = 0 it
// waits as long as the lock is held.
func probeLocks(ctx context.Context, q Querier, schema string, serverVersion int) (*locks, error) {
	sql := locksSQL
	if serverVersion < 150000 { // no row filters yet
		sql = strings.ReplaceAll(sql, "r.prqual IS NOT NULL", "false")
	}
	rows, err := q.Query(ctx, sql, schema)
	if err != nil {
		return nil, fmt.Errorf("read locks on schema %s: %w", schema, err)
	}
	needs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lockNeed, error) {
		var n lockNeed
		err := r.Scan(&n.kind, &n.name, &n.oid, &n.catalog, &n.what, &n.rel, &n.relSchema, &n.relName)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("read locks on schema %s: %w", schema, err)
	}
	// Wait for the locked relations in a fixed order, and report the first of an object's.
	sort.Slice(needs, func(i, j int) bool {
		a, b := needs[i], needs[j]
		if a.relSchema != b.relSchema {
			return a.relSchema < b.relSchema
		}
		if a.relName != b.relName {
			return a.relName < b.relName
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		return a.name < b.name
	})
	out := &locks{relations: []uint32{}, functions: []uint32{}, failed: map[ObjectID]string{}, largestKey: map[string]string{}}
	stillLocked := map[uint32]bool{}
	for _, n := range needs {
		locked, seen := stillLocked[n.rel]
		if !seen {
			if locked, err = waitForLock(ctx, q, n.rel); err != nil {
				return nil, fmt.Errorf("wait for a lock on %s: %w", pgx.Identifier{n.relSchema, n.relName}.Sanitize(), err)
			}
			stillLocked[n.rel] = locked
		}
		if !locked {
			continue
		}
		reason := lockedReason(pgx.Identifier{n.relSchema, n.relName}.Sanitize())
		if n.what == "largest key" {
			if _, ok := out.largestKey[n.name]; !ok {
				out.largestKey[n.name] = reason
			}
			continue
		}
		id := ObjectID{n.kind, n.name}
		if _, ok := out.failed[id]; !ok {
			out.failed[id] = reason
		}
		switch n.catalog {
		case "class":
			out.relations = append(out.relations, n.oid)
		case "proc":
			out.functions = append(out.functions, n.oid)
		}
	}
	return out, nil
}

// waitForLock waits up to lock_timeout for an ACCESS SHARE lock on relation rel inside a
// savepoint (pg_relation_size takes one, whatever the relation's kind) and reports whether it
// did not come.
func waitForLock(ctx context.Context, q Querier, rel uint32) (locked bool, err error) {
	sp, err := q.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.Exec(ctx, "SELECT pg_catalog.pg_relation_size($1::pg_catalog.oid::pg_catalog.regclass)", rel)
	if err == nil {
		return false, sp.Commit(ctx)
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return false, rbErr
	}
	if isLockTimeout(err) {
		return true, nil
	}
	return false, err
}
