package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// The schema case: schemaTables tables of public.wide's shape in schema benchSchema.
const (
	benchSchema    = "bench20"
	schemaTables   = 20
	schemaRowsMax  = 60000
	schemaDriftSQL = "CASE WHEN id % 6 <> 0 THEN coalesce(note, '') || ' drift' ELSE note END"
)

// schemaCase loads schema bench20 (every table holds public.wide's first min(rows, 60000) rows;
// on n2, 5 of every 6 rows have another note), runs schema-diff of it with output_dir in the
// bench directory, and drops the schema.
func (b *bench) schemaCase(ctx context.Context) error {
	perTable := min(b.rows, schemaRowsMax)
	differing := perTable - perTable/6 // ids 1..perTable with id % 6 <> 0
	b.caseHeader(fmt.Sprintf("schema: schema-diff bench %s, %d tables x %d rows, %d rows per table differ on n2",
		benchSchema, schemaTables, perTable, differing))
	if err := b.loadSchema(ctx, perTable); err != nil {
		return err
	}
	outDir := filepath.Join(b.dir, benchSchema)
	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(outDir)
	cfg := filepath.Join(outDir, "pgparity.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("output_dir: %q\nmax_diff_rows: 0\n", outDir)), 0o600); err != nil {
		return err
	}
	o, err := b.measure(ctx, b.heavyRepeat, nil, "schema-diff", "bench", benchSchema, "--json", "--config", cfg)
	if err != nil {
		return err
	}
	tables, rows, files := schemaSummary(o.stdout, differing)
	v := verdict{what: "schema-diff"}
	v.want(o.code == 1, "exit %d, want 1", o.code)
	v.want(tables == schemaTables, "%d tables differ by %d rows, want %d", tables, differing, schemaTables)
	v.want(files == schemaTables, "%d diff files, want %d", files, schemaTables)
	v.wantRSS(o)
	fmt.Printf(rowFormat, fmt.Sprintf("schema-diff (%d tables differ, %d diff files)", tables, files), fmtDur(o.took), "",
		fmt.Sprintf("%d MB", o.rssMB()), o.exitText(), fmt.Sprint(rows), fmt.Sprintf("<= %d MB: %s", rssTargetMB, b.judge(v)))
	for _, n := range b.sb.Nodes {
		if err := b.exec(ctx, n.Name, "DROP SCHEMA "+pgx.Identifier{benchSchema}.Sanitize()+" CASCADE"); err != nil {
			return err
		}
	}
	return nil
}

// schemaSummary reads schema-diff --json output: the tables whose data differs by exactly
// differing rows, the differing rows of all tables, and the diff files named.
func schemaSummary(stdout []byte, differing int) (tables, rows, files int) {
	var res struct {
		Tables []struct {
			Data struct {
				Status        string `json:"status"`
				DifferingRows int    `json:"differing_rows"`
			} `json:"data"`
		} `json:"tables"`
		DiffFiles map[string]string `json:"diff_files"`
	}
	if json.Unmarshal(stdout, &res) != nil {
		return -1, -1, -1
	}
	for _, t := range res.Tables {
		rows += t.Data.DifferingRows
		if t.Data.Status == "differ" && t.Data.DifferingRows == differing {
			tables++
		}
	}
	for _, path := range res.DiffFiles {
		if _, err := os.Stat(path); err == nil {
			files++
		}
	}
	return tables, rows, files
}

// loadSchema creates the case's tables on every node at once, from each node's public.wide (equal
// on every node between cases), n2's with other notes, then vacuums and analyzes them.
func (b *bench) loadSchema(ctx context.Context, perTable int) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range b.sb.Nodes {
		g.Go(func() error {
			conn, err := b.connect(gctx, n.Name)
			if err != nil {
				return err
			}
			defer conn.Close(gctx)
			sch := pgx.Identifier{benchSchema}.Sanitize()
			if _, err := conn.Exec(gctx, "DROP SCHEMA IF EXISTS "+sch+" CASCADE; CREATE SCHEMA "+sch); err != nil {
				return fmt.Errorf("create schema %s on %s: %w", benchSchema, n.Name, err)
			}
			sel := b.copyCols
			if n.Name == "n2" {
				sel = strings.Replace(sel, `"note"`, schemaDriftSQL, 1)
			}
			var names []string
			for i := 1; i <= schemaTables; i++ {
				t := pgx.Identifier{benchSchema, fmt.Sprintf("t%02d", i)}.Sanitize()
				names = append(names, t)
				if _, err := conn.Exec(gctx, "CREATE TABLE "+t+" (LIKE public.wide INCLUDING ALL)"); err != nil {
					return fmt.Errorf("create %s on %s: %w", t, n.Name, err)
				}
				if _, err := conn.Exec(gctx, "INSERT INTO "+t+" ("+b.copyCols+") SELECT "+sel+" FROM public.wide WHERE id <= $1", perTable); err != nil {
					return fmt.Errorf("load %s on %s: %w", t, n.Name, err)
				}
			}
			if _, err := conn.Exec(gctx, "VACUUM (ANALYZE) "+strings.Join(names, ", ")); err != nil {
				return fmt.Errorf("vacuum %s on %s: %w", benchSchema, n.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded schema %s in %s\n", benchSchema, time.Since(start).Round(100*time.Millisecond))
	return nil
}
