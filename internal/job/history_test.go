package job

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
)

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		status    history.Status
		err       error
		cancelled bool
		want      int
	}{
		{history.StatusMatch, nil, false, 0},
		{history.StatusRepaired, nil, false, 0},
		{history.StatusDiffer, nil, false, 1},
		{history.StatusPartial, nil, false, 1},
		{history.StatusInconclusive, nil, false, 4},
		{"unresolved", fault.ErrDiffer, false, 1},
		{history.StatusFailed, fault.Input("bad"), false, 2},
		{history.StatusFailed, errors.New("node n2 unreachable"), false, 3},
		{history.StatusFailed, context.Canceled, true, 130},
	} {
		if got := exitCode(c.status, c.err, c.cancelled); got != c.want {
			t.Errorf("exitCode(%s, %v, %t) = %d, want %d", c.status, c.err, c.cancelled, got, c.want)
		}
	}
}

func TestFullCoverage(t *testing.T) {
	full := func() *report.Diff {
		return &report.Diff{Nodes: []string{"n1", "n2", "n3"}, Summary: report.Summary{Status: report.StatusDiffer}}
	}
	for _, c := range []struct {
		name  string
		edit  func(d *report.Diff)
		nodes int
		want  bool
	}{
		{"whole table on every node", func(*report.Diff) {}, 3, true},
		{"matching", func(d *report.Diff) { d.Summary.Status = report.StatusMatch }, 3, true},
		{"partial", func(d *report.Diff) { d.Summary.Status = report.StatusPartial }, 3, false},
		{"where", func(d *report.Diff) { d.Options.Where = "id < 5" }, 3, false},
		{"until", func(d *report.Diff) { d.Options.Until = "2026-12-01T00:00:00Z" }, 3, false},
		{"columns", func(d *report.Diff) { d.Options.Columns = []string{"v"} }, 3, false},
		{"exclude columns", func(d *report.Diff) { d.Options.ExcludeColumns = []string{"v"} }, 3, false},
		{"a subset of the nodes", func(*report.Diff) {}, 4, false},
	} {
		d := full()
		c.edit(d)
		if got := FullCoverage(d, c.nodes); got != c.want {
			t.Errorf("%s: FullCoverage = %t, want %t", c.name, got, c.want)
		}
	}
	if FullCoverage(nil, 2) {
		t.Error("FullCoverage(nil) = true")
	}
}

func TestHistoryKey(t *testing.T) {
	keyed := &report.Entry{Key: []string{"42", "eu"}, Versions: []report.Version{{Nodes: []int{0}, Hash: 7}}}
	whole := &report.Entry{Versions: []report.Version{{Nodes: []int{0, 1}, Hash: -12345}}, Counts: []int64{2, 1}}
	if got := HistoryKey(keyed); !slices.Equal(got, history.Key{"42", "eu"}) {
		t.Errorf("keyed: %q", got)
	}
	if got := HistoryKey(whole); !slices.Equal(got, history.Key{"row_hash:-12345"}) {
		t.Errorf("whole-row: %q", got)
	}
}

// TestDivergenceSinkOff: a recorder that records nothing hands out sinks that accept everything.
func TestDivergenceSinkOff(t *testing.T) {
	rec := (&Env{NoHistory: true}).StartRun(t.Context(), RunInfo{Command: "table-diff", Cluster: "c"})
	s := rec.Divergences(t.Context(), "public.t")
	d := &report.Diff{Nodes: []string{"n1", "n2"}}
	if err := s.Begin(d); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if err := s.Entry(&report.Entry{Key: []string{fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.End(d); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rec.Resolve(t.Context(), "public.t", true)
	rec.Finish(t.Context(), history.Result{Status: history.StatusDiffer}, nil)
	if rec.ID() != 0 {
		t.Errorf("run id %d", rec.ID())
	}
}

// TestDivergenceSinkRecords streams 2,500 keys (several batches) and 3 transient ones through a
// sink into a SQLite store: the keys are recorded, the transient ones are not; a second full run
// seeing 10 of them resolves the others.
func TestDivergenceSinkRecords(t *testing.T) {
	ctx := t.Context()
	env := &Env{}
	env.Settings.HistoryPath = t.TempDir() + "/h.db"
	d := &report.Diff{Nodes: []string{"n1", "n2"}, Summary: report.Summary{Status: report.StatusDiffer}}
	diffRun := func(keys int) int64 {
		rec := env.StartRun(ctx, RunInfo{Command: "table-diff", Cluster: "c", Tables: []string{"public.t"}, Options: map[string]any{"x": 1}})
		s := rec.Divergences(ctx, "public.t")
		if err := s.Begin(d); err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if err := s.Entry(&report.Entry{Key: []string{fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
			if i < 3 {
				if err := s.Entry(&report.Entry{Key: []string{fmt.Sprint("t", i)}, Transient: true}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.End(d); err != nil {
			t.Fatal(err)
		}
		rec.Resolve(ctx, "public.t", true)
		rec.Finish(ctx, DiffHistoryResult(d, "d.json", true), nil)
		return rec.ID()
	}
	first := diffRun(2500)
	second := diffRun(10)
	store, err := env.HistoryOpen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx, history.RunFilter{})
	if err != nil || len(runs) != 2 || runs[1].ID != first || runs[1].Status != history.StatusDiffer || runs[1].ExitCode != 1 ||
		string(runs[1].Options) != `{"x":1}` || runs[1].DiffFile != absPath("d.json") || !filepath.IsAbs(runs[1].DiffFile) || *runs[1].Coverage != 1 {
		t.Fatalf("runs: %+v, %v", runs, err)
	}
	all, err := store.Divergences(ctx, history.DivergenceFilter{})
	if err != nil || len(all) != 2500 {
		t.Fatalf("%d divergences, %v", len(all), err)
	}
	open := 0
	for _, dv := range all {
		if dv.Open() {
			open++
			if dv.LastSeenRun != second || dv.FirstSeenRun != first {
				t.Errorf("open divergence %+v", dv)
			}
		} else if dv.ResolvedRun != second || dv.LastSeenRun != first {
			t.Errorf("resolved divergence %+v", dv)
		}
	}
	if open != 10 {
		t.Errorf("%d open, want 10", open)
	}
}
