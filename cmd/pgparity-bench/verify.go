package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// verifyTarget: verify of a pair / plain table-diff of the same pair, measured in the same run.
const verifyTarget = 1.5

// verifyCase measures `pgparity verify` of public.pgbench_accounts (pgbench scale 10: 1,000,000
// rows) replicated from n1 to n2 by a real subscription while pgbench writes on n1, against a
// plain `table-diff --nodes n1,n2` of the same table, interleaved (-heavy-repeat runs each).
// verify must exit 0 (table-diff usually reports replication lag as differences).
func (b *bench) verifyCase(ctx context.Context) error {
	n1, n2 := b.sb.Nodes[0], b.sb.Nodes[1]
	pgbench := filepath.Join(b.sb.BinDir, "pgbench")
	tables := "public.pgbench_accounts, public.pgbench_branches, public.pgbench_tellers, public.pgbench_history"
	sub := "bench_verify_sub"
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = b.exec(cctx, "n2", "DROP SUBSCRIPTION IF EXISTS "+sub)
		_ = b.exec(cctx, "n1", "DROP PUBLICATION IF EXISTS bench_verify_pub")
		for _, n := range []string{"n1", "n2"} {
			_ = b.exec(cctx, n, "DROP TABLE IF EXISTS public.pgbench_accounts, public.pgbench_branches, public.pgbench_tellers, public.pgbench_history")
		}
	}
	cleanup()
	defer cleanup()
	fmt.Fprintln(os.Stderr, "verify: pgbench -i -s 10 on n1, subscription on n2...")
	for _, step := range []struct{ node, init string }{{"n1", "dtgvp"}, {"n2", "dtp"}} {
		node := n1
		if step.node == "n2" {
			node = n2
		}
		cmd := exec.CommandContext(ctx, pgbench, "-i", "-s", "10", "-q", "-I", step.init, b.sb.ConnString(node, dbName))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pgbench -i on %s: %w: %s", step.node, err, lastLine(string(out)))
		}
	}
	if err := b.exec(ctx, "n1", "CREATE PUBLICATION bench_verify_pub FOR TABLE "+tables); err != nil {
		return err
	}
	if err := b.exec(ctx, "n2", fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d user=%s password=%s dbname=%s' PUBLICATION bench_verify_pub",
		sub, n1.Port, sandbox.Superuser, b.sb.Password, dbName)); err != nil {
		return err
	}
	if err := b.waitSynced(ctx, sub); err != nil {
		return err
	}
	wctx, stopWriter := context.WithCancel(ctx)
	writer := exec.CommandContext(wctx, pgbench, "-n", "-c", "2", "-T", "3600", b.sb.ConnString(n1, dbName))
	if err := writer.Start(); err != nil {
		stopWriter()
		return fmt.Errorf("start pgbench: %w", err)
	}
	defer func() {
		stopWriter()
		_ = writer.Wait()
	}()
	time.Sleep(2 * time.Second) // let the writer reach its pace
	var ver, diff []outcome
	for i := 0; i < b.heavyRepeat; i++ {
		o, err := b.pgparity(ctx, "verify", "bench", "public.pgbench_accounts", "--json", "--out-dir", b.dir)
		if err != nil {
			return err
		}
		ver = append(ver, o)
		o, err = b.pgparity(ctx, append([]string{"table-diff", "bench", "--nodes", "n1,n2", "public.pgbench_accounts", "--json", "--out", filepath.Join(b.dir, "bench_verify_diff.json")}, b.extra...)...)
		if err != nil {
			return err
		}
		diff = append(diff, o)
	}
	_ = os.Remove(filepath.Join(b.dir, "bench_verify_diff.json"))
	v, d := summarize(ver), summarize(diff)
	var res struct {
		Status string `json:"status"`
		Pairs  []struct {
			Tables []struct {
				Transient int `json:"transient"`
			} `json:"tables"`
		} `json:"pairs"`
	}
	_ = json.Unmarshal(v.stdout, &res)
	transient := 0
	for _, p := range res.Pairs {
		for _, t := range p.Tables {
			transient += t.Transient
		}
	}
	fmt.Printf("\n%-34s %9s %8s %10s %6s  %s\n", fmt.Sprintf("verify case (median of %d)", b.heavyRepeat), "time", "/diff", "peak RSS", "exit", "check")
	fmt.Printf("%-34s %9s %8s %7d MB %6s  %d keys differing (replication lag)\n", "table-diff --nodes n1,n2", fmtDur(d.took), "", d.rssMB(), d.exitText(), d.keys())
	vv := verdict{what: "verify"}
	vv.want(v.code == 0, "exit %s, want 0", v.exitText())
	vv.want(ratio(v.took, d.took) <= verifyTarget, "verify / table-diff %.2f > %.1f", ratio(v.took, d.took), verifyTarget)
	fmt.Printf("%-34s %9s %8.2f %7d MB %6s  %s (status %s, %d keys in flight)\n", "verify, pgbench writing on n1", fmtDur(v.took), ratio(v.took, d.took), v.rssMB(), v.exitText(),
		b.judge(vv), res.Status, transient)
	return nil
}

// waitSynced waits until every table of the subscription on n2 is synchronised (state r).
func (b *bench) waitSynced(ctx context.Context, sub string) error {
	conn, err := b.connect(ctx, "n2")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for start := time.Now(); ; {
		var ready bool
		err := conn.QueryRow(ctx, `SELECT count(*) > 0 AND bool_and(r.srsubstate = 'r') FROM pg_catalog.pg_subscription_rel r
			JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1`, sub).Scan(&ready)
		if err != nil {
			return fmt.Errorf("wait for the initial sync: %w", err)
		}
		if ready {
			fmt.Fprintf(os.Stderr, "verify: initial sync took %s\n", time.Since(start).Round(time.Second))
			return nil
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("initial sync of %s not done after 10 minutes", sub)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
