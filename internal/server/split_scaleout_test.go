package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestSplitScaleOut: three serve instances on one PostgreSQL control plane; a table-diff job on a
// 1,000,000-row table (100 ranges of 10,000 rows, 10 per batch) is split into 10 batch jobs that
// the instances run at once. An instance running a batch is SIGKILLed: its batch is rescued and
// hashed again by another instance, and the job ends done with the command line's summary and
// differing keys. Set PGPARITY_TEST_SPLIT_ROWS to use another table size.
func TestSplitScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("split scale-out test skipped in -short mode")
	}
	rows := 1000000
	if n := os.Getenv("PGPARITY_TEST_SPLIT_ROWS"); n != "" {
		fmt.Sscan(n, &rows) //nolint:errcheck // a test knob
	}
	start := time.Now()
	db, svc := splitTable(t, rows)
	db.Exec(t, "ALTER DATABASE "+db.Name+" SET client_connection_check_interval = '200ms'")
	t.Logf("%d rows on 2 nodes made in %s", rows, time.Since(start).Round(time.Millisecond))
	ctl := sandbox.NewDB(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "pgparity.yaml", []byte(fmt.Sprintf(`output_dir: %s
block_size: %d
concurrency: 2
max_connections: 2
history_dsn: %q
server:
  listen: 127.0.0.1:0
  insecure: true
  job_rescue_after: 3s
  workers: 2
  max_jobs_per_node: 3
  drain_timeout: 10s
  split_ranges: 8
  split_batch: 10
`, out, max(rows/100, 100), ctl.ConnString("n1"))))
	var kids []*child
	for i := 0; i < 3; i++ {
		kids = append(kids, startChild(t, cfg, svc, fmt.Sprintf("i%d", i)))
	}
	c := &http.Client{Timeout: 30 * time.Second}
	call := func(k *child, method, path string, body, v any) int {
		return (&testServer{}).callAt(t, c, "http://"+k.addr, method, path, body, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cp, err := pgx.Connect(ctx, ctl.ConnString("n1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)

	var acc map[string]string
	start = time.Now()
	must(t, call(kids[0], "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.big"}, &acc) == 202, "POST: %v", acc)
	// Kill the instance running the first batch seen running.
	var batch int64
	var victim string
	for ctx.Err() == nil {
		err := cp.QueryRow(ctx, `SELECT id, attempted_by[array_upper(attempted_by, 1)] FROM pgparity_queue.river_job
 WHERE kind = 'pgparity-batch' AND state = 'running' ORDER BY id LIMIT 1`).Scan(&batch, &victim)
		if err == nil {
			break
		}
		if err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	killed := -1
	for i := range kids {
		if fmt.Sprintf("i%d", i) == victim {
			killed = i
		}
	}
	must(t, killed >= 0, "batch %d running on an unknown instance %q", batch, victim)
	time.Sleep(300 * time.Millisecond) // mid-batch
	if err := kids[killed].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	kids[killed].cmd.Wait() //nolint:errcheck // killed
	t.Logf("killed instance %s running batch job %d, %s after the job was posted", victim, batch, time.Since(start).Round(time.Millisecond))
	alive := kids[(killed+1)%3]

	var v JobView
	for ctx.Err() == nil {
		call(alive, "GET", "/v1/jobs/"+acc["id"], nil, &v)
		if v.FinishedAt != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("split job ended %s after it was posted", time.Since(start).Round(time.Millisecond))
	must(t, v.Status == StateDone && v.ExitCode != nil && *v.ExitCode == 1, "job: %+v", v)

	// The killed batch was hashed again by another instance; every batch completed once.
	var n, completed, instances int
	var attempt int
	var by string
	if err := cp.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'completed'),
 count(DISTINCT attempted_by[array_upper(attempted_by, 1)]) FROM pgparity_queue.river_job WHERE kind = 'pgparity-batch'`).Scan(&n, &completed, &instances); err != nil {
		t.Fatal(err)
	}
	if err := cp.QueryRow(ctx, `SELECT attempt, attempted_by[array_upper(attempted_by, 1)] FROM pgparity_queue.river_job WHERE id = $1`, batch).Scan(&attempt, &by); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d batch jobs, %d completed, finished by %d instances; killed batch: attempt %d by %s", n, completed, instances, attempt, by)
	must(t, n == 10 && completed == 10, "%d batch jobs, %d completed", n, completed)
	must(t, attempt >= 2 && by != victim, "killed batch %d finished in attempt %d by %s", batch, attempt, by)
	files, _ := filepath.Glob(filepath.Join(out, "jobs", v.ID, "split", "batch-*.json"))
	must(t, len(files) == 10, "%d batch files", len(files))

	want := checkSameAsCLI(t, cfg, svc, v)
	keys, m1, m2 := wantSplitDiffs(rows)
	must(t, want.DifferingKeys == keys && want.MissingOn["n1"] == m1 && want.MissingOn["n2"] == m2, "CLI summary %+v", want)
}
