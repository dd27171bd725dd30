// Command pgparity-bench measures table-diff against the hashing floor on a local 3-node sandbox
// and prints ratios measured in one run (see README, "Performance").
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/sandbox"
)

const dbName = "bench"

type bench struct {
	sb     *sandbox.Sandbox
	bin    string
	dir    string
	svc    string
	rows   int
	repeat int
	extra  []string
	only   string
	base   string // baseline binary measured side by side on identical tables ("" = none)
}

func main() {
	b := &bench{}
	flag.StringVar(&b.bin, "bin", "./pgparity", "pgparity binary to measure")
	flag.StringVar(&b.dir, "dir", "", "sandbox directory (default: a temporary directory, destroyed at the end)")
	flag.IntVar(&b.rows, "rows", 1000000, "rows in public.wide")
	flag.IntVar(&b.repeat, "repeat", 3, "runs per measurement (the median is reported)")
	diffArgs := flag.String("diff-args", "", "extra table-diff arguments, space separated (e.g. \"--block-size 2000\")")
	flag.StringVar(&b.base, "baseline-bin", "", "an earlier pgparity binary: identical tables are also diffed with it, interleaved, and the ratio printed")
	flag.StringVar(&b.only, "only", "", "run only this case: repair (reuses the rows of a kept -dir when they are loaded)")
	flag.Parse()
	b.extra = strings.Fields(*diffArgs)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgparity-bench:", err)
		os.Exit(1)
	}
}

func (b *bench) run(ctx context.Context) error {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return fmt.Errorf("/usr/bin/time is needed to measure peak RSS (Debian: apt-get install -y time)")
	}
	bin, err := filepath.Abs(b.bin)
	if err != nil {
		return err
	}
	b.bin = bin
	keep := b.dir != ""
	if !keep {
		if b.dir, err = os.MkdirTemp("", "pgparity-bench-"); err != nil {
			return err
		}
	}
	b.sb, err = sandbox.Up(ctx, sandbox.Options{Dir: b.dir, Nodes: 3})
	if err != nil {
		return err
	}
	defer func() {
		if !keep {
			_ = b.sb.Destroy(context.WithoutCancel(ctx))
		}
	}()
	switch b.only {
	case "", "repair":
	default:
		return fmt.Errorf("-only %q: the only case that runs alone is repair", b.only)
	}
	if b.only == "" || !b.loaded(ctx) {
		if err := b.load(ctx); err != nil {
			return err
		}
	}
	b.svc = filepath.Join(b.dir, "bench_service.conf")
	if err := b.sb.WriteServiceFile(b.svc, "bench", dbName); err != nil {
		return err
	}
	if b.only == "repair" {
		return b.repairCase(ctx)
	}
	cols, err := b.columns(ctx)
	if err != nil {
		return err
	}
	rowHash, err := b.rowHash(ctx)
	if err != nil {
		return err
	}
	textFloor := "SELECT sum(hashtextextended(t::text, 0)) FROM public.wide t"
	typedFloor := "SELECT sum(hash_record_extended(ROW(" + cols + "), 0)) FROM public.wide t"
	// The exact-hash floor: one pass computing pgparity's own row hash, summed as table-diff sums
	// it (mixed, encode.Mix), and the same pass summing the raw row hashes (the linear sum of row
	// hash version 1) to show what the mixing step costs.
	exactFloor := "SELECT sum(" + encode.Mix("s.h") + ") FROM (SELECT " + rowHash + " AS h FROM public.wide AS pgparity_t OFFSET 0) AS s"
	rawFloor := "SELECT sum(s.h) FROM (SELECT " + rowHash + " AS h FROM public.wide AS pgparity_t OFFSET 0) AS s"
	// Warm the caches once so every measurement reads the same way.
	if _, err := b.floor(ctx, textFloor); err != nil {
		return err
	}
	fmt.Printf("pgparity-bench: 3 nodes, public.wide with %d rows, median of %d runs each, table-diff %s\n\n",
		b.rows, b.repeat, strings.Join(b.extra, " "))

	floor, err := b.median(func() (time.Duration, error) { return b.floor(ctx, textFloor) })
	if err != nil {
		return err
	}
	typed, err := b.median(func() (time.Duration, error) { return b.floor(ctx, typedFloor) })
	if err != nil {
		return err
	}
	fmt.Printf("%-46s %9s\n", "text floor  sum(hashtextextended(t::text,0))", fmtDur(floor))
	exact, err := b.median(func() (time.Duration, error) { return b.floor(ctx, exactFloor) })
	if err != nil {
		return err
	}
	raw, err := b.median(func() (time.Duration, error) { return b.floor(ctx, rawFloor) })
	if err != nil {
		return err
	}
	fmt.Printf("%-46s %9s  (%.2f x text floor)\n", "typed floor sum(hash_record_extended(ROW..),0)", fmtDur(typed), ratio(typed, floor))
	fmt.Printf("%-46s %9s  (%.2f x text floor)\n", "exact-hash floor sum(mix(pgparity row hash))", fmtDur(exact), ratio(exact, floor))
	fmt.Printf("%-46s %9s  (mixing step: %+.1f%% of the exact-hash floor, target <= 5%%)\n\n",
		"  same pass, raw sum (row hash version 1)", fmtDur(raw), 100*(ratio(exact, raw)-1))
	fmt.Printf("%-34s %9s %8s %8s %8s %10s %8s\n", "case", "time", "/floor", "/typed", "/exact", "peak RSS", "exit")
	if b.base != "" {
		if err := b.baseline(ctx, floor); err != nil {
			return err
		}
	}

	cases := []struct {
		name  string
		setup func() error
		args  []string
	}{
		{"identical tables", nil, nil},
		{"220 scattered differing rows", func() error { return b.scatter(ctx) }, nil},
		{"n3 truncated, --max-diff-rows 10000", func() error { return b.exec(ctx, "n3", "TRUNCATE public.wide") },
			[]string{"--max-diff-rows", "10000"}},
	}
	for _, c := range cases {
		if c.setup != nil {
			if err := c.setup(); err != nil {
				return err
			}
		}
		var rss int64
		var code int
		d, err := b.median(func() (time.Duration, error) {
			var took time.Duration
			var err error
			took, rss, code, err = b.tableDiff(ctx, c.args)
			return took, err
		})
		if err != nil {
			return err
		}
		fmt.Printf("%-34s %9s %8.2f %8.2f %8.2f %7d MB %8d\n", c.name, fmtDur(d), ratio(d, floor), ratio(d, typed), ratio(d, exact), rss/1024, code)
	}
	return b.repairCase(ctx)
}

// repairCase makes 10% of n2's rows stale, diffs n1 and n2, and compares table-repair from n1
// with the time to COPY the same rows into an empty copy of the table on n2, twice: the whole
// command (read the diff file, plan, apply, verification) and the apply phase alone (the per-node
// duration the repair report records: the node's transaction from connect to commit, undo file
// included).
func (b *bench) repairCase(ctx context.Context) error {
	stale := "public.wide.id % 10 = 0"
	if err := b.exec(ctx, "n2", "UPDATE public.wide SET note = coalesce(note, '') || ' stale' WHERE "+stale); err != nil {
		return err
	}
	diffFile := filepath.Join(b.dir, "bench_repair_diff.json")
	if _, _, code, err := b.pgparity(ctx, "table-diff", "bench", "public.wide", "--nodes", "n1,n2", "--quiet", "--out", diffFile); err != nil || code != 1 {
		return fmt.Errorf("repair case: table-diff exited %d: %v", code, err)
	}
	// The baseline: the rows the repair writes, as COPY text, loaded into an empty copy on n2.
	var rows bytes.Buffer
	src, err := pgx.Connect(ctx, b.sb.ConnString(b.sb.Nodes[0], dbName))
	if err != nil {
		return err
	}
	defer src.Close(ctx)
	if _, err := src.PgConn().CopyTo(ctx, &rows, "COPY (SELECT * FROM public.wide WHERE "+stale+") TO STDOUT"); err != nil {
		return err
	}
	dst, err := pgx.Connect(ctx, b.sb.ConnString(b.sb.Nodes[1], dbName))
	if err != nil {
		return err
	}
	defer dst.Close(ctx)
	copyTime, err := b.median(func() (time.Duration, error) {
		if _, err := dst.Exec(ctx, "DROP TABLE IF EXISTS public.wide_copy; CREATE TABLE public.wide_copy (LIKE public.wide)"); err != nil {
			return 0, err
		}
		start := time.Now()
		_, err := dst.PgConn().CopyFrom(ctx, bytes.NewReader(rows.Bytes()), "COPY public.wide_copy FROM STDIN")
		return time.Since(start), err
	})
	if err != nil {
		return err
	}
	var took, apply time.Duration
	var rss int64
	code := 0
	reportFile := filepath.Join(b.dir, "bench_repair.json")
	for i := 0; i < b.repeat; i++ { // after the first run the rows are repaired: re-stale them each time
		if i > 0 {
			if err := b.exec(ctx, "n2", "UPDATE public.wide SET note = coalesce(note, '') || ' stale' WHERE "+stale); err != nil {
				return err
			}
			if _, _, _, err := b.pgparity(ctx, "table-diff", "bench", "public.wide", "--nodes", "n1,n2", "--quiet", "--out", diffFile); err != nil {
				return err
			}
		}
		undo := filepath.Join(b.dir, fmt.Sprintf("bench_undo_%d.jsonl", i))
		_ = os.Remove(reportFile)
		d, r, c, err := b.pgparity(ctx, "table-repair", "bench", "--diff-file", diffFile, "--source-of-truth", "n1", "--quiet",
			"--report", reportFile, "--undo-file", undo)
		if err != nil {
			return err
		}
		a, err := applySeconds(reportFile)
		if err != nil {
			return err
		}
		if i == 0 || d < took {
			took, rss, code = d, r, c
		}
		if i == 0 || a < apply {
			apply = a
		}
		_ = os.Remove(undo)
	}
	fmt.Printf("\nrepair: %d stale rows on n2 (10%%), table-repair --source-of-truth n1 (fastest of %d)\n", b.rows/10, b.repeat)
	fmt.Printf("%-44s %9s\n", "COPY the rows into an empty copy", fmtDur(copyTime))
	fmt.Printf("%-44s %9s %8.2f x COPY  %7d MB  exit %d\n", "table-repair, whole command", fmtDur(took), ratio(took, copyTime), rss/1024, code)
	fmt.Printf("%-44s %9s %8.2f x COPY  (target <= 3)\n", "table-repair, apply phase (report, per node)", fmtDur(apply), ratio(apply, copyTime))
	return nil
}

// applySeconds reads a repair report and returns the longest per-node duration of the nodes
// that had changes to make.
func applySeconds(path string) (time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Nodes  []struct {
			Planned  int     `json:"planned"`
			Duration float64 `json:"duration_seconds"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, fmt.Errorf("repair report %s: %w", path, err)
	}
	if r.Status != "repaired" {
		return 0, fmt.Errorf("repair report %s: status %s, want repaired", path, r.Status)
	}
	longest := 0.0
	for _, n := range r.Nodes {
		if n.Planned > 0 && n.Duration > longest {
			longest = n.Duration
		}
	}
	return time.Duration(longest * float64(time.Second)), nil
}

// pgparity runs the pgparity binary with args under /usr/bin/time -v and returns wall time, peak
// RSS (KB) and exit code; exit codes above 1 are errors.
func (b *bench) pgparity(ctx context.Context, args ...string) (time.Duration, int64, int, error) {
	full := append([]string{"-v", b.bin, "--service-file", b.svc}, args...)
	cmd := exec.CommandContext(ctx, "/usr/bin/time", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return 0, 0, 0, err
	}
	if code > 1 {
		return 0, 0, code, fmt.Errorf("%s exited %d: %s", args[0], code, lastLine(stderr.String()))
	}
	var rss int64
	if m := rssLine.FindStringSubmatch(stderr.String()); m != nil {
		rss, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return took, rss, code, nil
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
			conn, err = pgx.Connect(gctx, b.sb.ConnString(n, dbName))
			if err != nil {
				return err
			}
			defer conn.Close(gctx)
			_, err = conn.Exec(gctx, "VACUUM (ANALYZE) public.wide")
			return err
		})
	}
	return g.Wait()
}

// loaded reports whether every node already holds public.wide with the requested number of rows
// (a kept -dir from an earlier run), so that -only can skip the load.
func (b *bench) loaded(ctx context.Context) bool {
	for _, n := range b.sb.Nodes {
		conn, err := pgx.Connect(ctx, b.sb.ConnString(n, dbName))
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

// rowHash returns pgparity's row hash expression of public.wide (alias pgparity_t), as table-diff
// builds it from the catalog.
func (b *bench) rowHash(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, b.sb.ConnString(b.sb.Nodes[0], dbName))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	t, err := catalog.Load(ctx, conn, "public", "wide")
	if err != nil {
		return "", err
	}
	return encode.RowHash("pgparity_t", t.Columns, false), nil
}

// baseline diffs identical tables with the baseline binary and this one, interleaved (so that
// both see the same machine), and prints the median of each and their ratio.
func (b *bench) baseline(ctx context.Context, floor time.Duration) error {
	var cur, old []time.Duration
	bin := b.bin
	defer func() { b.bin = bin }()
	for i := 0; i < b.repeat; i++ {
		for _, which := range []string{bin, b.base} {
			b.bin = which
			d, _, code, err := b.tableDiff(ctx, nil)
			if err != nil {
				return err
			}
			if code != 0 {
				return fmt.Errorf("baseline: %s exited %d on identical tables", which, code)
			}
			if which == bin {
				cur = append(cur, d)
			} else {
				old = append(old, d)
			}
		}
	}
	mc, mo := medianOf(cur), medianOf(old)
	fmt.Printf("%-34s %9s %8.2f\n", "identical, baseline binary", fmtDur(mo), ratio(mo, floor))
	fmt.Printf("%-34s %9s %8.2f   (this / baseline = %.3f)\n", "identical, this binary", fmtDur(mc), ratio(mc, floor), ratio(mc, mo))
	return nil
}

func medianOf(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// columns lists public.wide's columns for the typed floor.
func (b *bench) columns(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, b.sb.ConnString(b.sb.Nodes[0], dbName))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var cols string
	err = conn.QueryRow(ctx, `SELECT string_agg('t.' || quote_ident(attname), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'public.wide'::regclass AND attnum > 0 AND NOT attisdropped`).Scan(&cols)
	return cols, err
}

// floor runs sql on every node at once and returns the wall time.
func (b *bench) floor(ctx context.Context, sql string) (time.Duration, error) {
	conns := make([]*pgx.Conn, len(b.sb.Nodes))
	for i, n := range b.sb.Nodes {
		c, err := pgx.Connect(ctx, b.sb.ConnString(n, dbName))
		if err != nil {
			return 0, err
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			var s *string
			return c.QueryRow(gctx, sql).Scan(&s)
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

var rssLine = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// tableDiff runs table-diff of public.wide with the bench's extra arguments (see pgparity).
func (b *bench) tableDiff(ctx context.Context, extra []string) (time.Duration, int64, int, error) {
	args := []string{"table-diff", "bench", "public.wide", "--quiet", "--out", filepath.Join(b.dir, "bench_diff.json")}
	return b.pgparity(ctx, append(append(args, b.extra...), extra...)...)
}

// scatter changes 110 rows on n2 and 110 on n3, spread over the whole key range.
func (b *bench) scatter(ctx context.Context) error {
	for node, off := range map[string]int{"n2": 1, "n3": 2} {
		sql := fmt.Sprintf("UPDATE public.wide SET note = coalesce(note, '') || ' drift' WHERE id IN "+
			"(SELECT (g * %d + %d) %% %d + 1 FROM generate_series(1, 110) g)", b.rows/110, off*7, b.rows)
		if err := b.exec(ctx, node, sql); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) exec(ctx context.Context, node, sql string) error {
	for _, n := range b.sb.Nodes {
		if n.Name != node {
			continue
		}
		c, err := pgx.Connect(ctx, b.sb.ConnString(n, dbName))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	return fmt.Errorf("no node %s", node)
}

func (b *bench) median(f func() (time.Duration, error)) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < b.repeat; i++ {
		d, err := f()
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return medianOf(ds), nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "Command") {
			last = t
		}
	}
	return last
}
