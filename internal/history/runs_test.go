package history

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, time.Minute)
		s := b.open(t)
		t0 := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
		start := func(cmd, cluster string, at time.Time, tables ...string) int64 {
			t.Helper()
			id, err := s.StartRun(ctx, Start{Command: cmd, Cluster: cluster, Tables: tables, StartedAt: at,
				Options: json.RawMessage(`{ "block_size": 1000,  "recheck": true }`)})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		a := start("table-diff", "prod", t0, "public.a")
		b2 := start("verify", "prod", t0.Add(time.Hour), "public.a", "public.b")
		c := start("table-diff", "stage", t0.Add(2*time.Hour), "public.b")
		d := start("table-repair", "prod", t0.Add(3*time.Hour), "public.b")
		e := start("schema-diff", "prod", t0.Add(3*time.Hour)) // same start as d: the later id first

		cov := 0.75
		finished := t0.Add(90 * time.Minute)
		full := Result{Status: StatusPartial, ExitCode: 1, DifferingKeys: 3, TransientKeys: 1,
			RowsCompared: map[string]int64{"n1": 1000, "n2": 999}, Coverage: &cov, DiffFile: "/tmp/d.json",
			Error: "range 7 timed out", FinishedAt: finished}
		if err := s.FinishRun(ctx, b2, full); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, a, Result{Status: StatusMatch}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, a, Result{Status: StatusDiffer}); !errors.Is(err, ErrNoRun) {
			t.Errorf("finishing a finished run: %v, want ErrNoRun", err)
		}
		if err := s.FinishRun(ctx, 9999, Result{Status: StatusMatch}); !errors.Is(err, ErrNoRun) {
			t.Errorf("finishing a missing run: %v, want ErrNoRun", err)
		}
		if err := s.FinishRun(ctx, c, Result{Status: StatusRunning}); err == nil {
			t.Error("finishing with status running succeeded")
		}

		got, err := s.Run(ctx, b2)
		if err != nil {
			t.Fatal(err)
		}
		want := Run{ID: b2, Start: Start{Command: "verify", Cluster: "prod", Tables: []string{"public.a", "public.b"},
			Options: json.RawMessage(`{"block_size":1000,"recheck":true}`), StartedAt: t0.Add(time.Hour)}, Result: full}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("run:\n got  %+v\n want %+v", got, want)
		}
		running, err := s.Run(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if running.Status != StatusRunning || !running.FinishedAt.IsZero() || running.Coverage != nil ||
			len(running.RowsCompared) != 0 || running.DiffFile != "" || running.Error != "" {
			t.Errorf("running run: %+v", running)
		}
		if _, err := s.Run(ctx, 9999); !errors.Is(err, ErrNoRun) {
			t.Errorf("missing run: %v, want ErrNoRun", err)
		}

		cases := []struct {
			name string
			f    RunFilter
			want []int64
		}{
			{"all", RunFilter{}, []int64{e, d, c, b2, a}},
			{"cluster", RunFilter{Cluster: "prod"}, []int64{e, d, b2, a}},
			{"table", RunFilter{Table: "public.a"}, []int64{b2, a}},
			{"table b on prod", RunFilter{Table: "public.b", Cluster: "prod"}, []int64{d, b2}},
			{"command", RunFilter{Command: "table-diff"}, []int64{c, a}},
			{"since", RunFilter{Since: t0.Add(time.Hour)}, []int64{e, d, c, b2}},
			{"since just after", RunFilter{Since: t0.Add(time.Hour + time.Microsecond)}, []int64{e, d, c}},
			{"limit", RunFilter{Limit: 2}, []int64{e, d}},
			{"none", RunFilter{Cluster: "nope"}, nil},
		}
		for _, c := range cases {
			rs, err := s.Runs(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var ids []int64
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("%s: runs %v, want %v", c.name, ids, c.want)
			}
		}
	})
}

// TestFinishRunAllTables: a run that learns its tables as it goes names them when it finishes;
// the table filter finds it by each.
func TestFinishRunAllTables(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, time.Minute)
		s := b.open(t)
		id, err := s.StartRun(ctx, Start{Command: "schema-diff", Cluster: "c1", Tables: []string{"public.a"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, Result{Status: StatusMatch, AllTables: []string{"public.a", "public.b"}}); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"public.a", "public.b"} {
			rs, err := s.Runs(ctx, RunFilter{Table: table})
			if err != nil || len(rs) != 1 || rs[0].ID != id || !slices.Equal(rs[0].Tables, []string{"public.a", "public.b"}) {
				t.Errorf("runs of %s: %+v, %v", table, rs, err)
			}
		}
	})
}
