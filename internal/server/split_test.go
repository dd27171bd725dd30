package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// splitTable makes public.big with rows rows on both nodes of a fresh database and differences
// spread over the key space: every 997th row changed on n2, every 1499th missing on n2, five
// rows only on n2. It returns the service file naming the cluster c.
func splitTable(t *testing.T, rows int) (*sandbox.DB, string) {
	t.Helper()
	db := sandbox.NewDB(t)
	db.Exec(t, fmt.Sprintf("CREATE TABLE public.big (id int PRIMARY KEY, v text, n numeric); "+
		"INSERT INTO public.big SELECT g, 'value ' || g, g * 1.5 FROM generate_series(1, %d) g; ANALYZE public.big", rows))
	db.Exec(t, fmt.Sprintf("UPDATE public.big SET v = 'changed' WHERE id %% 997 = 0; DELETE FROM public.big WHERE id %% 1499 = 0; "+
		"INSERT INTO public.big SELECT g, 'extra', 0 FROM generate_series(%d, %d) g; ANALYZE public.big", rows+1, rows+5), "n2")
	return db, db.ServiceFile(t, "c")
}

// wantSplitDiffs is what splitTable's differences come to: differing keys and keys missing on n1
// and n2.
func wantSplitDiffs(rows int) (keys, missingN1, missingN2 int) {
	for id := 1; id <= rows; id++ {
		switch {
		case id%1499 == 0:
			missingN2++
		case id%997 == 0:
			keys++
		}
	}
	return keys + missingN2 + 5, 5, missingN2
}

// checkSameAsCLI runs table-diff as the command line does (settings yamlPath) and checks that the
// job v has the same summary (all but the duration and ranges_differing) and its diff file the same keys in the same
// order; it returns the CLI's summary.
func checkSameAsCLI(t *testing.T, yamlPath, svc string, v JobView) report.Summary {
	t.Helper()
	env, err := job.LoadEnv(yamlPath, svc)
	if err != nil {
		t.Fatal(err)
	}
	if env, err = env.With(job.Overrides{}); err != nil {
		t.Fatal(err)
	}
	env.Settings.OutputDir, env.Settings.HistoryDSN, env.NoHistory = t.TempDir(), "", true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cli, err := job.RunTableDiff(ctx, env, job.TableDiff{Cluster: "c", Table: "public.big"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CLI table-diff took %s", time.Since(start).Round(time.Millisecond))
	var got struct {
		Summary report.Summary `json:"summary"`
	}
	b, _ := json.Marshal(v.Summary)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := cli.Diff.Summary
	// ranges_differing depends on the sampled range boundaries (TABLESAMPLE): two command-line
	// runs may count differently as well. Everything else is the verdict and must be equal.
	t.Logf("ranges differing: job %d, CLI %d", got.Summary.RangesDiffering, want.RangesDiffering)
	got.Summary.DurationSeconds, want.DurationSeconds = 0, 0
	got.Summary.RangesDiffering, want.RangesDiffering = 0, 0
	must(t, reflect.DeepEqual(got.Summary, want), "job summary %+v\nCLI summary %+v", got.Summary, want)
	a, c := diffKeys(t, v.DiffFile), diffKeys(t, cli.DiffFile)
	must(t, reflect.DeepEqual(a, c) && len(a) == want.DifferingKeys, "job diff file: %d keys, CLI's %d", len(a), len(c))
	return want
}

// diffKeys lists the keys of a diff file, in file order.
func diffKeys(t *testing.T, path string) []string {
	t.Helper()
	r, err := report.OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var keys []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, strings.Join(e.Key, ","))
	}
}

// TestSplitTableDiff: with split_ranges 4, a table-diff of a 50,000-row table in ranges of 1000
// rows is split into batch jobs (50 ranges, 10 per batch); the job ends done with the summary and
// the differing keys of the command line's table-diff.
func TestSplitTableDiff(t *testing.T) {
	_, svc := splitTable(t, 50000)
	ts := startServerWith(t, svc, false, "  split_ranges: 4\n  split_batch: 10\n  workers: 4\n", "block_size: 1000\n")
	c := &http.Client{Timeout: 30 * time.Second}
	var acc map[string]string
	start := time.Now()
	must(t, ts.call(t, c, "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": "public.big"}, &acc) == 202, "POST: %v", acc)
	v := ts.wait(t, c, acc["id"])
	t.Logf("split job took %s", time.Since(start).Round(time.Millisecond))
	must(t, v.Status == StateDone && v.ExitCode != nil && *v.ExitCode == 1, "job: %+v", v)
	plan, err := readPlan(filepath.Dir(v.DiffFile))
	if err != nil {
		t.Fatal(err)
	}
	must(t, len(plan.Ranges) > 4 && len(plan.Jobs) == plan.batches() && plan.batches() >= 3, "plan: %d ranges, %d batch jobs", len(plan.Ranges), len(plan.Jobs))
	want := checkSameAsCLI(t, ts.yamlPath, svc, v)
	keys, m1, m2 := wantSplitDiffs(50000)
	must(t, want.DifferingKeys == keys && want.MissingOn["n1"] == m1 && want.MissingOn["n2"] == m2 &&
		want.RowsCompared["n1"] == 50000 && want.RowsCompared["n2"] == 50005-int64(m2), "CLI summary %+v", want)
}

// TestSplitVerdictByReread: batches hashed at different times, with the table written between
// and after them, give a verdict only on keys that differ in the final re-read. Key 997 (changed
// on n2) is a candidate of the first batch and is repaired before the end: not reported. Key 5
// breaks after the first batch hashed it: missed, as a run whose snapshot was a moment earlier
// would miss it. Every other reported key is what a table-diff run after all writes reports.
func TestSplitVerdictByReread(t *testing.T) {
	db, svc := splitTable(t, 20000)
	env, err := job.LoadEnv("", svc)
	if err != nil {
		t.Fatal(err)
	}
	env.Settings.BlockSize, env.Settings.OutputDir, env.NoHistory = 1000, t.TempDir(), true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	td := job.TableDiff{Cluster: "c", Table: "public.big"}
	ranges, err := job.PlanTableDiff(ctx, env, td, 0)
	if err != nil {
		t.Fatal(err)
	}
	must(t, len(ranges) >= 10, "%d ranges", len(ranges))
	half := len(ranges) / 2
	dir := t.TempDir()
	parts := []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")}
	started := time.Now().UTC()
	if err := job.RunTableDiffBatch(ctx, env, td, ranges[:half], parts[0]); err != nil {
		t.Fatal(err)
	}
	must(t, contains(diffKeys(t, parts[0]), "997"), "key 997 is not a candidate of the first batch")
	db.Exec(t, "UPDATE public.big SET v = 'value 997' WHERE id = 997; UPDATE public.big SET v = 'late' WHERE id = 5", "n2")
	if err := job.RunTableDiffBatch(ctx, env, td, ranges[half:], parts[1]); err != nil {
		t.Fatal(err)
	}
	res, err := job.FinishTableDiffSplit(ctx, env, td, parts, started)
	if err != nil {
		t.Fatal(err)
	}
	got := diffKeys(t, res.DiffFile)
	cli, err := job.RunTableDiff(ctx, env, td)
	if err != nil {
		t.Fatal(err)
	}
	want := diffKeys(t, cli.DiffFile)
	must(t, !contains(got, "997") && !contains(got, "5") && contains(want, "5") && !contains(want, "997"), "split: 997 %v, 5 %v; CLI: 5 %v", contains(got, "997"), contains(got, "5"), contains(want, "5"))
	want = slices.DeleteFunc(want, func(k string) bool { return k == "5" })
	must(t, reflect.DeepEqual(got, want) && res.Diff.Summary.DifferingKeys == len(got), "split run: %d keys, CLI after the writes minus key 5: %d", len(got), len(want))
	must(t, res.Diff.Summary.RowsCompared["n1"] == 20000 && res.Diff.Summary.Ranges == len(ranges), "summary %+v", res.Diff.Summary)
}

func contains(keys []string, k string) bool { return slices.Contains(keys, k) }
