// Package merkle keeps persistent per-table hash trees on every node: leaves are key ranges with
// the same boundaries on every node, each holding (row count, sum of mixed row hashes) exactly as
// table-diff computes a range checksum. Change marks (written by a tracker, see package cdc) say
// which leaves to rehash, so a re-check costs the rows that changed, not the table.
package merkle

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/marks"
)

// Schema is the schema holding pgparity's state on every node.
const Schema = "pgparity"

//go:embed schema.sql
var schemaSQL string

// Init creates the schema and its unlogged tables on the node (idempotent).
func Init(ctx context.Context, p *cluster.Pool) error {
	if _, err := p.Exec(ctx, schemaSQL); err != nil {
		return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("create schema %s: %w", Schema, err)}
	}
	return nil
}

// Initialized reports whether the node has pgparity's schema and tables.
func Initialized(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT pg_catalog.to_regclass('pgparity.leaves') IS NOT NULL").Scan(&ok)
	return ok, err
}

// upgrade adds what a newer pgparity keeps in the node's schema (the roots of schema.sql's
// ALTER TABLEs) when it is missing: once per node, not on every re-check (it locks the table).
func upgrade(ctx context.Context, p *cluster.Pool) error {
	var current bool
	err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute
  WHERE attrelid = 'pgparity.trees'::regclass AND attname = 'root_b' AND NOT attisdropped)`).Scan(&current)
	if err != nil {
		return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read schema %s: %w", Schema, err)}
	}
	if current {
		return nil
	}
	return Init(ctx, p)
}

// Teardown drops the schema and everything in it (trigger functions, and with them the triggers
// on user tables).
func Teardown(ctx context.Context, p *cluster.Pool) error {
	if _, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{Schema}.Sanitize()+" CASCADE"); err != nil {
		return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("drop schema %s: %w", Schema, err)}
	}
	return nil
}

// Forget removes the tree of schema.table from the node: its leaves and its marks table (the
// table's tracking must be removed first: a trigger whose marks table is gone fails the writes).
func Forget(ctx context.Context, p *cluster.Pool, schema, table string) error {
	fail := func(err error) error {
		if err == nil || isUndefinedTable(err) {
			return nil
		}
		return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("remove the tree of %s.%s: %w", schema, table, err)}
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// the marks table of the table as it is now, and of the table the tree was built on
	rows, err := tx.Query(ctx, `WITH t AS (DELETE FROM pgparity.trees WHERE schema_name = $1 AND table_name = $2 RETURNING relid),
  l AS (DELETE FROM pgparity.leaves WHERE tree IN (SELECT relid FROM t))
SELECT relid FROM t UNION SELECT pg_catalog.to_regclass($3)::oid WHERE pg_catalog.to_regclass($3) IS NOT NULL`, schema, table, pgx.Identifier{schema, table}.Sanitize())
	if err != nil {
		return fail(err)
	}
	relids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return fail(err)
	}
	for _, relid := range relids {
		if _, err := tx.Exec(ctx, marks.Drop(relid)); err != nil {
			return fail(err)
		}
	}
	return fail(tx.Commit(ctx))
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000")
}
