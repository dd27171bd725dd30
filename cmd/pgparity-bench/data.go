package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// prepare loads public.wide on every node (or reuses the rows of a kept -dir when only some cases
// run), removes what an interrupted run left behind, and captures n1's rows for restores and the
// copy-in floor. Reused nodes whose rows differ from n1's are restored first.
func (b *bench) prepare(ctx context.Context) error {
	full := len(b.only) == len(caseOrder) && !b.floorsOnly
	reuse := !full && b.loaded(ctx)
	if !reuse {
		start := time.Now()
		if err := b.load(ctx); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "loaded in %s\n", time.Since(start).Round(time.Second))
	}
	for _, n := range b.sb.Nodes {
		if err := b.exec(ctx, n.Name, "DROP TABLE IF EXISTS public.wide_copy; DROP SCHEMA IF EXISTS bench20 CASCADE"); err != nil {
			return err
		}
	}
	if err := b.capture(ctx); err != nil {
		return err
	}
	if !reuse {
		return nil
	}
	stale, err := b.differingNodes(ctx)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "restoring %v from n1's rows (left changed by an earlier run)\n", stale)
		return b.restore(ctx, stale...)
	}
	return nil
}

// load creates the database and the sample tables on every node at once.
func (b *bench) load(ctx context.Context) error {
	fmt.Fprintf(os.Stderr, "loading %d rows on 3 nodes...\n", b.rows)
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range b.sb.Nodes {
		g.Go(func() error {
			conn, err := pgx.Connect(gctx, b.sb.ConnString(n, "postgres"))
			if err != nil {
				return err
			}
			_, _ = conn.Exec(gctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
			_, err = conn.Exec(gctx, "CREATE DATABASE "+dbName)
			conn.Close(gctx)
			if err != nil {
				return err
			}
			if err := sandbox.LoadSample(gctx, b.sb.ConnString(n, dbName), b.rows); err != nil {
				return err
			}
			return b.exec(gctx, n.Name, "VACUUM (ANALYZE) public.wide")
		})
	}
	return g.Wait()
}

// loaded reports whether every node already holds public.wide with the requested number of rows
// (a kept -dir from an earlier run), so that -only can skip the load.
func (b *bench) loaded(ctx context.Context) bool {
	for _, n := range b.sb.Nodes {
		conn, err := b.connect(ctx, n.Name)
		if err != nil {
			return false
		}
		var count int64
		err = conn.QueryRow(ctx, "SELECT count(*) FROM public.wide").Scan(&count)
		conn.Close(ctx)
		if err != nil || count != int64(b.rows) {
			return false
		}
	}
	return true
}

// capture writes n1's rows of public.wide, without the generated column, in key order as COPY
// text to a file in the bench directory: the rows restores load and the copy-in floor copies.
func (b *bench) capture(ctx context.Context) error {
	conn, err := b.connect(ctx, "n1")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = 'public.wide'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`).Scan(&b.columns)
	if err != nil {
		return fmt.Errorf("columns of public.wide: %w", err)
	}
	quoted := make([]string, len(b.columns))
	for i, c := range b.columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	b.copyCols = strings.Join(quoted, ", ")
	b.copyFile = filepath.Join(b.dir, "bench_wide_n1.copy")
	f, err := os.Create(b.copyFile)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := conn.PgConn().CopyTo(ctx, f, "COPY (SELECT "+b.copyCols+" FROM public.wide ORDER BY id) TO STDOUT"); err != nil {
		return fmt.Errorf("capture n1's rows: %w", err)
	}
	return f.Close()
}

// restore makes public.wide on the nodes equal to n1's again, several nodes at once: TRUNCATE and
// COPY FREEZE of the captured rows in one transaction, then VACUUM (ANALYZE) as after the load, so
// that the next case reads an all-visible table with fresh statistics, and a CHECKPOINT, so that
// it does not pay for writing the restored pages.
func (b *bench) restore(ctx context.Context, nodes ...string) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, node := range nodes {
		g.Go(func() error {
			conn, err := b.connect(gctx, node)
			if err != nil {
				return err
			}
			defer conn.Close(gctx)
			f, err := os.Open(b.copyFile)
			if err != nil {
				return err
			}
			defer f.Close()
			err = pgx.BeginFunc(gctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(gctx, "TRUNCATE public.wide"); err != nil {
					return err
				}
				_, err := tx.Conn().PgConn().CopyFrom(gctx, f, "COPY public.wide ("+b.copyCols+") FROM STDIN (FREEZE)")
				return err
			})
			if err == nil {
				_, err = conn.Exec(gctx, "VACUUM (ANALYZE) public.wide")
			}
			if err == nil {
				_, err = conn.Exec(gctx, "CHECKPOINT")
			}
			if err != nil {
				return fmt.Errorf("restore public.wide on %s: %w", node, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restored %v in %s\n", nodes, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// differingNodes returns the nodes whose public.wide differs from n1's, by row count and the sum
// of every row's text hash.
func (b *bench) differingNodes(ctx context.Context) ([]string, error) {
	sums := make([]string, len(b.sb.Nodes))
	g, gctx := errgroup.WithContext(ctx)
	for i, n := range b.sb.Nodes {
		g.Go(func() error {
			conn, err := b.connect(gctx, n.Name)
			if err != nil {
				return err
			}
			defer conn.Close(gctx)
			return conn.QueryRow(gctx, "SELECT count(*) || '/' || coalesce(sum(hashtextextended(t::text, 0)), 0) FROM public.wide t").Scan(&sums[i])
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []string
	for i, n := range b.sb.Nodes {
		if sums[i] != sums[0] {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

func (b *bench) connect(ctx context.Context, node string) (*pgx.Conn, error) {
	for _, n := range b.sb.Nodes {
		if n.Name == node {
			conn, err := pgx.Connect(ctx, b.sb.ConnString(n, dbName))
			if err != nil {
				return nil, fmt.Errorf("connect to %s: %w", node, err)
			}
			return conn, nil
		}
	}
	return nil, fmt.Errorf("no node %s", node)
}

// checkpoint writes every node's dirty buffers out, so that a timed write that follows does not
// pay for earlier writes.
func (b *bench) checkpoint(ctx context.Context) error {
	for _, n := range b.sb.Nodes {
		if err := b.exec(ctx, n.Name, "CHECKPOINT"); err != nil {
			return err
		}
	}
	return nil
}

// exec runs sql (one or more statements, no parameters) on one node.
func (b *bench) exec(ctx context.Context, node, sql string) error {
	conn, err := b.connect(ctx, node)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("on %s: %w", node, err)
	}
	return nil
}

func (b *bench) serverVersion(ctx context.Context) (string, error) {
	conn, err := b.connect(ctx, "n1")
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}
