package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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

// abs returns the absolute path of a file in the working directory, as the history records it.
func abs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
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
		r.DiffFile == nil || *r.DiffFile != abs(t, "d.json") || r.Error != nil || r.RowsCompared["n1"] != 10 || r.RowsCompared["n2"] != 10 {
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

// TestHistoryRerunResolvesKeys: table-rerun records the keys still differing and resolves the
// keys of the old diff file it found equal; the other keys stay open.
func TestHistoryRerunResolvesKeys(t *testing.T) {
	db, svc := historySetup(t, "history_path: h.db\n")
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", "d.json", "--quiet"); code != ExitDiffer {
		t.Fatalf("table-diff: exit %d, stderr %q", code, stderr)
	}
	db.Exec(t, `UPDATE t SET v = 'v2' WHERE id = 2`, "n2")
	if code, _, stderr := run(t, "--service-file", svc, "table-rerun", "--diff-file", "d.json", "--out", "r.json", "--quiet"); code != ExitDiffer {
		t.Fatalf("table-rerun: exit %d, stderr %q", code, stderr)
	}
	var runs historyRuns
	historyJSON(t, &runs)
	if len(runs.Runs) != 2 {
		t.Fatalf("runs: %+v", runs.Runs)
	}
	rr, d := runs.Runs[0], runs.Runs[1]
	if rr.Command != "table-rerun" || rr.Status != "differ" || rr.DifferingKeys != 2 || rr.Coverage != nil || *rr.DiffFile != abs(t, "r.json") ||
		rr.Options["diff_file"] != abs(t, "d.json") {
		t.Fatalf("rerun run: %+v", rr)
	}
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	wantStrings(t, "divergences after the rerun", divergenceLines(divs), []string{
		fmt.Sprintf("public.t 2 nodes=n1,n2 first=%d last=%d repair=- resolved=%d by=- open=false", d.ID, d.ID, rr.ID),
		fmt.Sprintf("public.t 3 nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", d.ID, rr.ID),
		fmt.Sprintf("public.t 11 nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", d.ID, rr.ID),
	})

	// A partial table-diff (--where) resolves nothing, even keys it did not see.
	db.Exec(t, `INSERT INTO t VALUES (3, 'v3'); DELETE FROM t WHERE id = 11`, "n2")
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--where", "id < 5", "--out", "w.json", "--quiet"); code != ExitOK {
		t.Fatalf("table-diff --where: exit %d, stderr %q", code, stderr)
	}
	historyJSON(t, &divs, "--divergences", "--open")
	if len(divs.Divergences) != 2 {
		t.Fatalf("open divergences after a --where run: %+v", divs)
	}
	historyJSON(t, &runs)
	if r := runs.Runs[0]; len(runs.Runs) != 3 || r.Status != "match" || r.Coverage != nil || r.Options["where"] != "id < 5" {
		t.Fatalf("--where run: %+v", r)
	}
}

// TestHistorySchemaDiff: a schema-diff is one run naming every table; each table's differing keys
// are recorded, and a later clean schema-diff resolves them.
func TestHistorySchemaDiff(t *testing.T) {
	db, svc := historySetup(t, "history_path: h.db\n")
	db.Exec(t, `CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u SELECT generate_series(1, 5)`)
	db.Exec(t, `DELETE FROM u WHERE id = 4`, "n1")
	if code, _, stderr := run(t, "--service-file", svc, "schema-diff", "c", "public", "--quiet"); code != ExitDiffer {
		t.Fatalf("schema-diff: exit %d, stderr %q", code, stderr)
	}
	var runs historyRuns
	historyJSON(t, &runs, "--table", "public.u")
	if len(runs.Runs) != 1 {
		t.Fatalf("runs of public.u: %+v", runs.Runs)
	}
	r := runs.Runs[0]
	if r.Command != "schema-diff" || r.Status != "differ" || *r.ExitCode != 1 || r.DifferingKeys != 4 ||
		!reflect.DeepEqual(r.Tables, []string{"public.t", "public.u"}) && !reflect.DeepEqual(r.Tables, []string{"public.u", "public.t"}) ||
		r.RowsCompared["n1"] != 14 || r.RowsCompared["n2"] != 15 {
		t.Fatalf("schema-diff run: %+v", r)
	}
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	open := func(table, key string) string {
		return fmt.Sprintf("%s %s nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", table, key, r.ID, r.ID)
	}
	wantStrings(t, "divergences after schema-diff", divergenceLines(divs),
		[]string{open("public.t", "2"), open("public.t", "3"), open("public.t", "11"), open("public.u", "4")})

	db.Exec(t, `INSERT INTO u VALUES (4)`, "n1")
	if code, _, stderr := run(t, "--service-file", svc, "schema-diff", "c", "public", "--quiet"); code != ExitDiffer {
		t.Fatalf("second schema-diff: exit %d, stderr %q", code, stderr)
	}
	historyJSON(t, &divs, "--divergences", "--open")
	if len(divs.Divergences) != 3 {
		t.Fatalf("open after public.u was fixed: %+v", divs)
	}
	historyJSON(t, &divs, "--divergences", "--table", "public.u")
	if len(divs.Divergences) != 1 || divs.Divergences[0].Open || *divs.Divergences[0].ResolvedRun != r.ID+1 {
		t.Fatalf("public.u after it was fixed: %+v", divs)
	}
}

// TestHistoryOffOrBroken: --no-history writes nothing; a store that cannot be opened costs a
// warning, never the comparison's outcome.
func TestHistoryOffOrBroken(t *testing.T) {
	dir := isolate(t)
	state := filepath.Join(dir, "state")
	t.Setenv("XDG_STATE_HOME", state)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)`)
	db.Exec(t, `DELETE FROM t WHERE id = 7`, "n2")
	svc := db.ServiceFile(t, "c")

	code, _, stderr := run(t, "--no-history", "--service-file", svc, "table-diff", "c", "public.t", "--out", "d.json", "--quiet")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("--no-history: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, "--no-history", "--service-file", svc, "table-repair", "--diff-file", "d.json", "--source-of-truth", "n1", "--quiet")
	if code != ExitOK || stderr != "" {
		t.Fatalf("--no-history repair: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("--no-history created %s: %v", state, err)
	}

	writeFile(t, filepath.Join(dir, "file"), "")
	writeFile(t, filepath.Join(dir, "pgparity.yaml"), "history_path: file/h.db\n")
	db.Exec(t, `DELETE FROM t WHERE id = 8`, "n2")
	code, _, stderr = run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", "e.json", "--quiet")
	if code != ExitDiffer || !strings.Contains(stderr, `level=WARN msg="history: not recording this run" command=table-diff`) {
		t.Fatalf("unwritable store: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "e.json")); err != nil {
		t.Fatalf("unwritable store: diff file: %v", err)
	}
}

// TestHistoryConcurrentDiffs: two table-diffs of the same table at once, each recording the same
// 2,500 differing keys (several batches), leave both runs and one open divergence per key, first
// seen by the run that started first and last seen by the other.
func TestHistoryConcurrentDiffs(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := isolate(t)
			settings := "history_path: h.db\n"
			if backend == "postgres" {
				settings = fmt.Sprintf("history_dsn: %q\n", sandbox.NewDB(t).ConnString("n1"))
			}
			writeFile(t, filepath.Join(dir, "pgparity.yaml"), settings)
			db := sandbox.NewDB(t)
			db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 5000) i`)
			db.Exec(t, `UPDATE t SET v = 'x' WHERE id % 2 = 0`, "n2")
			svc := db.ServiceFile(t, "c")
			codes := make(chan string, 2)
			for _, out := range []string{"a.json", "b.json"} {
				go func() {
					code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", out, "--quiet")
					codes <- fmt.Sprintf("exit %d %s", code, stderr)
				}()
			}
			for range 2 {
				if got := <-codes; got != "exit 1 " {
					t.Fatalf("concurrent table-diff: %s", got)
				}
			}
			var runs struct {
				Runs []struct {
					ID            int64  `json:"id"`
					Status        string `json:"status"`
					DifferingKeys int64  `json:"differing_keys"`
					StartedAt     string `json:"started_at"`
				} `json:"runs"`
			}
			historyJSON(t, &runs)
			if len(runs.Runs) != 2 || runs.Runs[0].Status != "differ" || runs.Runs[1].Status != "differ" ||
				runs.Runs[0].DifferingKeys != 2500 || runs.Runs[1].DifferingKeys != 2500 {
				t.Fatalf("runs: %+v", runs.Runs)
			}
			later, earlier := runs.Runs[0].ID, runs.Runs[1].ID // newest first
			var divs historyDivergences
			historyJSON(t, &divs, "--divergences", "--limit", "0")
			if len(divs.Divergences) != 2500 {
				t.Fatalf("%d divergences, want 2500", len(divs.Divergences))
			}
			keys := map[string]bool{}
			for _, d := range divs.Divergences {
				keys[d.Key[0]] = true
				if !d.Open || d.FirstSeenRun != earlier || d.LastSeenRun != later {
					t.Fatalf("divergence %+v: want open, first seen by run %d, last by run %d", d, earlier, later)
				}
			}
			for i := 2; i <= 5000; i += 2 {
				if !keys[fmt.Sprint(i)] {
					t.Fatalf("key %d not recorded", i)
				}
			}
		})
	}
}

// TestHistoryText: the terminal listing of runs and divergences.
func TestHistoryText(t *testing.T) {
	_, svc := historySetup(t, "history_path: h.db\n")
	if code, _, stderr := run(t, "history"); code != ExitOK || stderr != "" {
		t.Fatalf("empty history: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", "d.json", "--quiet"); code != ExitDiffer {
		t.Fatalf("table-diff: exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := run(t, "history", "--since", "1h", "--cluster", "c")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != ExitOK || len(lines) != 2 || !regexp.MustCompile(`^ID +COMMAND +CLUSTER +TABLES +STARTED +DURATION +STATUS +KEYS +DIFF FILE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^1 +table-diff +c +public\.t +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +[0-9.]+m?s +differ +3 +/\S+/d\.json$`).MatchString(lines[1]) {
		t.Fatalf("history: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, "history", "--divergences", "--table", "public.t")
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	if code != ExitOK || len(lines) != 4 || !regexp.MustCompile(`^TABLE +KEY +NODES +FIRST SEEN +LAST SEEN +RESOLVED BY$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^public\.t +\["(2|3|11)"\] +n1,n2 +\S+ \S+ \(run 1\) +\S+ \S+ \(run 1\) +open$`).MatchString(lines[1]) {
		t.Fatalf("history --divergences: exit %d\n%s", code, stdout)
	}
	for _, since := range []string{"7d", "1h"} {
		if code, stdout, _ := run(t, "history", "--since", since, "--json"); code != ExitOK || !strings.Contains(stdout, `"command": "table-diff"`) {
			t.Fatalf("--since %s: exit %d, %q", since, code, stdout)
		}
	}
	if code, _, stderr := run(t, "history", "--since", "yesterday"); code != ExitInput || !strings.Contains(stderr, `--since "yesterday": use a duration such as 90m, 24h or 7d`) {
		t.Fatalf("--since yesterday: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := run(t, "history", "--cluster", "other"); code != ExitOK || stdout != "no runs recorded\n" {
		t.Fatalf("other cluster: exit %d, %q", code, stdout)
	}
	if code, _, stderr := run(t, "history", "--open"); code != ExitInput || !strings.Contains(stderr, "--open goes with --divergences") {
		t.Fatalf("--open without --divergences: exit %d, %q", code, stderr)
	}
}

// TestHistoryWholeRow: a table without a key records each differing row by its hash, and the
// repair of those rows is credited when a clean diff resolves them.
func TestHistoryWholeRow(t *testing.T) {
	dir := isolate(t)
	writeFile(t, filepath.Join(dir, "pgparity.yaml"), "history_path: h.db\n")
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE log (at int, msg text); INSERT INTO log SELECT i, 'm' || i FROM generate_series(1, 20) i`)
	db.Exec(t, `INSERT INTO log VALUES (5, 'm5'); DELETE FROM log WHERE at = 9`, "n2")
	svc := db.ServiceFile(t, "c")
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.log", "--out", "d.json", "--quiet"); code != ExitDiffer {
		t.Fatalf("table-diff: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", "d.json", "--source-of-truth", "n1", "--quiet"); code != ExitOK {
		t.Fatalf("table-repair: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.log", "--out", "clean.json", "--quiet"); code != ExitOK {
		t.Fatalf("clean table-diff: exit %d, stderr %q", code, stderr)
	}
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	if len(divs.Divergences) != 2 {
		t.Fatalf("divergences: %+v", divs)
	}
	for _, d := range divs.Divergences {
		if len(d.Key) != 1 || !regexp.MustCompile(`^row_hash:-?[0-9]+$`).MatchString(d.Key[0]) || d.Open ||
			d.FirstSeenRun != 1 || d.ResolvedRun == nil || *d.ResolvedRun != 3 || d.ResolvedByRepairRun == nil || *d.ResolvedByRepairRun != 2 {
			t.Errorf("divergence %+v: want a row hash key, seen by run 1, resolved by run 3 crediting repair run 2", d)
		}
	}
}

// TestHistoryVerify: verify records its confirmed keys as divergences between the pair's nodes;
// after table-repair of its diff file, a clean verify of a cluster whose every node it covered
// resolves them, crediting the repair. A disabled subscription records an inconclusive run
// (exit 4) that resolves nothing.
func TestHistoryVerify(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testHistoryVerify(t, false) })
	t.Run("postgres", func(t *testing.T) { testHistoryVerify(t, true) })
}

func testHistoryVerify(t *testing.T, postgres bool) {
	dir := isolate(t)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	if postgres {
		writeFile(t, filepath.Join(dir, "pgparity.yaml"), fmt.Sprintf("history_dsn: %q\n", sandbox.NewDB(t).ConnString("n1")))
	}
	db, svc3, sub := replicated(t)
	// The cluster of the pair only: a verify covering both nodes covers the cluster.
	raw, err := os.ReadFile(svc3)
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := strings.Cut(string(raw), "[c.n3]")
	svc := filepath.Join(dir, "pair_service.conf")
	writeFile(t, svc, before)
	verifyCode := func(want int) {
		t.Helper()
		code, stdout, stderr := run(t, "--service-file", svc, "verify", "c", "--max-wait", "10s", "--json")
		if code != want {
			t.Fatalf("verify: exit %d (want %d), stderr %q\n%s", code, want, stderr, stdout)
		}
	}
	db.Exec(t, `SET session_replication_role = replica; UPDATE public.acc SET note = 'drift' WHERE id = 42; DELETE FROM public.acc WHERE id = 7`, "n2")
	verifyCode(ExitDiffer)
	var runs historyRuns
	historyJSON(t, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].Command != "verify" || runs.Runs[0].Status != "differ" || *runs.Runs[0].ExitCode != 1 ||
		runs.Runs[0].DifferingKeys != 2 || runs.Runs[0].DiffFile == nil || !reflect.DeepEqual(runs.Runs[0].Tables, []string{"public.acc"}) {
		t.Fatalf("verify run: %+v", runs.Runs)
	}
	verifyRun, diffFile := runs.Runs[0].ID, *runs.Runs[0].DiffFile
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	open := func(key string) string {
		return fmt.Sprintf("public.acc %s nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", key, verifyRun, verifyRun)
	}
	wantStrings(t, "divergences after verify", divergenceLines(divs), []string{open("42"), open("7")})

	if code, stdout, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", diffFile, "--source-of-truth", "n1", "--quiet"); code != ExitOK {
		t.Fatalf("table-repair: exit %d\n%s%s", code, stdout, stderr)
	}
	historyJSON(t, &runs)
	repairRun := runs.Runs[0].ID

	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	verifyCode(ExitInconclusive)
	historyJSON(t, &runs)
	if runs.Runs[0].Status != "inconclusive" || *runs.Runs[0].ExitCode != 4 || runs.Runs[0].DifferingKeys != 0 {
		t.Fatalf("inconclusive run: %+v", runs.Runs[0])
	}
	historyJSON(t, &divs, "--divergences", "--open")
	if len(divs.Divergences) != 2 {
		t.Fatalf("an inconclusive verify resolved divergences: %+v", divs)
	}
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" ENABLE", "n2")
	verifyCode(ExitOK)
	historyJSON(t, &runs)
	cleanRun := runs.Runs[0].ID
	historyJSON(t, &divs, "--divergences")
	resolved := func(key string) string {
		return fmt.Sprintf("public.acc %s nodes=n1,n2 first=%d last=%d repair=%d resolved=%d by=%d open=false", key, verifyRun, verifyRun,
			repairRun, cleanRun, repairRun)
	}
	wantStrings(t, "divergences after the repair and a clean verify", divergenceLines(divs), []string{resolved("42"), resolved("7")})
}

// TestHistoryMtree: mtree table-diff records its run and differing keys like table-diff.
func TestHistoryMtree(t *testing.T) {
	_, svc := historySetup(t, "")
	for _, args := range [][]string{{"init", "c", "--tracker", "trigger"}, {"build", "c", "public.t", "--block-size", "10"}} {
		if code, stdout, stderr := run(t, append([]string{"--service-file", svc, "mtree"}, args...)...); code != ExitOK {
			t.Fatalf("mtree %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := run(t, "--service-file", svc, "mtree", "table-diff", "c", "public.t", "--out", "m.json"); code != ExitDiffer {
		t.Fatalf("mtree table-diff: exit %d, stderr %q", code, stderr)
	}
	var runs historyRuns
	historyJSON(t, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].Command != "mtree table-diff" || runs.Runs[0].Status != "differ" || *runs.Runs[0].ExitCode != 1 ||
		runs.Runs[0].DifferingKeys != 3 || runs.Runs[0].DiffFile == nil || *runs.Runs[0].DiffFile != abs(t, "m.json") {
		t.Fatalf("mtree table-diff run: %+v", runs.Runs)
	}
	id := runs.Runs[0].ID
	var divs historyDivergences
	historyJSON(t, &divs, "--divergences")
	open := func(key string) string {
		return fmt.Sprintf("public.t %s nodes=n1,n2 first=%d last=%d repair=- resolved=- by=- open=true", key, id, id)
	}
	wantStrings(t, "divergences after mtree table-diff", divergenceLines(divs), []string{open("2"), open("3"), open("11")})
}
