package server

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestScheduleRunsAndMetrics: a schedule every 2 s runs table-diff; the metrics show the
// table's differing keys and last check; while a run is stuck (the table locked on a node), no
// second run of the schedule starts; Reload changes roles and schedules without touching the
// running job.
func TestScheduleRunsAndMetrics(t *testing.T) {
	db, svc := diffTable(t)
	ts := startServer(t, svc, true, "schedules:\n  - {name: t-every-2s, every: 2s, command: table-diff, cluster: c, table: public.t}\n")
	viewer := ts.client(t, "viewer-bot")

	first := waitJobs(t, ts, "t-every-2s", StateDone, 1)[0]
	must(t, first.Schedule == "t-every-2s" && *first.ExitCode == 1 && first.By == "", "scheduled job: %+v", first)
	// verify fills these (registered now, series appear when set).
	ts.metrics.VerifyLag.WithLabelValues("c", "n1", "n2").Set(42)
	ts.metrics.VerifyCoverage.WithLabelValues("c", "n1", "n2").Set(1)
	resp, err := viewer.Get(ts.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := string(b)
	for _, want := range []string{
		`pgparity_table_differing_keys{cluster="c",table="public.t"} 2`,
		`pgparity_table_last_check_timestamp_seconds{cluster="c",command="table-diff",table="public.t"} `,
		`pgparity_runs_total{command="table-diff",status="done"} `,
		`pgparity_run_duration_seconds_count{command="table-diff"} `,
		`pgparity_verify_lag_bytes{cluster="c",publisher="n1",subscriber="n2"} 42`,
		`pgparity_verify_coverage_ratio{cluster="c",publisher="n1",subscriber="n2"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Lock the table on n1: the next run waits for the lock; no other run starts meanwhile.
	conn := db.Connect(t, "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	stuck := waitJobs(t, ts, "t-every-2s", StateRunning, 1)[0]
	time.Sleep(5 * time.Second) // two more ticks
	running, _ := ts.ListJobs(ctx, StateRunning, "", 100)
	queued, _ := ts.ListJobs(ctx, StateQueued, "", 100)
	must(t, len(running) == 1 && running[0].ID == stuck.ID && len(queued) == 0, "while stuck: running %+v queued %+v", running, queued)

	// Reload: viewer-bot becomes an operator, the schedule goes; the stuck job keeps running.
	text, _ := os.ReadFile(ts.yamlPath)
	newText := strings.Replace(string(text), "viewer-bot: viewer", "viewer-bot: operator", 1)
	newText = newText[:strings.Index(newText, "schedules:")]
	if err := os.WriteFile(ts.yamlPath, []byte(newText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	var acc map[string]string
	must(t, ts.call(t, viewer, "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t"}, &acc) == 202, "after reload: %v", acc)
	// A broken file changes nothing.
	if err := os.WriteFile(ts.yamlPath, []byte(newText+"bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err == nil || !strings.Contains(err.Error(), "field bogus not found") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	must(t, ts.config().Roles["viewer-bot"] == "operator", "roles after a failed reload: %v", ts.config().Roles)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	v := ts.wait(t, viewer, stuck.ID)
	must(t, v.Status == StateDone && *v.ExitCode == 1, "stuck job after the lock: %+v", v)
	ts.wait(t, viewer, acc["id"])
	time.Sleep(3 * time.Second)
	all, _ := ts.ListJobs(ctx, "", "", 100)
	n := 0
	for _, j := range all {
		if j.Schedule != "" && j.CreatedAt.After(*v.FinishedAt) {
			n++
		}
	}
	must(t, n == 0, "the removed schedule ran after the reload: %d jobs", n)
}

// waitJobs waits until the schedule has n jobs in the given state, newest first.
func waitJobs(t *testing.T, ts *testServer, schedule, state string, n int) []JobView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		jobs, err := ts.ListJobs(ctx, state, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []JobView
		for _, j := range jobs {
			if j.Schedule == schedule {
				out = append(out, j)
			}
		}
		if len(out) >= n {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("schedule %s: not %d job(s) %s", schedule, n, state)
	return nil
}

// TestDrain: Shutdown with a job still running past drain_timeout cancels it and puts it back in
// the queue (a read-only job restarts); the next server on the same state file runs it to done.
func TestDrain(t *testing.T) {
	db, svc := diffTable(t)
	ts := startServer(t, svc, false, "")
	ts.cfg.DrainTimeout.Duration = time.Second
	c := ts.client(t, "")
	conn := db.Connect(t, "n2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // test cleanup
	if _, err := tx.Exec(ctx, "LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var acc map[string]string
	ts.call(t, c, "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t"}, &acc)
	for {
		var v JobView
		ts.call(t, c, "GET", "/v1/jobs/"+acc["id"], nil, &v)
		if v.Status == StateRunning {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	must(t, took >= time.Second && took < 20*time.Second, "drain took %s", took)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The same state file, a new server: the job is queued again and runs.
	env := ts.currentEnv()
	s2, err := New(ctx, Options{Env: env, StatePath: filepath.Join(ts.dir, "state.db"), Logger: ts.log, Instance: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(ctx) //nolint:errcheck // test cleanup
	ts2 := &testServer{Server: s2}
	v := ts2.wait(t, c, acc["id"])
	must(t, v.Status == StateDone && *v.ExitCode == 1 && v.Instance == "second", "after restart: %+v", v)

	// A restarted server reports the last verdicts at once (seeded from the queue).
	if err := s2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s3, err := New(ctx, Options{Env: env, StatePath: filepath.Join(ts.dir, "state.db"), Logger: ts.log, Instance: "third"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s3.Shutdown(ctx) //nolint:errcheck // test cleanup
	keys := testutil.ToFloat64(s3.metrics.differingKeys.WithLabelValues("c", "public.t"))
	last := testutil.ToFloat64(s3.metrics.lastCheck.WithLabelValues("c", "public.t", "table-diff"))
	must(t, keys == 2 && last == float64(v.FinishedAt.UnixNano())/1e9, "seeded gauges: %v keys, last check %v (job finished %v)", keys, last, v.FinishedAt)
}
