// Command pgparity-bench measures pgparity against floors on a local 3-node sandbox and prints,
// from one run, every floor, every case and the ratios between them (see README, "Performance").
// `make bench` runs it with -bin ./pgparity -rows 1000000 (add BENCH_ARGS="-only truncate" etc.).
//
// Floors (the median of -repeat runs each, after one warm-up pass):
//   - text, typed and exact-hash: one pass over public.wide on n1, n2 and n3 at once summing a
//     hash of every row (PostgreSQL's text hash, its typed hash, and pgparity's own row hash mixed
//     and summed as table-diff sums it; the raw sum beside it prices the mixing step);
//   - copy-out: COPY (SELECT * FROM public.wide ORDER BY id) TO STDOUT on n1 and n2 at once, the
//     data discarded: the least a diff of an empty n3 must read;
//   - copy-in: COPY of all of n1's rows (COPY text captured once) into an empty
//     public.wide_copy (LIKE public.wide INCLUDING ALL) on n3, dropped afterwards: the least a
//     repair of an empty n3 must write.
//
// Cases, in this order (each starts from identical tables: afterwards the nodes it changed are
// restored from n1's captured rows by TRUNCATE and COPY FREEZE in one transaction):
//
//	identical  table-diff of identical tables (median of -repeat; with -baseline-bin, A/B
//	           interleaved with the baseline binary)
//	scattered  table-diff with 110 rows changed on n2 and 110 on n3 (median of -repeat)
//	truncate   n3 truncated: table-diff --max-diff-rows 0 (target <= 5 x copy-out, <= 200 MB),
//	           table-repair --source-of-truth n1 of that diff (<= 3 x copy-in, <= 200 MB), then a
//	           table-diff that must find every node identical (exit 0)
//	stale      rows/10 rows stale on n2 (id % 10 = 0): table-diff --nodes n1,n2 and table-repair
//	           (<= 200 MB each); the repair's apply phase against COPY of those rows (info)
//	rss        peak RSS of table-diff --max-diff-rows 0 with rows/100, rows/10 and all keys missing
//	           on n3 (<= 200 MB each)
//	schema     schema-diff of schema bench20: 20 tables of min(rows, 60000) rows shaped like
//	           public.wide, 5/6 of each table's rows changed on n2 (<= 200 MB)
//	mtree      incremental re-checks (cmd/pgparity-bench/mtree.go): build, 100 scattered and
//	           100,000 bulk updates (on one node, then on every node) against a full table-diff
//	mtree-tps  pgbench TPS with each mtree tracker against untracked runs, interleaved
//
// The repairs of truncate and stale also print their apply phase (the per-node transaction the
// repair report records) against the same COPY, next to our own aim of <= 3 x: information, not
// a target of the run (the targets judge whole commands). Timed writes (the copy-in floor, the
// COPY of the stale rows, every repair) start after a CHECKPOINT. Heavy cases (truncate, stale,
// rss, schema) report the median of -heavy-repeat runs, with the highest peak RSS of any run.
// Every target prints PASS or FAIL next to its number; a missed target does not stop the run,
// and the last line lists them. The bench exits non-zero only when it cannot measure.
//
// Flags:
//
//	-bin FILE           pgparity binary to measure (default ./pgparity)
//	-rows N             rows in public.wide (default 1000000)
//	-dir DIR            sandbox directory, kept afterwards (default: a temporary directory,
//	                    destroyed); with -only, nodes of a kept DIR that already hold N rows are
//	                    reused (any node differing from n1 is restored first); a full run reloads
//	-repeat N           runs per floor and per identical/scattered measurement (default 3)
//	-heavy-repeat N     runs per heavy-case measurement (default 1)
//	-only CASES         comma-separated cases to run (identical, scattered, truncate, stale, rss,
//	                    schema; "repair" is stale, "floors" prints the floors only); only the
//	                    floors those cases are compared with are measured
//	-diff-args ARGS     extra arguments for every table-diff run, space separated
//	-baseline-bin FILE  an earlier pgparity binary diffed on identical tables, interleaved
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

const dbName = "bench"

// Targets the cases are judged against.
const (
	rssTargetMB   = 200 // peak RSS of one pgparity process
	copyOutTarget = 5.0 // table-diff of an empty n3 / copy-out floor
	copyInTarget  = 3.0 // table-repair of an empty n3 / copy-in floor
	applyTarget   = 3.0 // repair apply phase / COPY of the same rows
	mixTargetPct  = 5.0 // mixing step / exact-hash floor
)

// caseOrder lists the cases in the order a full run measures them.
var caseOrder = []string{"identical", "scattered", "truncate", "stale", "rss", "schema", "mtree", "mtree-tps", "verify", "serve"}

type bench struct {
	sb          *sandbox.Sandbox
	bin         string
	dir         string
	svc         string
	rows        int
	repeat      int
	heavyRepeat int
	extra       []string
	only        []string // cases to run, in caseOrder; nil with floorsOnly
	floorsOnly  bool
	base        string // baseline binary measured side by side on identical tables ("" = none)

	copyFile       string                   // n1's rows of public.wide as COPY text, key order
	columns        []string                 // public.wide's columns but the generated one
	copyCols       string                   // columns quoted, comma separated: the columns of copyFile
	floors         map[string]time.Duration // measured floors by name (see floorOrder)
	pgbenchSeconds int                      // length of each pgbench run of the mtree-tps case
	pgbenchRounds  int                      // rounds of the mtree-tps case (each tracker once per round)
	state          string                   // XDG_STATE_HOME of the runs: the current case's history store
	passed         int
	failed         []string // every missed target, for the closing line
}

func main() {
	b := &bench{}
	flag.StringVar(&b.bin, "bin", "./pgparity", "pgparity binary to measure")
	flag.StringVar(&b.dir, "dir", "", "sandbox directory, kept (default: a temporary directory, destroyed at the end)")
	flag.IntVar(&b.rows, "rows", 1000000, "rows in public.wide")
	flag.IntVar(&b.repeat, "repeat", 3, "runs per floor and per identical/scattered measurement (the median is reported)")
	flag.IntVar(&b.heavyRepeat, "heavy-repeat", 1, "runs per measurement of the heavy cases truncate, stale, rss, schema (the median is reported)")
	flag.IntVar(&b.pgbenchSeconds, "pgbench-seconds", 30, "length of each pgbench run of the mtree-tps case")
	flag.IntVar(&b.pgbenchRounds, "pgbench-rounds", 5, "rounds of the mtree-tps case (each tracker once per round, between two untracked runs)")
	diffArgs := flag.String("diff-args", "", "extra arguments of every table-diff run, space separated (e.g. \"--block-size 2000\")")
	flag.StringVar(&b.base, "baseline-bin", "", "an earlier pgparity binary: identical tables are also diffed with it, interleaved, and the ratio printed")
	only := flag.String("only", "", "comma-separated cases to run: "+strings.Join(caseOrder, ", ")+` ("repair" = stale; "floors" = floors only)`)
	flag.Parse()
	b.extra = strings.Fields(*diffArgs)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := b.parseOnly(*only)
	if err == nil {
		err = b.run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgparity-bench:", err)
		os.Exit(1)
	}
}

// parseOnly turns -only into the cases to run, in the order a full run measures them.
func (b *bench) parseOnly(only string) error {
	if b.repeat < 1 || b.heavyRepeat < 1 || b.rows < 1000 {
		return fmt.Errorf("-repeat and -heavy-repeat must be at least 1 and -rows at least 1000")
	}
	if only == "" {
		b.only = caseOrder
		return nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		switch name = strings.TrimSpace(name); {
		case name == "repair":
			want["stale"] = true
		case name == "floors":
			b.floorsOnly = true
		case slices.Contains(caseOrder, name):
			want[name] = true
		default:
			return fmt.Errorf("-only %q: cases are %s, repair (= stale) and floors", name, strings.Join(caseOrder, ", "))
		}
	}
	for _, name := range caseOrder {
		if want[name] {
			b.only = append(b.only, name)
		}
	}
	return nil
}

func (b *bench) run(ctx context.Context) error {
	began := time.Now()
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
	b.svc = filepath.Join(b.dir, "bench_service.conf")
	if err := b.sb.WriteServiceFile(b.svc, "bench", dbName); err != nil {
		return err
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.header(ctx); err != nil {
		return err
	}
	b.state = filepath.Join(b.dir, "state", "floors")
	if err := b.measureFloors(ctx, b.neededFloors()); err != nil {
		return err
	}
	for _, name := range b.only {
		// Each case records its runs in a history store of its own, empty at its start: what an
		// earlier case (or run) left open is not resolved on this case's clock.
		b.state = filepath.Join(b.dir, "state", name)
		if err := os.RemoveAll(b.state); err != nil {
			return err
		}
		if err := b.runCase(ctx, name); err != nil {
			return fmt.Errorf("case %s: %w", name, err)
		}
	}
	status := "all met"
	if len(b.failed) > 0 {
		status = "missed: " + strings.Join(b.failed, "; ")
	}
	fmt.Printf("\ntargets: %d PASS, %d FAIL (%s)\n", b.passed, len(b.failed), status)
	fmt.Printf("bench took %s\n", time.Since(began).Round(time.Second))
	return nil
}

func (b *bench) runCase(ctx context.Context, name string) error {
	switch name {
	case "identical":
		return b.identicalCase(ctx)
	case "scattered":
		return b.scatteredCase(ctx)
	case "truncate":
		return b.truncateCase(ctx)
	case "stale":
		return b.staleCase(ctx)
	case "rss":
		return b.rssCase(ctx)
	case "schema":
		return b.schemaCase(ctx)
	case "verify":
		return b.verifyCase(ctx)
	case "serve":
		return b.serveCase(ctx) // serve.go
	case "mtree":
		return b.mtreeCase(ctx)
	case "mtree-tps":
		return b.pgbenchCase(ctx)
	}
	return fmt.Errorf("no case %s", name)
}

// neededFloors returns the floors the selected cases are compared with (all with -only floors).
func (b *bench) neededFloors() map[string]bool {
	need := map[string]bool{}
	if b.floorsOnly {
		for _, f := range floorOrder {
			need[f] = true
		}
	}
	for _, name := range b.only {
		switch name {
		case "identical", "scattered", "mtree":
			need["text"], need["typed"], need["exact"], need["raw"] = true, true, true, true
		case "truncate":
			need["copy-out"], need["copy-in"] = true, true
		}
	}
	return need
}

// header prints what a rerun needs to reproduce the figures: the command line, the binary's
// version, the server version and the machine.
func (b *bench) header(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, b.bin, "version").Output()
	if err != nil {
		return fmt.Errorf("%s version: %w", b.bin, err)
	}
	server, err := b.serverVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("pgparity-bench %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("binary %s (%s), PostgreSQL %s, %d CPUs, %s\n", b.bin, strings.TrimSpace(string(out)), server, runtime.NumCPU(), runtime.Version())
	extra := "none"
	if len(b.extra) > 0 {
		extra = strings.Join(b.extra, " ")
	}
	fmt.Printf("3 nodes, public.wide with %d rows; floors, identical and scattered: median of %d; heavy cases: median of %d; extra table-diff args: %s\n",
		b.rows, b.repeat, b.heavyRepeat, extra)
	return nil
}
