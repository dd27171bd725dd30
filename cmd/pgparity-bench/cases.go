package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// diffArgs returns the arguments of a table-diff of public.wide that writes the diff file out and
// prints its summary as JSON (for the differing keys), with -diff-args and then extra appended.
func (b *bench) diffArgs(out string, extra ...string) []string {
	args := []string{"table-diff", "bench", "public.wide", "--json", "--out", filepath.Join(b.dir, out)}
	return append(append(args, b.extra...), extra...)
}

const hashCaseHeader = "%-34s %9s %8s %8s %8s %10s %6s %8s  %s\n"

func (b *bench) printHashCaseHeader() {
	fmt.Printf("\n"+hashCaseHeader, fmt.Sprintf("case (median of %d)", b.repeat), "time", "/text", "/typed", "/exact", "peak RSS", "exit", "keys", "check")
}

// hashCaseRow prints one table-diff measured against the hash floors, judged by its exit code
// and differing keys.
func (b *bench) hashCaseRow(name string, o outcome, code, keys int) {
	v := verdict{what: name}
	v.wantRun(o, code, keys)
	f := b.floors
	fmt.Printf("%-34s %9s %8.2f %8.2f %8.2f %7d MB %6s %8s  %s\n", name, fmtDur(o.took),
		ratio(o.took, f["text"]), ratio(o.took, f["typed"]), ratio(o.took, f["exact"]), o.rssMB(), o.exitText(), keysText(o.keys()), b.judge(v))
}

// identicalCase diffs identical tables (and, with -baseline-bin, compares with the baseline).
func (b *bench) identicalCase(ctx context.Context) error {
	b.printHashCaseHeader()
	if b.base != "" {
		if err := b.baseline(ctx); err != nil {
			return err
		}
	}
	o, err := b.measure(ctx, b.repeat, nil, b.diffArgs("bench_identical_diff.json")...)
	_ = os.Remove(filepath.Join(b.dir, "bench_identical_diff.json"))
	if err != nil {
		return err
	}
	b.hashCaseRow("identical tables", o, 0, 0)
	return nil
}

// scatteredCase changes 110 rows on n2 and 110 on n3, spread over the whole key range, diffs, and
// restores both nodes.
func (b *bench) scatteredCase(ctx context.Context) error {
	if len(b.only) == 0 || b.only[0] != "identical" {
		b.printHashCaseHeader()
	}
	for node, off := range map[string]int{"n2": 1, "n3": 2} {
		sql := fmt.Sprintf("UPDATE public.wide SET note = coalesce(note, '') || ' drift' WHERE id IN "+
			"(SELECT (g * %d + %d) %% %d + 1 FROM generate_series(1, 110) g)", b.rows/110, off*7, b.rows)
		if err := b.exec(ctx, node, sql); err != nil {
			return err
		}
	}
	o, err := b.measure(ctx, b.repeat, nil, b.diffArgs("bench_scattered_diff.json")...)
	_ = os.Remove(filepath.Join(b.dir, "bench_scattered_diff.json"))
	if err != nil {
		return err
	}
	b.hashCaseRow("220 scattered differing rows", o, 1, 220)
	return b.restore(ctx, "n2", "n3")
}

// baseline diffs identical tables with the baseline binary and this one, interleaved (so that
// both see the same machine), and prints the median of each and their ratio.
func (b *bench) baseline(ctx context.Context) error {
	var cur, old []time.Duration
	bin := b.bin
	defer func() { b.bin = bin }()
	for i := 0; i < b.repeat; i++ {
		for _, which := range []string{bin, b.base} {
			b.bin = which
			// --quiet, not --json: an earlier binary may not print JSON summaries.
			args := append([]string{"table-diff", "bench", "public.wide", "--quiet", "--out", filepath.Join(b.dir, "bench_baseline_diff.json")}, b.extra...)
			o, err := b.pgparity(ctx, args...)
			if err != nil {
				return err
			}
			if o.code != 0 {
				return fmt.Errorf("baseline: %s exited %s on identical tables", which, o.exitText())
			}
			if which == bin {
				cur = append(cur, o.took)
			} else {
				old = append(old, o.took)
			}
		}
	}
	_ = os.Remove(filepath.Join(b.dir, "bench_baseline_diff.json"))
	mc, mo := medianOf(cur), medianOf(old)
	floor := b.floors["text"]
	fmt.Printf("%-34s %9s %8.2f\n", "identical, baseline binary", fmtDur(mo), ratio(mo, floor))
	fmt.Printf("%-34s %9s %8.2f   (this / baseline = %.3f)\n", "identical, this binary", fmtDur(mc), ratio(mc, floor), ratio(mc, mo))
	return nil
}
