package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// Targets of the mtree case.
const (
	mtreeBuildTarget   = 1.3  // mtree build / text floor
	mtreeScatterTarget = 0.05 // mtree table-diff after 100 scattered updates / full table-diff
	mtreeScatterMax    = 300 * time.Millisecond
	cdcTPSTarget       = 0.95 // pgbench TPS with the cdc tracker / without tracking
	triggerTPSTarget   = 0.75 // pgbench TPS with the trigger tracker / without tracking
)

// mtreeCase measures the incremental re-check (cdc tracker) on public.wide: build against the
// text floor; after 100 scattered single-row updates on n2 and after 100,000 updates in one
// transaction, mtree table-diff against a full table-diff in the same state; then pgbench
// (tpcb-like, 2 clients) on n1 without tracking, with the cdc tracker (listen running) and with
// the trigger tracker on pgbench_accounts, pgbench_branches and pgbench_tellers (pgbench_history
// has no key, so it cannot be tracked).
func (b *bench) mtreeCase(ctx context.Context) error {
	b.caseHeader(fmt.Sprintf("mtree (cdc tracker); the re-check after 100 updates: median of %d rounds, the rest single runs", b.repeat))
	mt := func(args ...string) (outcome, error) { return b.pgparity(ctx, append([]string{"mtree"}, args...)...) }
	// A node restored by an earlier case is otherwise vacuumed by autovacuum during the timed runs.
	for _, n := range b.sb.Nodes {
		if err := b.exec(ctx, n.Name, "VACUUM (ANALYZE) public.wide"); err != nil {
			return err
		}
	}
	// A slot left by an interrupted run would make the first drain decode the restore of n2.
	if o, err := mt("teardown", "bench"); err != nil || o.code != 0 {
		return fmt.Errorf("mtree teardown: %v %s", err, o.exitText())
	}
	if o, err := mt("init", "bench", "--tracker", "cdc"); err != nil || o.code != 0 {
		return fmt.Errorf("mtree init: %v %s", err, o.exitText())
	}
	build, err := mt("build", "bench", "public.wide")
	if err != nil {
		return err
	}
	v := verdict{what: "mtree build"}
	v.wantRun(build, 0, -1)
	r := ratio(build.took, b.floors["text"])
	v.want(r <= mtreeBuildTarget, "%.2f x text floor > %.1f", r, mtreeBuildTarget)
	b.row("mtree build (100-row leaves)", build, fmt.Sprintf("%.2f x text", r), fmt.Sprintf("<= %.1f", mtreeBuildTarget), v)

	// 100 transactions, one row each, spread over the key range (shifted each round)
	scatter := func(node string, round int) error {
		conn, err := b.connect(ctx, node)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		for g := 1; g <= 100; g++ {
			id := (g*(b.rows/100)+37+round*7)%b.rows + 1
			if _, err := conn.Exec(ctx, "UPDATE public.wide SET note = coalesce(note, '') || ' mtree' WHERE id = $1", id); err != nil {
				return err
			}
		}
		return nil
	}
	mdiff := func(tag string) (outcome, error) {
		return mt("table-diff", "bench", "public.wide", "--json", "--out", filepath.Join(b.dir, "bench_mtree_"+tag+".json"))
	}
	// -repeat rounds: 100 updates on n2, the re-check (timed), then the same updates on n1 and
	// n3 and an mtree update, so that every round starts from equal nodes.
	var trees []outcome
	var full outcome
	for round := 0; round < b.repeat; round++ {
		if err := scatter("n2", round); err != nil {
			return err
		}
		tree, err := mdiff("scattered")
		if err != nil {
			return err
		}
		trees = append(trees, tree)
		if round == 0 {
			if full, err = b.pgparity(ctx, b.diffArgs("bench_mtree_full.json")...); err != nil {
				return err
			}
		}
		for _, n := range []string{"n1", "n3"} {
			if err := scatter(n, round); err != nil {
				return err
			}
		}
		if o, err := mt("update", "bench", "public.wide"); err != nil || o.code != 0 {
			return fmt.Errorf("mtree update: %v %s", err, o.exitText())
		}
	}
	v = verdict{what: "full table-diff, 100 updates"}
	v.wantRun(full, 1, 100)
	b.row("full table-diff, 100 scattered updates", full, "", "finds 100", v)
	v = verdict{what: "mtree table-diff, 100 updates"}
	for _, t := range trees {
		v.wantRun(t, 1, 100) // every round finds its 100 keys
	}
	sort.Slice(trees, func(i, j int) bool { return trees[i].took < trees[j].took })
	tree := trees[len(trees)/2]
	r = ratio(tree.took, full.took)
	v.want(r <= mtreeScatterTarget, "%.3f x full > %.2f", r, mtreeScatterTarget)
	v.want(tree.took <= mtreeScatterMax, "%s > %s", fmtDur(tree.took), fmtDur(mtreeScatterMax))
	var each []string
	for _, t := range trees {
		each = append(each, fmtDur(t.took))
	}
	b.row(fmt.Sprintf("mtree table-diff, 100 scattered updates (median of %d: %s)", len(trees), strings.Join(each, " ")), tree,
		fmt.Sprintf("%.3f x full", r), "<= 0.05 and 0.30s", v)

	stride := max(1, b.rows/100000)
	bulk := fmt.Sprintf("UPDATE public.wide SET note = coalesce(note, '') || ' bulk' WHERE id IN (SELECT (g * %d) %% %d + 1 FROM generate_series(1, %d) g)",
		stride, b.rows, min(100000, b.rows))
	if err := b.exec(ctx, "n2", bulk); err != nil {
		return err
	}
	bulkTree, err := mdiff("bulk")
	if err != nil {
		return err
	}
	full, err = b.pgparity(ctx, b.diffArgs("bench_mtree_full.json")...)
	if err != nil {
		return err
	}
	v = verdict{what: "full table-diff, 100,000 updates"}
	v.wantRun(full, 1, -1)
	b.row("full table-diff, 100,000 updates in 1 tx", full, "", "reference", v)
	v = verdict{what: "mtree table-diff, 100,000 updates"}
	v.wantRun(bulkTree, 1, full.keys())
	r = ratio(bulkTree.took, full.took)
	v.want(r <= 1, "%.2f x full > 1", r)
	b.row("mtree table-diff, 100,000 updates in 1 tx", bulkTree, fmt.Sprintf("%.2f x full", r), "<= 1.0", v)
	// The same transaction on n1 and n3, as replication would apply it: every leaf is dirty on
	// every node and hashed there, and nothing differs. Information, no target.
	for _, n := range []string{"n1", "n3"} {
		if err := b.exec(ctx, n, bulk); err != nil {
			return err
		}
	}
	replTree, err := mdiff("replicated")
	if err != nil {
		return err
	}
	if full, err = b.pgparity(ctx, b.diffArgs("bench_mtree_full.json")...); err != nil {
		return err
	}
	v = verdict{what: "full table-diff, the bulk updates on every node"}
	v.wantRun(full, 0, 0)
	b.row("full table-diff, the same updates on every node", full, "", "finds 0", v)
	v = verdict{what: "mtree table-diff, the bulk updates on every node"}
	v.wantRun(replTree, 0, 0)
	b.row("mtree table-diff, same state", replTree, fmt.Sprintf("%.2f x full", ratio(replTree.took, full.took)), "finds 0 (ratio: info)", v)
	for _, f := range []string{"scattered", "bulk", "replicated", "full"} {
		_ = os.Remove(filepath.Join(b.dir, "bench_mtree_"+f+".json"))
	}
	if o, err := mt("teardown", "bench"); err != nil || o.code != 0 {
		return fmt.Errorf("mtree teardown: %v %s", err, o.exitText())
	}
	return b.restore(ctx, "n1", "n2", "n3")
}

// pgbenchScale is pgbench's scale factor: 10 branches, so that the 2 clients rarely wait for
// each other's row locks (with 1 branch every transaction serializes on it).
const pgbenchScale = "10"

// pgbenchModes are the tracked set-ups pgbenchCase compares with untracked runs; a round runs
// each once, starting one further along than the round before.
var pgbenchModes = []string{"cdc", "trigger", "cdc+listen"}

// pgbenchCase prints pgbench TPS with each tracker against untracked runs. This machine's
// throughput drifts by a fifth within minutes, so every tracked run sits between two untracked
// runs and is compared with their mean; a tracker's figure is the median of its paired ratios
// over the rounds (the medians of the raw TPS are printed too). The cdc tracker's target is
// judged with the slot in place and no consumer running (decoding happens at the next
// re-check, whose drain time is printed); with `mtree listen` decoding while pgbench runs, the
// figure is printed too: on a machine whose cores pgbench saturates, the walsender's decoding
// competes with the writers for CPU.
func (b *bench) pgbenchCase(ctx context.Context) error {
	for _, n := range b.sb.Nodes {
		if _, err := b.runPgbench(ctx, n, "-i", "-q", "-s", pgbenchScale); err != nil {
			return err
		}
	}
	fmt.Printf("\npgbench tpcb-like on n1, scale %s, 2 clients, %d s per run, %d rounds, each tracked run between two untracked ones (pgbench_history has no key: not tracked)\n",
		pgbenchScale, b.pgbenchSeconds, b.pgbenchRounds)
	if _, err := b.tps(ctx, 10); err != nil { // warm-up, not counted: the first run after a load is slow
		return err
	}
	untracked := func() (float64, error) {
		tps, _, err := b.trackedTPS(ctx, "none")
		if err == nil {
			fmt.Printf("  %-26s %6.0f tps\n", "none", tps)
		}
		return tps, err
	}
	before, err := untracked()
	if err != nil {
		return err
	}
	raw := map[string][]float64{"none": {before}}
	ratios := map[string][]float64{}
	for round := 0; round < b.pgbenchRounds; round++ {
		for i := range pgbenchModes {
			mode := pgbenchModes[(round+i)%len(pgbenchModes)]
			tps, drain, err := b.trackedTPS(ctx, mode)
			if err != nil {
				return err
			}
			after, err := untracked()
			if err != nil {
				return err
			}
			r := tps / ((before + after) / 2)
			raw[mode] = append(raw[mode], tps)
			raw["none"] = append(raw["none"], after)
			ratios[mode] = append(ratios[mode], r)
			extra := ""
			if mode == "cdc" {
				extra = fmt.Sprintf("  (then mtree update, decoding the run's changes: %s)", fmtDur(drain))
			}
			fmt.Printf("  round %d %-18s %6.0f tps  %.2f x the untracked runs around it%s\n", round+1, mode, tps, r, extra)
			before = after
		}
	}
	fmt.Printf("%-46s %9.0f tps (median of %d runs)\n", "no tracking", medianFloat(raw["none"]), len(raw["none"]))
	for _, tc := range []struct {
		mode, name string
		target     float64
	}{
		{"cdc", "cdc tracker (slot; decoded at the re-check)", cdcTPSTarget},
		{"trigger", "trigger tracker", triggerTPSTarget},
		{"cdc+listen", "cdc tracker, mtree listen decoding meanwhile", 0},
	} {
		rs := ratios[tc.mode]
		r := medianFloat(rs)
		spread := fmt.Sprintf("(median of %d paired ratios, %.2f-%.2f; median TPS %.0f)", len(rs), slices.Min(rs), slices.Max(rs), medianFloat(raw[tc.mode]))
		if tc.target == 0 {
			fmt.Printf("%-46s %6.2f x untracked  info %s\n", tc.name, r, spread)
			continue
		}
		v := verdict{what: "pgbench with the " + tc.mode + " tracker"}
		v.want(r >= tc.target, "%.2f of untracked < %.2f", r, tc.target)
		fmt.Printf("%-46s %6.2f x untracked  >= %.2f: %s %s\n", tc.name, r, tc.target, b.judge(v), spread)
	}
	return nil
}

// trackedTPS sets up the tracker (none, cdc, cdc with a listener, trigger) on the pgbench
// tables, runs pgbench, and removes the tracker again. For cdc without a listener it also
// returns how long `mtree update` of pgbench_accounts then took (its drain decodes the run).
func (b *bench) trackedTPS(ctx context.Context, mode string) (float64, time.Duration, error) {
	if mode == "none" {
		tps, err := b.tps(ctx, b.pgbenchSeconds)
		return tps, 0, err
	}
	tracker := strings.TrimSuffix(mode, "+listen")
	if o, err := b.pgparity(ctx, "mtree", "init", "bench", "--tracker", tracker); err != nil || o.code != 0 {
		return 0, 0, fmt.Errorf("mtree init: %v %s", err, o.exitText())
	}
	for _, t := range []string{"public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers"} {
		if o, err := b.pgparity(ctx, "mtree", "build", "bench", t); err != nil || o.code != 0 {
			return 0, 0, fmt.Errorf("mtree build %s: %v %s", t, err, o.exitText())
		}
	}
	var listen *exec.Cmd
	if mode == "cdc+listen" {
		listen = exec.CommandContext(ctx, b.bin, "--service-file", b.svc, "mtree", "listen", "bench")
		if err := listen.Start(); err != nil {
			return 0, 0, err
		}
	}
	tps, err := b.tps(ctx, b.pgbenchSeconds)
	if listen != nil {
		_ = listen.Process.Signal(syscall.SIGINT)
		_ = listen.Wait()
	}
	if err != nil {
		return 0, 0, err
	}
	var drain time.Duration
	if mode == "cdc" {
		o, err := b.pgparity(ctx, "mtree", "update", "bench", "public.pgbench_accounts")
		if err != nil || o.code != 0 {
			return 0, 0, fmt.Errorf("mtree update: %v %s", err, o.exitText())
		}
		drain = o.took
	}
	if o, err := b.pgparity(ctx, "mtree", "teardown", "bench"); err != nil || o.code != 0 {
		return 0, 0, fmt.Errorf("mtree teardown: %v %s", err, o.exitText())
	}
	return tps, drain, nil
}

func medianFloat(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// tps runs pgbench tpcb-like on n1 for seconds and returns its TPS. Every run starts from
// the same state: right after a checkpoint (the full-page images written after it would
// otherwise fall into some runs and not others), with pgbench's own vacuum of its small tables
// and an emptied pgbench_history (pgbench without -n).
func (b *bench) tps(ctx context.Context, seconds int) (float64, error) {
	if err := b.exec(ctx, b.sb.Nodes[0].Name, "CHECKPOINT"); err != nil {
		return 0, err
	}
	out, err := b.runPgbench(ctx, b.sb.Nodes[0], "-c", "2", "-j", "2", "-T", strconv.Itoa(seconds))
	if err != nil {
		return 0, err
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps in the output of pgbench: %s", lastLine(string(out)))
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func (b *bench) runPgbench(ctx context.Context, n sandbox.Node, args ...string) ([]byte, error) {
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-U", sandbox.Superuser}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(b.sb.BinDir, "pgbench"), append(full, dbName)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+b.sb.Password)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pgbench %v on %s: %w: %s", args, n.Name, err, lastLine(out.String()))
	}
	return out.Bytes(), nil
}
