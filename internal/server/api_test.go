package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/report"
)

// TestMTLSRolesAndTableDiff: no certificate and a certificate of another CA get no TLS session;
// a viewer may not post a job (403); an operator's table-diff job returns the same summary as
// job.RunTableDiff called as the command line calls it, and its files download.
func TestMTLSRolesAndTableDiff(t *testing.T) {
	_, svc := diffTable(t)
	ts := startServer(t, svc, true, "")
	req := map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t", "options": map[string]any{"output": "html"}}

	// No client certificate: the handshake fails.
	if _, err := ts.client(t, "").Get(ts.url("/v1/jobs")); err == nil {
		t.Fatal("GET without a client certificate succeeded")
	}
	// A client certificate of an unknown CA: refused as well.
	other := newTestCA(t, "other-ca")
	crt, key := other.issue(t, "ops-bot", false)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(t, ts.ca, crt, key)}}
	if _, err := c.Get(ts.url("/v1/jobs")); err == nil {
		t.Fatal("GET with a certificate of an unknown CA succeeded")
	}
	var e errorBody
	must(t, ts.call(t, ts.client(t, "viewer-bot"), "POST", "/v1/jobs", req, &e) == 403 &&
		e.Error == "role viewer may not POST /v1/jobs (needs operator)", "viewer POST: %+v", e)
	must(t, ts.call(t, ts.client(t, "nobody"), "GET", "/v1/jobs", nil, &e) == 403 &&
		e.Error == `no role for this client certificate (CN "nobody")`, "no role: %+v", e)
	// An operator may not repair (admin).
	must(t, ts.call(t, ts.client(t, "ops-bot"), "POST", "/v1/jobs", map[string]any{"command": "table-repair", "diff_file": "x.json"}, &e) == 403 &&
		e.Error == "forbidden: role operator may not run table-repair (needs admin)", "operator repair: %+v", e)

	ops := ts.client(t, "ops-bot")
	var acc map[string]string
	must(t, ts.call(t, ops, "POST", "/v1/jobs", req, &acc) == 202 && acc["status"] == "queued" && acc["id"] != "", "operator POST: %v", acc)
	v := ts.wait(t, ts.client(t, "viewer-bot"), acc["id"])
	must(t, v.Status == StateDone && v.ExitCode != nil && *v.ExitCode == 1 && v.Command == "table-diff" && v.By == "ops-bot", "job: %+v", v)

	// The same comparison as the command line runs it.
	env, err := job.LoadEnv(ts.yamlPath, ts.svcFile)
	if err != nil {
		t.Fatal(err)
	}
	if env, err = env.With(job.Overrides{}); err != nil {
		t.Fatal(err)
	}
	env.Settings.OutputDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := job.RunTableDiff(ctx, env, job.TableDiff{Cluster: "c", Table: "public.t"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Table   string         `json:"table"`
		Summary report.Summary `json:"summary"`
	}
	b, _ := json.Marshal(v.Summary)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := cli.Diff.Summary
	got.Summary.DurationSeconds, want.DurationSeconds = 0, 0
	must(t, got.Table == "public.t" && reflect.DeepEqual(got.Summary, want), "API summary %+v\nCLI summary %+v", got.Summary, want)
	must(t, want.DifferingKeys == 2 && want.MissingOn["n2"] == 1, "CLI summary %+v", want)

	// Files: the diff file and the HTML report download; another name is 404.
	must(t, v.ReportURL == "/v1/jobs/"+v.ID+"/files/report" && v.Files["diff"] == "/v1/jobs/"+v.ID+"/files/diff", "urls: %+v", v)
	resp, err := ops.Get(ts.url(v.ReportURL))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	must(t, resp.StatusCode == 200 && strings.Contains(strings.ToLower(string(body[:n])), "<!doctype html>"), "report: %d %q", resp.StatusCode, body[:n])
	onDisk, _ := os.ReadFile(v.DiffFile)
	resp, err = ops.Get(ts.url(v.Files["diff"]))
	if err != nil {
		t.Fatal(err)
	}
	dl := make([]byte, len(onDisk)+1)
	n, _ = readFull(resp, dl)
	must(t, resp.StatusCode == 200 && n == len(onDisk) && string(dl[:n]) == string(onDisk), "diff download: %d, %d bytes of %d", resp.StatusCode, n, len(onDisk))
	must(t, ts.call(t, ops, "GET", "/v1/jobs/"+v.ID+"/files/..%2Fstate.db", nil, &e) == 404, "a file the job did not write")

	// Listing with filters.
	var list struct{ Jobs []JobView }
	must(t, ts.call(t, ops, "GET", "/v1/jobs?status=done&command=table-diff", nil, &list) == 200 && len(list.Jobs) == 1 && list.Jobs[0].ID == v.ID, "list: %+v", list)
	must(t, ts.call(t, ops, "GET", "/v1/jobs?status=queued", nil, &list) == 200 && len(list.Jobs) == 0, "queued: %+v", list)
	must(t, ts.call(t, ops, "GET", "/v1/jobs/999999", nil, &e) == 404, "missing job")
	must(t, ts.call(t, ops, "DELETE", "/v1/jobs/"+v.ID, nil, &e) == 409 && e.Error == "job "+v.ID+" already ended: done", "cancel done: %+v", e)
	var hist map[string]any
	must(t, ts.call(t, ts.client(t, "viewer-bot"), "GET", "/v1/history?limit=5", nil, &hist) == 200, "history")
}

// TestInputValidation: requests are checked as the command line checks its flags, before
// anything is queued; a --where that is not a plain expression fails the job with exit 2.
func TestInputValidation(t *testing.T) {
	_, svc := diffTable(t)
	ts := startServerWith(t, svc, false, "  metrics_listen: 127.0.0.1:0\n", "")
	c := ts.client(t, "")
	// The plain metrics listener serves /metrics and nothing else.
	resp, err := http.Get("http://" + ts.MetricsAddr() + "/metrics")
	must(t, err == nil && resp.StatusCode == 200, "metrics listener: %v", err)
	resp.Body.Close()
	resp, err = http.Get("http://" + ts.MetricsAddr() + "/v1/jobs")
	must(t, err == nil && resp.StatusCode == 404, "metrics listener serves /v1/jobs: %v %v", err, resp)
	resp.Body.Close()
	for _, tc := range []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{"command": "rm -rf"}, `unknown command "rm -rf" (use one of mtree table-diff, schema-diff, table-diff, table-repair, verify)`},
		{map[string]any{"command": "table-diff", "cluster": "c", "table": "t; drop"}, ""},
		{map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t", "options": map[string]any{"out": "/etc/passwd"}}, `options: unknown field "out"`},
		{map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t", "options": map[string]any{"output": "pdf"}}, `--output must be json or html, got "pdf"`},
		{map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t", "options": map[string]any{"block-size": 3}}, "block_size must be at least 10, got 3"},
		{map[string]any{"command": "table-diff", "cluster": "nope", "table": "public.t"}, ""},
		{map[string]any{"command": "table-repair", "diff_file": "../../etc/x.json"}, "diff_file ../../etc/x.json is not inside the server's output_dir"},
		{map[string]any{"command": "table-diff", "table": "public.t", "bogus": 1}, `request body: json: unknown field "bogus"`},
	} {
		var e errorBody
		code := ts.call(t, c, "POST", "/v1/jobs", tc.req, &e)
		if code != 400 || (tc.want != "" && e.Error != tc.want) || e.Error == "" {
			t.Errorf("%v: %d %q, want 400 %q", tc.req, code, e.Error, tc.want)
		}
	}
	var list struct{ Jobs []JobView }
	must(t, ts.call(t, c, "GET", "/v1/jobs", nil, &list) == 200 && len(list.Jobs) == 0, "nothing queued: %+v", list)

	var acc map[string]string
	ts.call(t, c, "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t",
		"options": map[string]any{"where": "id > 0; DROP TABLE public.t"}}, &acc)
	v := ts.wait(t, c, acc["id"])
	must(t, v.Status == StateFailed && *v.ExitCode == 2 && v.Error != "", "where job: %+v", v)
}

// TestCancel: DELETE of a running job (waiting for a table lock) cancels it on the instance
// running it; a queued job is cancelled at once.
func TestCancel(t *testing.T) {
	db, svc := diffTable(t)
	ts := startServer(t, svc, false, "")
	c := ts.client(t, "")
	conn := db.Connect(t, "n2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	time.Sleep(300 * time.Millisecond) // inside the comparison, waiting for the lock
	var v JobView
	must(t, ts.call(t, c, "DELETE", "/v1/jobs/"+acc["id"], nil, &v) == 202 && v.Status == "cancelling", "cancel: %+v", v)
	v = ts.wait(t, c, acc["id"])
	must(t, v.Status == StateCancelled && *v.ExitCode == 130, "cancelled job: %+v", v)
}

// TestSchemaDiffAndRepairJobs: a schema-diff job lists each differing table's diff file; an
// admin's table-repair job of a table-diff job's file makes the nodes equal.
func TestSchemaDiffAndRepairJobs(t *testing.T) {
	_, svc := diffTable(t)
	ts := startServer(t, svc, false, "")
	c := ts.client(t, "")
	run := func(req map[string]any) JobView {
		t.Helper()
		var acc map[string]string
		if code := ts.call(t, c, "POST", "/v1/jobs", req, &acc); code != 202 {
			t.Fatalf("POST %v: %d %v", req, code, acc)
		}
		return ts.wait(t, c, acc["id"])
	}
	sd := run(map[string]any{"command": "schema-diff", "cluster": "c", "schema": "public"})
	must(t, sd.Status == StateDone && *sd.ExitCode == 1 && sd.Files["diff:t"] == "/v1/jobs/"+sd.ID+"/files/diff:t" &&
		len(sd.Tables) == 1 && sd.Tables[0].Table == "public.t" && sd.Tables[0].DifferingKeys == 2, "schema-diff: %+v", sd)

	td := run(map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t"})
	rel, err := filepath.Rel(filepath.Join(ts.dir, "out"), td.DiffFile)
	must(t, err == nil && td.Status == StateDone, "table-diff: %+v %v", td, err)
	rp := run(map[string]any{"command": "table-repair", "diff_file": rel, "options": map[string]any{"source-of-truth": "n1"}})
	must(t, rp.Status == StateDone && *rp.ExitCode == 0 && rp.Files["report"] != "" && rp.Files["undo"] != "", "repair: %+v", rp)
	again := run(map[string]any{"command": "table-diff", "cluster": "c", "table": "public.t"})
	must(t, again.Status == StateDone && *again.ExitCode == 0, "after the repair: %+v", again)
}
