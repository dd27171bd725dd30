package server

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestVerifyJob: a verify job through the API confirms the key changed on the subscriber (exit
// 1, done), fills the lag and coverage metrics of the pair, and with the subscription disabled
// ends done with exit 4 (inconclusive), claiming nothing.
func TestVerifyJob(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.acc (id int PRIMARY KEY, note text)`)
	db.Exec(t, `INSERT INTO public.acc SELECT g, 'row ' || g FROM generate_series(1, 300) g; CREATE PUBLICATION p FOR TABLE public.acc`, "n1")
	sub := db.Subscribe(t, "n1", "n2", "p", "")
	db.Exec(t, `SET session_replication_role = replica; UPDATE public.acc SET note = 'drift' WHERE id = 42`, "n2")

	ts := startServer(t, db.ServiceFile(t, "c"), false, "")
	c := ts.client(t, "")
	run := func(req map[string]any) JobView { return ts.runJob(t, c, req) }
	v := run(map[string]any{"command": "verify", "cluster": "c", "table": "public.acc", "options": map[string]any{"max-wait": "20s"}})
	must(t, v.Status == StateDone && *v.ExitCode == 1 && len(v.Tables) == 1 && v.Tables[0].Table == "public.acc" &&
		v.Tables[0].Status == "differ" && v.Tables[0].DifferingKeys == 1 && v.DiffFile != "", "verify job: %+v", v)
	resp, err := c.Get(ts.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pgparity_verify_coverage_ratio{cluster="c",publisher="n1",subscriber="n2"} 1`,
		`pgparity_verify_lag_bytes{cluster="c",publisher="n1",subscriber="n2"} `,
		`pgparity_table_differing_keys{cluster="c",table="public.acc"} 1`,
		`pgparity_runs_total{command="verify",status="done"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	v = run(map[string]any{"command": "verify", "cluster": "c", "options": map[string]any{"max-wait": "5s"}})
	must(t, v.Status == StateDone && *v.ExitCode == 4 && len(v.Tables) == 1 && v.Tables[0].Status == "inconclusive" &&
		v.Tables[0].DifferingKeys == 0, "verify job, subscription disabled: %+v", v)

	var bad map[string]any
	code := ts.call(t, c, "POST", "/v1/jobs", map[string]any{"command": "verify", "cluster": "c", "options": map[string]any{"min-coverage": 150}}, &bad)
	must(t, code == 400, "verify with min-coverage 150: %d %v", code, bad)
}

// TestMtreeDiffJob: an mtree table-diff job reports what the command reports (exit 2 before
// the tree is built, the differing keys after).
func TestMtreeDiffJob(t *testing.T) {
	db, svc := diffTable(t)
	ts := startServer(t, svc, false, "")
	c := ts.client(t, "")
	run := func(req map[string]any) JobView { return ts.runJob(t, c, req) }
	req := map[string]any{"command": "mtree table-diff", "cluster": "c", "table": "public.t"}
	v := run(req)
	must(t, v.Status == StateFailed && *v.ExitCode == 2, "mtree table-diff before build: %+v", v)
	env, err := job.LoadEnv("", svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := job.RunMtreeInit(ctx, env, job.Mtree{Cluster: "c", Tracker: "trigger"}); err != nil {
		t.Fatal(err)
	}
	if _, err := job.RunMtreeBuild(ctx, env, job.Mtree{Cluster: "c", Table: "public.t", BlockSize: 100}); err != nil {
		t.Fatal(err)
	}
	db.Exec(t, "UPDATE public.t SET v = 'later' WHERE id = 400", "n2")
	v = run(req)
	must(t, v.Status == StateDone && *v.ExitCode == 1 && len(v.Tables) == 1 && v.Tables[0].DifferingKeys == 3 && v.DiffFile != "",
		"mtree table-diff: %+v", v)
}
