package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// historyRuns is `history --json` output.
type historyRuns struct {
	Runs []struct {
		ID            int64            `json:"id"`
		Command       string           `json:"command"`
		Cluster       string           `json:"cluster"`
		Tables        []string         `json:"tables"`
		Options       map[string]any   `json:"options"`
		Status        string           `json:"status"`
		ExitCode      *int             `json:"exit_code"`
		DifferingKeys int64            `json:"differing_keys"`
		RowsCompared  map[string]int64 `json:"rows_compared"`
		Coverage      *float64         `json:"coverage"`
		DiffFile      *string          `json:"diff_file"`
		Error         *string          `json:"error"`
	} `json:"runs"`
}

// historyDivergences is `history --divergences --json` output.
type historyDivergences struct {
	Divergences []struct {
		Table               string   `json:"table"`
		Key                 []string `json:"key"`
		Nodes               []string `json:"nodes"`
		Open                bool     `json:"open"`
		FirstSeenRun        int64    `json:"first_seen_run"`
		LastSeenRun         int64    `json:"last_seen_run"`
		LastRepairRun       *int64   `json:"last_repair_run"`
		ResolvedRun         *int64   `json:"resolved_run"`
		ResolvedByRepairRun *int64   `json:"resolved_by_repair_run"`
	} `json:"divergences"`
}

// historyJSON runs `pgparity history --json ARGS...` and decodes its output into v.
func historyJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, stdout, stderr := run(t, append([]string{"history", "--json"}, args...)...)
	if code != ExitOK || stderr != "" {
		t.Fatalf("history %v: exit %d, stderr %q", args, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("history %v output: %v\n%s", args, err, stdout)
	}
}

// divergenceLines renders divergences as "TABLE KEY nodes=N first=R last=R repair=R resolved=R by=R"
// with run ids, sorted.
func divergenceLines(h historyDivergences) []string {
	id := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	out := []string{}
	for _, d := range h.Divergences {
		out = append(out, fmt.Sprintf("%s %s nodes=%s first=%d last=%d repair=%s resolved=%s by=%s open=%t", d.Table,
			strings.Join(d.Key, ","), strings.Join(d.Nodes, ","), d.FirstSeenRun, d.LastSeenRun, id(d.LastRepairRun),
			id(d.ResolvedRun), id(d.ResolvedByRepairRun), d.Open))
	}
	sort.Strings(out)
	return out
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// historySetup isolates the test, points the history store at settings (history_path or
// history_dsn lines for pgparity.yaml; none: the default path under a fresh $XDG_STATE_HOME),
// and makes n2 differ from n1 on keys 2 (updated), 3 (missing) and 11 (extra).
func historySetup(t *testing.T, settings string) (*sandbox.DB, string) {
	t.Helper()
	dir := isolate(t)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	if settings != "" {
		writeFile(t, filepath.Join(dir, "pgparity.yaml"), settings)
	}
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 10) i`)
	db.Exec(t, `UPDATE t SET v = 'x' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (11, 'extra')`, "n2")
	return db, db.ServiceFile(t, "c")
}

// TestHistoryDiffRepairResolve: a table-diff records its differing keys open; a repair marks
// them, and a clean full table-diff resolves them crediting the repair.
func TestHistoryDiffRepairResolve(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			settings := ""
			if backend == "postgres" {
				// The store lives in a database of its own on n1, never one being compared.
				settings = fmt.Sprintf("history_dsn: %q\n", sandbox.NewDB(t).ConnString("n1"))
			}
			testHistoryDiffRepairResolve(t, settings)
			if backend == "sqlite" {
				if _, err := os.Stat(filepath.Join(os.Getenv("XDG_STATE_HOME"), "pgparity", "history.db")); err != nil {
					t.Fatalf("default store: %v", err)
				}
			}
		})
	}
}

func testHistoryDiffRepairResolve(t *testing.T, settings string) {
	_, svc := historySetup(t, settings)
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", "d.json", "--quiet"); code != ExitDiffer || stderr != "" {
		t.Fatalf("table-diff: exit %d, stderr %q", code, stderr)
	}
	var runs historyRuns
	historyJSON(t, &runs)
	if len(runs.Runs) != 1 {
		t.Fatalf("runs: %+v", runs)
	}
	r := runs.Runs[0]
	diffRun := r.ID
	if r.Command != "table-diff" || r.Cluster != "c" || !reflect.DeepEqual(r.Tables, []string{"public.t"}) || r.Status != "differ" ||
		r.ExitCode == nil || *r.ExitCode != 1 || r.DifferingKeys != 3 || r.Coverage == nil || *r.Coverage != 1 ||
		r.DiffFile == nil || *r.DiffFile != "d.json" || r.Error != nil || r.RowsCompared["n1"] != 10 || r.RowsCompared["n2"] != 10 {
		t.Fatalf("table-diff run: %+v", r)
	}
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	open := func(key string) string {
		return fmt.Sprintf("public.t %s nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", key, diffRun, diffRun)
	}
	wantStrings(t, "divergences after table-diff", divergenceLines(divs), []string{open("2"), open("3"), open("11")})

	code, _, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", "d.json", "--source-of-truth", "n1", "--quiet")
	if code != ExitOK {
		t.Fatalf("table-repair: exit %d, stderr %q", code, stderr)
	}
	historyJSON(t, &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].Command != "table-repair" || runs.Runs[0].Status != "repaired" || *runs.Runs[0].ExitCode != 0 {
		t.Fatalf("runs after the repair: %+v", runs.Runs)
	}
	repairRun := runs.Runs[0].ID

	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", "clean.json", "--quiet"); code != ExitOK {
		t.Fatalf("table-diff after the repair: exit %d, stderr %q", code, stderr)
	}
	historyJSON(t, &runs, "--table", "public.t")
	cleanRun := runs.Runs[0].ID
	if len(runs.Runs) != 3 || runs.Runs[0].Status != "match" || runs.Runs[0].DifferingKeys != 0 {
		t.Fatalf("runs after the clean diff: %+v", runs.Runs)
	}
	historyJSON(t, &divs, "--divergences")
	resolved := func(key string) string {
		return fmt.Sprintf("public.t %s nodes=n1,n2 first=%d last=%d repair=%d resolved=%d by=%d open=false", key, diffRun, diffRun,
			repairRun, cleanRun, repairRun)
	}
	wantStrings(t, "divergences after the repair and a clean table-diff", divergenceLines(divs),
		[]string{resolved("2"), resolved("3"), resolved("11")})
	historyJSON(t, &divs, "--divergences", "--open")
	if len(divs.Divergences) != 0 {
		t.Fatalf("open divergences after the resolution: %+v", divs)
	}
}
