package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
)

// floorOrder lists the floors in the order they are measured and printed.
var floorOrder = []string{"text", "typed", "exact", "raw", "copy-out", "copy-in"}

// measureFloors measures and prints the floors in need (the median of -repeat runs each), after
// one pass over public.wide on every node so that every measurement reads warm caches.
func (b *bench) measureFloors(ctx context.Context, need map[string]bool) error {
	b.floors = map[string]time.Duration{}
	if len(need) == 0 {
		return nil
	}
	hashSQL, err := b.hashFloorSQL(ctx)
	if err != nil {
		return err
	}
	if _, err := b.allNodes(ctx, hashSQL["text"]); err != nil {
		return err
	}
	fmt.Printf("\n%-58s %9s\n", "floor (median of "+fmt.Sprint(b.repeat)+")", "time")
	for _, name := range floorOrder {
		if !need[name] {
			continue
		}
		var f func() (time.Duration, error)
		switch name {
		case "copy-out":
			f = func() (time.Duration, error) { return b.copyOut(ctx) }
		case "copy-in":
			f = func() (time.Duration, error) { return b.copyIn(ctx) }
		default:
			sql := hashSQL[name]
			f = func() (time.Duration, error) { return b.allNodes(ctx, sql) }
		}
		d, err := median(b.repeat, f)
		if err != nil {
			return fmt.Errorf("%s floor: %w", name, err)
		}
		b.floors[name] = d
		b.printFloor(name, d)
	}
	if need["copy-in"] {
		return b.exec(ctx, "n3", "DROP TABLE IF EXISTS public.wide_copy")
	}
	return nil
}

func (b *bench) printFloor(name string, d time.Duration) {
	text := b.floors["text"]
	switch name {
	case "text":
		fmt.Printf("%-58s %9s\n", "text floor  sum(hashtextextended(t::text,0)), 3 nodes", fmtDur(d))
	case "typed":
		fmt.Printf("%-58s %9s  (%.2f x text floor)\n", "typed floor sum(hash_record_extended(ROW..),0)", fmtDur(d), ratio(d, text))
	case "exact":
		fmt.Printf("%-58s %9s  (%.2f x text floor)\n", "exact-hash floor sum(mix(pgparity row hash))", fmtDur(d), ratio(d, text))
	case "raw":
		// Informational: the difference of two floors is within the noise of one run.
		fmt.Printf("%-58s %9s  (mixing step %+.1f%% of the exact-hash floor, target <= %.0f%%)\n",
			"  same pass, raw sum (row hash version 1)", fmtDur(d), 100*(ratio(b.floors["exact"], d)-1), mixTargetPct)
	case "copy-out":
		fmt.Printf("%-58s %9s\n", "copy-out floor COPY (SELECT * .. ORDER BY id) TO, n1+n2", fmtDur(d))
	case "copy-in":
		fmt.Printf("%-58s %9s\n", fmt.Sprintf("copy-in floor  COPY %d rows into empty wide_copy, n3", b.rows), fmtDur(d))
	}
}

// hashFloorSQL returns the hash floors' queries by floor name.
func (b *bench) hashFloorSQL(ctx context.Context) (map[string]string, error) {
	conn, err := b.connect(ctx, "n1")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var cols string
	err = conn.QueryRow(ctx, `SELECT string_agg('t.' || quote_ident(attname), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'public.wide'::regclass AND attnum > 0 AND NOT attisdropped`).Scan(&cols)
	if err != nil {
		return nil, err
	}
	t, err := catalog.Load(ctx, conn, "public", "wide")
	if err != nil {
		return nil, err
	}
	// pgparity's row hash as table-diff builds it from the catalog (alias pgparity_t).
	rowHash := encode.RowHash("pgparity_t", t.Columns, false)
	return map[string]string{
		"text":  "SELECT sum(hashtextextended(t::text, 0)) FROM public.wide t",
		"typed": "SELECT sum(hash_record_extended(ROW(" + cols + "), 0)) FROM public.wide t",
		// One pass computing pgparity's row hash, summed as table-diff sums it (mixed, encode.Mix),
		// and the same pass summing the raw row hashes (row hash version 1): the mixing step's cost.
		"exact": "SELECT sum(" + encode.Mix("s.h") + ") FROM (SELECT " + rowHash + " AS h FROM public.wide AS pgparity_t OFFSET 0) AS s",
		"raw":   "SELECT sum(s.h) FROM (SELECT " + rowHash + " AS h FROM public.wide AS pgparity_t OFFSET 0) AS s",
	}, nil
}

// allNodes runs sql (one value) on every node at once and returns the wall time.
func (b *bench) allNodes(ctx context.Context, sql string) (time.Duration, error) {
	conns, err := b.connectAll(ctx, "n1", "n2", "n3")
	if err != nil {
		return 0, err
	}
	defer closeAll(ctx, conns)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			var s *string
			return c.QueryRow(gctx, sql).Scan(&s)
		})
	}
	err = g.Wait()
	return time.Since(start), err
}

// copyOut copies every row of public.wide out of n1 and n2 at once, in key order, discarding the
// data, and returns the wall time.
func (b *bench) copyOut(ctx context.Context) (time.Duration, error) {
	conns, err := b.connectAll(ctx, "n1", "n2")
	if err != nil {
		return 0, err
	}
	defer closeAll(ctx, conns)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			_, err := c.PgConn().CopyTo(gctx, io.Discard, "COPY (SELECT * FROM public.wide ORDER BY id) TO STDOUT")
			return err
		})
	}
	err = g.Wait()
	return time.Since(start), err
}

// copyIn copies n1's captured rows into a new empty copy of public.wide (its indexes included) on
// n3 and returns the time of the COPY, which starts after a checkpoint as every timed repair does.
func (b *bench) copyIn(ctx context.Context) (time.Duration, error) {
	conn, err := b.connect(ctx, "n3")
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS public.wide_copy; CREATE TABLE public.wide_copy (LIKE public.wide INCLUDING ALL)"); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return 0, err
	}
	f, err := os.Open(b.copyFile)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	_, err = conn.PgConn().CopyFrom(ctx, f, "COPY public.wide_copy ("+b.copyCols+") FROM STDIN")
	return time.Since(start), err
}

func (b *bench) connectAll(ctx context.Context, nodes ...string) ([]*pgx.Conn, error) {
	var conns []*pgx.Conn
	for _, n := range nodes {
		c, err := b.connect(ctx, n)
		if err != nil {
			closeAll(ctx, conns)
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(ctx context.Context, conns []*pgx.Conn) {
	for _, c := range conns {
		c.Close(ctx)
	}
}
