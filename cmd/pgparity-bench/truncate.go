package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// truncateCase empties n3, diffs every node (against the copy-out floor), repairs n3 from n1 with
// that diff file (against the copy-in floor), checks that every node then holds identical rows,
// and restores n3.
func (b *bench) truncateCase(ctx context.Context) error {
	b.caseHeader(fmt.Sprintf("truncate: n3 truncated (%d keys missing on n3), table-repair --source-of-truth n1", b.rows))
	truncate := func() error { return b.exec(ctx, "n3", "TRUNCATE public.wide") }
	if err := truncate(); err != nil {
		return err
	}
	diffFile := filepath.Join(b.dir, "bench_truncate_diff.json")
	defer os.Remove(diffFile)
	d, err := b.measure(ctx, b.heavyRepeat, nil, b.diffArgs(filepath.Base(diffFile), "--max-diff-rows", "0")...)
	if err != nil {
		return err
	}
	r := ratio(d.took, b.floors["copy-out"])
	v := verdict{what: "truncate table-diff"}
	v.wantRun(d, 1, b.rows)
	v.want(r <= copyOutTarget, "%.2f x > %.0f x", r, copyOutTarget)
	v.wantRSS(d)
	b.row("table-diff --max-diff-rows 0", d, fmt.Sprintf("%.2f x copy-out", r), fmt.Sprintf("<= %.0f x, <= %d MB", copyOutTarget, rssTargetMB), v)
	if d.code != 1 {
		b.failed = append(b.failed, "truncate table-repair: not run, table-diff failed")
		fmt.Println("table-repair: not run (table-diff failed)")
		return b.restore(ctx, "n3")
	}

	rep, apply, applyErr, err := b.repairRuns(ctx, b.heavyRepeat, truncate, diffFile, "truncate")
	if err != nil {
		return err
	}
	copyIn := b.floors["copy-in"]
	r = ratio(rep.took, copyIn)
	v = verdict{what: "truncate table-repair"}
	v.wantRun(rep, 0, -1)
	v.want(r <= copyInTarget, "%.2f x > %.0f x", r, copyInTarget)
	v.wantRSS(rep)
	b.row("table-repair --diff-file F --source-of-truth n1", rep, fmt.Sprintf("%.2f x copy-in", r), fmt.Sprintf("<= %.0f x, <= %d MB", copyInTarget, rssTargetMB), v)
	b.applyRow(apply, applyErr, copyIn, "copy-in")

	verifyFile := filepath.Join(b.dir, "bench_truncate_verify.json")
	defer os.Remove(verifyFile)
	o, err := b.pgparity(ctx, b.diffArgs(filepath.Base(verifyFile), "--max-diff-rows", "0")...)
	if err != nil {
		return err
	}
	v = verdict{what: "truncate: nodes identical after the repair"}
	v.wantRun(o, 0, 0)
	b.row("table-diff after the repair, every node", o, "", "identical rows (exit 0)", v)
	return b.restore(ctx, "n3")
}

// rssCase measures table-diff's peak RSS with 1%, 10% and all of n3's keys missing, to show that
// it does not grow with the number of differing keys.
func (b *bench) rssCase(ctx context.Context) error {
	b.caseHeader("rss: table-diff --max-diff-rows 0 with keys missing on n3, all nodes")
	steps := []struct {
		name, sql string
		keys      int
	}{
		{"id % 100 = 0 deleted", "DELETE FROM public.wide WHERE id % 100 = 0", b.rows / 100},
		{"id % 10 = 0 deleted", "DELETE FROM public.wide WHERE id % 10 = 0", b.rows / 10},
		{"truncated", "TRUNCATE public.wide", b.rows},
	}
	diffFile := filepath.Join(b.dir, "bench_rss_diff.json")
	defer os.Remove(diffFile)
	var rss []int64
	for _, s := range steps {
		if err := b.exec(ctx, "n3", s.sql); err != nil {
			return err
		}
		o, err := b.measure(ctx, b.heavyRepeat, nil, b.diffArgs(filepath.Base(diffFile), "--max-diff-rows", "0")...)
		if err != nil {
			return err
		}
		v := verdict{what: fmt.Sprintf("rss with %d keys", s.keys)}
		v.wantRun(o, 1, s.keys)
		v.wantRSS(o)
		b.row(fmt.Sprintf("%d keys differ (n3: %s)", s.keys, s.name), o, "", fmt.Sprintf("<= %d MB", rssTargetMB), v)
		rss = append(rss, o.rssMB())
		if err := b.restore(ctx, "n3"); err != nil {
			return err
		}
	}
	last := len(steps) - 1
	fmt.Printf("peak RSS with %d keys: %d MB, with %d keys: %d MB (%+d MB for %dx the keys)\n",
		steps[0].keys, rss[0], steps[last].keys, rss[last], rss[last]-rss[0], steps[last].keys/max(steps[0].keys, 1))
	return nil
}
