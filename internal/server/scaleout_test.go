package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// child is a `serve` subprocess of the scale-out test.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, cfg, svc, instance string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGPARITY_TEST_SERVE="+cfg, "PGPARITY_TEST_SERVICE_FILE="+svc, "PGPARITY_TEST_INSTANCE="+instance)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone
			cmd.Wait()                          //nolint:errcheck // ends either way
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("instance %s did not start: %q %v", instance, line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c
}

// TestScaleOut: three serve instances share a PostgreSQL control plane. 30 table-diff jobs are
// posted round robin while the table is locked on n2 (so jobs hang mid-run); one instance running
// a job is SIGKILLed; the lock goes. Every job ends done exactly once (one completed diff file
// per job, the killed one taken over by another instance after job_rescue_after), and no node
// ever served more than max_jobs_per_node jobs' sessions at once (sampled pg_stat_activity).
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scale-out test skipped in -short mode")
	}
	db, svc := diffTable(t)
	// A killed instance's queries end promptly instead of waiting for the lock.
	db.Exec(t, "ALTER DATABASE "+db.Name+" SET client_connection_check_interval = '200ms'")
	ctl := sandbox.NewDB(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	const perNode, conns = 2, 2
	cfg := writeFile(t, dir, "pgparity.yaml", []byte(fmt.Sprintf(`output_dir: %s
concurrency: %d
max_connections: %d
history_dsn: %q
server:
  listen: 127.0.0.1:0
  insecure: true
  job_rescue_after: 3s
  workers: 3
  max_jobs_per_node: %d
  drain_timeout: 10s
`, out, conns, conns, ctl.ConnString("n1"), perNode)))
	var kids []*child
	for i := 0; i < 3; i++ {
		kids = append(kids, startChild(t, cfg, svc, fmt.Sprintf("i%d", i)))
	}
	c := &http.Client{Timeout: 30 * time.Second}
	call := func(k *child, method, path string, body, v any) int {
		return (&testServer{}).callAt(t, c, "http://"+k.addr, method, path, body, v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lock := db.Connect(t, "n2")
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	// Sample the sessions pgparity holds on each node.
	var maxSessions atomic.Int64
	var wg sync.WaitGroup
	sctx, stopSampling := context.WithCancel(ctx)
	for _, node := range []string{"n1", "n2"} {
		conn := db.Connect(t, node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sctx.Err() == nil {
				var n int64
				if err := conn.QueryRow(sctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgparity'").Scan(&n); err == nil {
					for cur := maxSessions.Load(); n > cur && !maxSessions.CompareAndSwap(cur, n); cur = maxSessions.Load() {
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}

	var ids []string
	for i := 0; i < 30; i++ {
		var acc map[string]string
		if code := call(kids[i%3], "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t"}, &acc); code != 202 {
			t.Fatalf("POST: %d %v", code, acc)
		}
		ids = append(ids, acc["id"])
	}
	// Wait until jobs run (hanging on the lock), then kill an instance running one.
	var victim JobView
	for victim.ID == "" && ctx.Err() == nil {
		var list struct{ Jobs []JobView }
		call(kids[0], "GET", "/v1/jobs?status=running", nil, &list)
		if len(list.Jobs) == perNode {
			victim = list.Jobs[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	killed := -1
	for i := range kids {
		if "i"+fmt.Sprint(i) == victim.Instance {
			killed = i
		}
	}
	must(t, killed >= 0, "running job on an unknown instance: %+v", victim)
	if err := kids[killed].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	kids[killed].cmd.Wait() //nolint:errcheck // killed
	alive := kids[(killed+1)%3]
	time.Sleep(time.Second)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var views []JobView
	for ctx.Err() == nil {
		views = views[:0]
		done := 0
		for _, id := range ids {
			var v JobView
			call(alive, "GET", "/v1/jobs/"+id, nil, &v)
			views = append(views, v)
			if v.FinishedAt != nil {
				done++
			}
		}
		if done == len(ids) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopSampling()
	wg.Wait()
	t.Logf("all jobs ended %s after the kill; at most %d pgparity sessions on a node", time.Since(start).Round(time.Second), maxSessions.Load())
	for _, v := range views {
		if v.Status != StateDone || v.ExitCode == nil || *v.ExitCode != 1 {
			t.Errorf("job %s: %s exit %v %s", v.ID, v.Status, v.ExitCode, v.Error)
		}
		files, _ := filepath.Glob(filepath.Join(out, "jobs", v.ID, "*.json"))
		if len(files) != 1 {
			t.Errorf("job %s: %d completed diff files, want 1: %v", v.ID, len(files), files)
		}
		if v.ID == victim.ID && (v.Instance == victim.Instance || v.Attempt < 2) {
			t.Errorf("killed job %s: finished by %s in attempt %d", v.ID, v.Instance, v.Attempt)
		}
	}
	if m := maxSessions.Load(); m > perNode*conns || m == 0 {
		t.Errorf("at most %d sessions on a node, limit %d jobs x %d connections", m, perNode, conns)
	}
	// The control plane holds one River row per job, all completed once.
	cp, err := pgx.Connect(ctx, ctl.ConnString("n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)
	// (River marks a row completed shortly after its job returned: the result record came first.)
	var rows, completed int
	var states string
	for wait := time.Now().Add(30 * time.Second); time.Now().Before(wait); time.Sleep(200 * time.Millisecond) {
		if err := cp.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'completed'),
 string_agg(id || ':' || state || ':' || attempt, ' ' ORDER BY id) FROM pgparity_queue.river_job`).Scan(&rows, &completed, &states); err != nil {
			t.Fatal(err)
		}
		if completed == 30 {
			break
		}
	}
	must(t, rows == 30 && completed == 30, "river_job: %d rows, %d completed: %s", rows, completed, states)
}

// TestScheduleOncePerTick: two instances on one PostgreSQL control plane with the same schedule
// enqueue each tick once (River's unique insert by schedule and tick).
func TestScheduleOncePerTick(t *testing.T) {
	_, svc := diffTable(t)
	ctl := sandbox.NewDB(t)
	yaml := fmt.Sprintf("history_dsn: %q\nschedules:\n  - {name: tick, every: 1s, jitter: 300ms, command: table-diff, cluster: c, table: public.t}\n", ctl.ConnString("n1"))
	a := startServer(t, svc, false, yaml)
	b := startServer(t, svc, false, yaml)
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Until two ticks are in (a loaded machine runs each table-diff for seconds, and ticks while
	// a run is queued or running are skipped), at most a minute.
	var ticks map[int64]string
	for {
		time.Sleep(time.Second)
		jobs, err := a.ListJobs(ctx, "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		fromB, _ := b.ListJobs(ctx, "", "", 1000)
		// A tick may be enqueued between the two reads: compare only when a third read of a
		// finds the queue as the first did (jobs are never removed meanwhile).
		if again, err := a.ListJobs(ctx, "", "", 1000); err != nil {
			t.Fatal(err)
		} else if len(again) != len(jobs) && time.Since(started) < time.Minute {
			continue
		}
		must(t, len(jobs) == len(fromB), "the instances see different queues: %d and %d jobs", len(jobs), len(fromB))
		ticks = map[int64]string{}
		for _, j := range jobs {
			row, err := a.queue().JobGet(ctx, mustID(t, j.ID))
			if err != nil {
				t.Fatal(err)
			}
			var args jobArgs
			if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
				t.Fatal(err)
			}
			if prev, dup := ticks[args.Tick]; dup {
				t.Fatalf("tick %d enqueued twice: jobs %s and %s", args.Tick, prev, j.ID)
			}
			ticks[args.Tick] = j.ID
		}
		if len(ticks) >= 2 || time.Since(started) > time.Minute {
			break
		}
	}
	// One run at a time: at most as many jobs as seconds elapsed, and at least two.
	elapsed := int(time.Since(started).Seconds()) + 1
	must(t, len(ticks) >= 2 && len(ticks) <= elapsed, "%d ticks enqueued in %d s", len(ticks), elapsed)
}

func mustID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
