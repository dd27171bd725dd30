package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/repair"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// repairSetup makes n2 differ from n1 and writes a diff file; it returns the database, the
// service file and the diff file.
func repairSetup(t *testing.T) (*sandbox.DB, string, string) {
	t.Helper()
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 10) i;
		CREATE TABLE other (id int PRIMARY KEY)`)
	db.Exec(t, `UPDATE t SET v = 'x' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (11, 'extra')`, "n2")
	svc := db.ServiceFile(t, "c")
	diffFile := filepath.Join(dir, "d.json")
	if code, _, stderr := run(t, "--service-file", svc, "table-diff", "c", "public.t", "--out", diffFile, "--quiet"); code != ExitDiffer {
		t.Fatalf("table-diff exit %d: %s", code, stderr)
	}
	return db, svc, diffFile
}

func rowsOf(t *testing.T, db *sandbox.DB, node string) string {
	t.Helper()
	conn := db.Connect(t, node)
	var s string
	if err := conn.QueryRow(t.Context(), "SELECT string_agg(r::text, ' ' ORDER BY id) FROM t r").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTableRepairBadInputExit2(t *testing.T) {
	db, svc, diffFile := repairSetup(t)
	dir := filepath.Dir(diffFile)
	raw, err := os.ReadFile(diffFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "truncated.json"), string(raw[:len(raw)/2]))
	// A streamed repair finds these only at the end of the file, after n2 has applied its
	// changes: they must roll back, and leave no undo file or report.
	lines := strings.SplitAfter(string(raw), "\n")
	entries := strings.Join(lines[:len(lines)-2], "")
	writeFile(t, filepath.Join(dir, "no-summary.json"), entries)
	last := lines[len(lines)-3]
	writeFile(t, filepath.Join(dir, "cut-entry.json"), strings.Join(lines[:len(lines)-3], "")+last[:len(last)/2])
	writeFile(t, filepath.Join(dir, "corrupt.json"), "{not json")
	writeFile(t, filepath.Join(dir, "v9.json"), strings.Replace(string(raw), "pgparity.diff/v2", "pgparity.diff/v9", 1))
	writeFile(t, filepath.Join(dir, "bad-action.yaml"), "default: overwrite\n")
	writeFile(t, filepath.Join(dir, "bad-freshest.yaml"), "default: freshest updated_at\n")
	writeFile(t, filepath.Join(dir, "bad-column.yaml"), "rules:\n  - when:\n      columns: [{column: nope, equals: 1}]\n    action: take n1\n")
	before := rowsOf(t, db, "n2")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown source", []string{"--source-of-truth", "n9"}, `source node "n9" is not a node of the diff file`},
		{"other table", []string{"c", "public.other", "--source-of-truth", "n1"}, `is for table public.t, not public.other`},
		{"other cluster", []string{"prod", "--source-of-truth", "n1"}, `is for cluster "c", not "prod"`},
		{"truncated", []string{"--source-of-truth", "n1", "--diff-file", "truncated.json"}, "is corrupt or truncated"},
		{"no summary line", []string{"--source-of-truth", "n1", "--diff-file", "no-summary.json"}, "no-summary.json is truncated: it ends after 3 entries without its summary line"},
		{"cut entry", []string{"--source-of-truth", "n1", "--diff-file", "cut-entry.json"}, "cut-entry.json: entry 3: "},
		{"corrupt", []string{"--source-of-truth", "n1", "--diff-file", "corrupt.json"}, "is corrupt or truncated"},
		{"unknown format", []string{"--source-of-truth", "n1", "--diff-file", "v9.json"}, `has format "pgparity.diff/v9"`},
		{"plan unknown action", []string{"--plan", "bad-action.yaml"}, `unknown action "overwrite"`},
		{"plan missing column", []string{"--plan", "bad-column.yaml"}, `names column "nope", which the diff file does not have`},
		{"plan freshest unknown column", []string{"--plan", "bad-freshest.yaml"}, `freshest updated_at: column "updated_at" is not a column of the diff file`},
		{"two modes", []string{"--source-of-truth", "n1", "--bidirectional"}, "conflicting modes --source-of-truth and --bidirectional"},
		{"insert and upsert", []string{"--source-of-truth", "n1", "--insert-only", "--upsert-only"}, "conflicting flags --insert-only and --upsert-only"},
		{"no mode", nil, "choose a repair mode"},
		{"sql without dry run", []string{"--source-of-truth", "n1", "--sql"}, "--sql prints the repair instead of applying it: it needs --dry-run"},
		{"sql with report", []string{"--source-of-truth", "n1", "--sql", "--dry-run", "--report", "r.json"}, "--sql writes no report and no undo file"},
		{"preserve origin bidirectional", []string{"--bidirectional", "--preserve-origin"}, "--preserve-origin goes with --source-of-truth only, not --bidirectional"},
		{"preserve origin sql", []string{"--source-of-truth", "n1", "--preserve-origin", "--sql", "--dry-run"}, "it does not go with --preserve-origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--service-file", svc, "table-repair", "--diff-file", diffFile}, tc.args...)
			code, _, stderr := run(t, args...)
			if code != ExitInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
	if after := rowsOf(t, db, "n2"); after != before {
		t.Fatalf("bad input changed n2: %s", after)
	}
	if got := listDir(t, dir); strings.Join(got, " ") != "bad-action.yaml bad-column.yaml bad-freshest.yaml corrupt.json cut-entry.json d.json no-summary.json truncated.json v9.json" {
		t.Errorf("files written on bad input: %v", got)
	}
}

func TestTableRepairDryRunThenRepair(t *testing.T) {
	db, svc, diffFile := repairSetup(t)
	dir := filepath.Dir(diffFile)
	before := rowsOf(t, db, "n2")
	code, stdout, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", diffFile, "--source-of-truth", "n1",
		"--dry-run", "--report", filepath.Join(dir, "dry.json"))
	if code != ExitOK || stderr != "" {
		t.Fatalf("dry run: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"dry run (nothing changed) of public.t (source-of-truth n1): dry-run", "would change on n2: 3",
		"  delete id=11", "  update id=2", "  insert id=3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}
	if after := rowsOf(t, db, "n2"); after != before {
		t.Fatalf("dry run changed n2: %s", after)
	}
	var dry repair.Result
	b, err := os.ReadFile(filepath.Join(dir, "dry.json"))
	if err != nil || json.Unmarshal(b, &dry) != nil {
		t.Fatalf("dry run report: %v", err)
	}
	if n2 := dry.Nodes[1]; n2.Node != "n2" || n2.Inserted != 1 || n2.Updated != 1 || n2.Deleted != 1 || n2.Committed || len(n2.Changes) != 3 {
		t.Errorf("dry run report n2: %+v", n2)
	}

	code, stdout, stderr = run(t, "--service-file", svc, "table-repair", "--diff-file", diffFile, "c", "public.t",
		"--source-of-truth", "n1", "--report", filepath.Join(dir, "rep.json"), "--undo-file", filepath.Join(dir, "undo.jsonl"))
	if code != ExitOK || stderr != "" {
		t.Fatalf("repair: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "verified: the repaired keys agree on every node") {
		t.Errorf("output:\n%s", stdout)
	}
	if got, want := rowsOf(t, db, "n2"), rowsOf(t, db, "n1"); got != want {
		t.Fatalf("n2 %s, want %s", got, want)
	}
	if code, _, stderr := run(t, "--service-file", svc, "table-rerun", "--diff-file", diffFile, "--quiet", "--out", filepath.Join(dir, "rerun.json")); code != ExitOK {
		t.Fatalf("table-rerun after repair: exit %d %s", code, stderr)
	}
	code, _, stderr = run(t, "--service-file", svc, "table-repair", "--undo", filepath.Join(dir, "undo.jsonl"), "--quiet",
		"--report", filepath.Join(dir, "undo-report.json"), "--undo-file", filepath.Join(dir, "redo.jsonl"))
	if code != ExitOK {
		t.Fatalf("undo: exit %d, %s", code, stderr)
	}
	if after := rowsOf(t, db, "n2"); after != before {
		t.Fatalf("undo left n2 as %s, want %s", after, before)
	}
}

func TestTableRepairDryRunSQL(t *testing.T) {
	db, svc, diffFile := repairSetup(t)
	dir := filepath.Dir(diffFile)
	before := rowsOf(t, db, "n2")
	code, stdout, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", diffFile, "--source-of-truth", "n1",
		"--dry-run", "--sql")
	if code != ExitOK || stderr != "" {
		t.Fatalf("dry run --sql: exit %d, stderr %q", code, stderr)
	}
	want := "-- node n2\nBEGIN;\nSET LOCAL DateStyle = 'ISO, YMD';\nSET LOCAL IntervalStyle = 'postgres';\n" +
		`UPDATE "public"."t" SET "v" = 'v2'::text WHERE ("id") = ('2'::integer);` + "\n" +
		`INSERT INTO "public"."t" ("id", "v") OVERRIDING SYSTEM VALUE VALUES ('3'::integer, 'v3'::text) ON CONFLICT ("id") DO UPDATE SET "v" = EXCLUDED."v";` + "\n" +
		`DELETE FROM "public"."t" WHERE ("id") = ('11'::integer);` + "\nCOMMIT;\n\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if after := rowsOf(t, db, "n2"); after != before {
		t.Fatalf("dry run --sql changed n2: %s", after)
	}
	if got := listDir(t, dir); strings.Join(got, " ") != "d.json" {
		t.Errorf("files written by --sql: %v", got)
	}
}
