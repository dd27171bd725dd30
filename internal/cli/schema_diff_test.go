package cli

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// subscribeN2 subscribes n2 to publication pub on n1 and waits for the initial sync; the
// subscription is dropped before the test database is.
func subscribeN2(t *testing.T, db *sandbox.DB, pub string) string {
	t.Helper()
	name := "s_" + db.Name
	db.Exec(t, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d user=%s password=%s dbname=%s' PUBLICATION %s",
		name, db.Nodes()[0].Port, sandbox.Superuser, db.Sandbox.Password, db.Name, pub), "n2")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db.ConnString("n2"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SUBSCRIPTION "+name); err != nil {
			t.Error(err)
		}
	})
	pollTrue(t, db, "n2", "SELECT count(*) FILTER (WHERE srsubstate <> 'r') = 0 FROM pg_catalog.pg_subscription_rel")
	return name
}

func pollTrue(t *testing.T, db *sandbox.DB, node, sql string) {
	t.Helper()
	conn := db.Connect(t, node)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		if err := conn.QueryRow(context.Background(), sql).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out on %s: %s", node, sql)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tableRows returns the summary table rows of schema-diff output as fields split on 2+ spaces.
func tableRows(t *testing.T, stdout string) [][]string {
	t.Helper()
	_, after, ok := strings.Cut(stdout, "TABLE ")
	if !ok {
		t.Fatalf("no summary table in\n%s", stdout)
	}
	var out [][]string
	for _, line := range strings.Split(after, "\n")[1:] {
		if line == "" {
			break
		}
		var f []string
		for _, p := range strings.Split(line, "  ") {
			if p = strings.TrimSpace(p); p != "" {
				f = append(f, p)
			}
		}
		out = append(out, f)
	}
	return out
}

func TestSchemaDiffSixTables(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA app;
		CREATE TABLE app.same (id int PRIMARY KEY, v text);
		CREATE TABLE app.data1 (id int PRIMARY KEY, v text);
		CREATE TABLE app.data2 (id int PRIMARY KEY, v text);
		CREATE TABLE app.col (id int PRIMARY KEY, v text);
		CREATE TABLE app.idx (id int PRIMARY KEY, v text);
		INSERT INTO app.same SELECT g, 'v' || g FROM generate_series(1, 40) g;
		INSERT INTO app.data1 SELECT g, 'v' || g FROM generate_series(1, 40) g;
		INSERT INTO app.data2 SELECT g, 'v' || g FROM generate_series(1, 40) g;
		INSERT INTO app.col SELECT g, 'v' || g FROM generate_series(1, 5) g;
		INSERT INTO app.idx SELECT g, 'v' || g FROM generate_series(1, 5) g;`)
	db.Exec(t, `CREATE TABLE app.gone (id int PRIMARY KEY)`, "n1")
	db.Exec(t, `UPDATE app.data1 SET v = 'changed' WHERE id IN (3, 30);
		DELETE FROM app.data2 WHERE id = 7;
		ALTER TABLE app.col ADD COLUMN extra int`, "n2")
	db.Exec(t, `CREATE INDEX idx_v ON app.idx (v)`, "n1")
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "schema-diff", "c", "app", "--concurrency", "3", "--block-size", "10")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	files := listDir(t, dir)
	if len(files) != 2 || !strings.HasPrefix(files[0], "app_data1_diff_") || !strings.HasPrefix(files[1], "app_data2_diff_") {
		t.Fatalf("diff files %v", files)
	}
	// Each differing table's keys are in its own diff file: data1 keys 3 and 30 changed on n2,
	// data2 key 7 missing on n2.
	for i, want := range []string{
		"app.data1 [3 n1=v3 n2=changed] [30 n1=v30 n2=changed]",
		"app.data2 [7 n1=v7 n2=-]",
	} {
		d, err := report.Read(filepath.Join(dir, files[i]))
		if err != nil {
			t.Fatal(err)
		}
		got := "" + d.Table.String()
		for _, r := range d.Rows {
			got += fmt.Sprintf(" [%v", r.Key[0].Value)
			for _, n := range d.Nodes {
				v := "-"
				if rec := r.Values[n]; rec != nil {
					x, _ := rec.Get("v")
					v = fmt.Sprint(x)
				}
				got += " " + n + "=" + v
			}
			got += "]"
		}
		if got != want || d.Summary.Status != report.StatusDiffer || len(d.Transient) != 0 {
			t.Errorf("diff file %s: %s, status %s; want %s", files[i], got, d.Summary.Status, want)
		}
	}
	want := [][]string{
		{"col", "differ", "column extra only on n2", `skipped: columns differ: column "extra" only on n2`, "-"},
		{"data1", "differ", "identical", "2 differing row(s) (n1/n2 2)", files[0]},
		{"data2", "differ", "identical", "1 differing row(s) (n1/n2 1)", files[1]},
		{"gone", "differ", "missing on n2", "skipped: missing on n2", "-"},
		{"idx", "differ", "index idx_v only on n1", "identical", "-"},
		{"same", "identical", "identical", "identical", "-"},
	}
	if got := tableRows(t, stdout); !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n got %q\nwant %q\n%s", got, want, stdout)
	}
	for _, line := range []string{
		"structure: 3 difference(s)\n",
		"  table col: column extra: only on n2 (integer), not on n1\n",
		"  table gone: missing on n2\n",
		"  table idx: index idx_v: only on n1 (CREATE INDEX idx_v ON app.idx USING btree (v)), not on n2\n",
		"\n6 table(s): 1 identical, 5 differ, 0 skipped, 0 failed\n",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("output lacks %q:\n%s", line, stdout)
		}
	}

	// --ddl-only and --skip-tables: no data compared, no new diff files.
	code, stdout, _ = run(t, "--service-file", svc, "schema-diff", "c", "app", "--skip-tables", "app.data1,data2", "--json")
	if code != ExitDiffer {
		t.Fatalf("--skip-tables: exit %d", code)
	}
	var res struct {
		Tables []struct {
			Name   string
			Status string
			Data   struct{ Status, Reason string }
		}
		DiffFiles map[string]string `json:"diff_files"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Tables[1].Name != "data1" || res.Tables[1].Status != "skipped" || res.Tables[1].Data.Reason != "--skip-tables" || res.Tables[2].Data.Status != "skipped" {
		t.Errorf("--skip-tables: %+v", res.Tables)
	}
	if res.DiffFiles == nil || len(res.DiffFiles) != 0 || !reflect.DeepEqual(listDir(t, dir), files) {
		t.Errorf("--skip-tables wrote diff files: %v, directory %v", res.DiffFiles, listDir(t, dir))
	}

	db.Exec(t, `DROP TABLE app.gone; DROP TABLE app.col; DROP INDEX app.idx_v; DROP TABLE app.data1; DROP TABLE app.data2`, "n1")
	db.Exec(t, `DROP TABLE app.col; DROP TABLE app.data1; DROP TABLE app.data2`, "n2")
	code, stdout, stderr = run(t, "--service-file", svc, "schema-diff", "c", "app")
	if code != ExitOK || stderr != "" || !strings.Contains(stdout, "2 table(s): 2 identical, 0 differ, 0 skipped, 0 failed") {
		t.Errorf("clean: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

func TestSchemaDiffSequencesFix(t *testing.T) {
	isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.t (id serial PRIMARY KEY, v text)`)
	db.Exec(t, `INSERT INTO public.t (v) SELECT 'v' || g FROM generate_series(1, 12) g;
		CREATE PUBLICATION p FOR TABLE public.t`, "n1")
	subscribeN2(t, db, "p")
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "schema-diff", "c", "public", "--fix-sequences")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("dry run: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	for _, line := range []string{
		"t_id_seq  public.t.id  n2    -           1     12       BEHIND: nextval would return an existing key\n",
		"sequence fixes (dry run; add --apply to run them):\n  would run on n2: SELECT pg_catalog.setval('\"public\".\"t_id_seq\"', 12, true);  -- next value 1 -> 13\n",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("dry run output lacks %q:\n%s", line, stdout)
		}
	}
	code, stdout, _ = run(t, "--service-file", svc, "schema-diff", "c", "public", "--fix-sequences", "--apply")
	if code != ExitOK || !strings.Contains(stdout, "  advanced on n2: ") {
		t.Fatalf("apply: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, "--service-file", svc, "schema-diff", "c", "public")
	if code != ExitOK || !strings.Contains(stdout, "t_id_seq  public.t.id  n2    12          13    12       ok\n") {
		t.Errorf("re-run: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := run(t, "--service-file", svc, "schema-diff", "c", "public", "--apply"); code != ExitInput || stderr != "pgparity: --apply needs --fix-sequences\n" {
		t.Errorf("--apply alone: exit %d, %q", code, stderr)
	}
}

// presentOn lists the nodes holding a row.
func presentOn(nodes []string, r report.Row) []string {
	var out []string
	for _, n := range nodes {
		if r.Values[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

func TestPublicationAndReplicationDiff(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.c (id int PRIMARY KEY)`)
	db.Exec(t, `INSERT INTO public.a SELECT generate_series(1, 20); INSERT INTO public.c VALUES (1);
		CREATE PUBLICATION p FOR TABLE public.a`, "n1")
	sub := subscribeN2(t, db, "p")
	db.Exec(t, `ALTER PUBLICATION p ADD TABLE public.c`, "n1")
	db.Exec(t, `DELETE FROM public.a WHERE id = 5`, "n2")
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "publication-diff", "c", "p")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("publication-diff: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "publication p on n1 publisher, n2 subscriber ("+sub+")\n") ||
		!strings.Contains(stdout, "  table public.c: only on n1 (published), not on n2\n") {
		t.Errorf("publication-diff output:\n%s", stdout)
	}
	rows := tableRows(t, stdout)
	if len(rows) != 2 || !reflect.DeepEqual(rows[0][:4], []string{"public.a", "differ", "identical", "1 differing row(s) (n1/n2 1)"}) ||
		!reflect.DeepEqual(rows[1][:4], []string{"public.c", "differ", "table public.c only on n1", "1 differing row(s) (n1/n2 1)"}) {
		t.Errorf("publication-diff tables %q\n%s", rows, stdout)
	}

	// Each differing member table has its diff file, named in the table and holding its key.
	files := listDir(t, dir)
	if len(files) != 2 || !strings.HasPrefix(files[0], "public_a_diff_") || !strings.HasPrefix(files[1], "public_c_diff_") ||
		rows[0][4] != files[0] || rows[1][4] != files[1] {
		t.Fatalf("diff files %v, table rows %q", files, rows)
	}
	for i, want := range []string{"public.a 5 on n1", "public.c 1 on n1"} {
		d, err := report.Read(filepath.Join(dir, files[i]))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Rows) != 1 {
			t.Fatalf("%s: %d rows", files[i], len(d.Rows))
		}
		r := d.Rows[0]
		if got := fmt.Sprintf("%s %v on %s", d.Table, r.Key[0].Value, strings.Join(presentOn(d.Nodes, r), ",")); got != want {
			t.Errorf("%s holds %s, want %s", files[i], got, want)
		}
	}

	code, stdout, _ = run(t, "--service-file", svc, "replication-diff", "c")
	if code != ExitDiffer || !strings.Contains(stdout, "findings: 1\n  BROKEN  n2: table public.c is in publication p on n1 but not subscribed by "+sub) {
		t.Errorf("replication-diff: exit %d\n%s", code, stdout)
	}
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	pollTrue(t, db, "n1", "SELECT NOT active FROM pg_catalog.pg_replication_slots WHERE slot_name = '"+sub+"'")
	code, stdout, _ = run(t, "--service-file", svc, "replication-diff", "c", "--json")
	if code != ExitDiffer {
		t.Fatalf("replication-diff --json: exit %d", code)
	}
	var top struct {
		Findings []struct{ Node, Severity, Message string }
	}
	if err := json.Unmarshal([]byte(stdout), &top); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range top.Findings {
		got = append(got, f.Node+" "+f.Severity+" "+strings.SplitN(f.Message, " retains", 2)[0])
	}
	want := []string{
		"n1 risky slot " + sub + " is inactive and",
		"n2 broken subscription " + sub + " is disabled: no changes are applied",
		"n2 broken table public.c is in publication p on n1 but not subscribed by " + sub + " (missing on the subscriber, or ALTER SUBSCRIPTION " + sub + " REFRESH PUBLICATION was not run)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n got %q\nwant %q", got, want)
	}
}

func TestSchemaAndPublicationUnknownExit2(t *testing.T) {
	isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA half; CREATE PUBLICATION half`, "n1")
	svc := db.ServiceFile(t, "c")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"schema-diff", "c", "half"}, `pgparity: schema "half" does not exist on node(s) n2` + "\n"},
		{[]string{"schema-diff", "c", "nope"}, `pgparity: schema "nope" does not exist on node(s) n1, n2` + "\n"},
		{[]string{"publication-diff", "c", "half"}, `pgparity: publication "half" does not exist on node(s) n2, and no subscription there subscribes to it` + "\n"},
		{[]string{"publication-diff", "c", "nope"}, `pgparity: publication "nope" does not exist on node(s) n1, n2, and no subscription there subscribes to it` + "\n"},
		{[]string{"schema-diff", "c", "public", "--skip-tables", "ghost"}, "pgparity: --skip-tables: ghost is not a table of schema public on any node\n"},
	} {
		code, stdout, stderr := run(t, append([]string{"--service-file", svc}, tc.args...)...)
		if code != ExitInput || stderr != tc.want || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %q", tc.args, code, stderr, stdout, tc.want)
		}
	}
}

// A table another session holds locked on n2 fails alone with the node and the reason; the
// other table is compared and its diff file written; the run exits 3.
func TestSchemaDiffLockedTableExit3(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA app;
		CREATE TABLE app.locked (id serial PRIMARY KEY, v text);
		CREATE VIEW app.lv AS SELECT id FROM app.locked;
		CREATE TABLE app.other (id int PRIMARY KEY, v text);
		INSERT INTO app.locked (v) VALUES ('a'), ('b');
		INSERT INTO app.other VALUES (1, 'a'), (2, 'b');`)
	db.Exec(t, `UPDATE app.other SET v = 'changed' WHERE id = 2`, "n2")
	ctx := context.Background()
	tx, err := db.Connect(t, "n2").Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, "LOCK TABLE app.locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "schema-diff", "c", "app", "--lock-timeout", "300ms")
	wantErr := "pgparity: 1 table(s) failed: locked; 2 other object(s) failed: view lv, sequence locked_id_seq\n"
	if code != ExitRuntime || stderr != wantErr {
		t.Fatalf("exit %d, stderr %q (want %q)\n%s", code, stderr, wantErr, stdout)
	}
	locked := `"app"."locked" is locked by another session (no lock within lock_timeout)`
	for _, part := range []string{
		"structure: 0 difference(s)\nstructure not read: 2 object(s)\n" +
			"  table locked: failed on n2: " + locked + "\n" +
			"  view lv: failed on n2: " + locked + "\n\n",
		"FAILED: largest key not read: " + locked + "\n",
		"\n2 table(s): 0 identical, 1 differ, 0 skipped, 1 failed\n",
	} {
		if !strings.Contains(stdout, part) {
			t.Errorf("output lacks %q:\n%s", part, stdout)
		}
	}
	files := listDir(t, dir)
	if len(files) != 1 || !strings.HasPrefix(files[0], "app_other_diff_") {
		t.Fatalf("diff files %v", files)
	}
	want := [][]string{
		{"locked", "failed", "failed on n2: " + locked, "skipped: structure not read on n2", "-"},
		{"other", "differ", "identical", "1 differing row(s) (n1/n2 1)", files[0]},
	}
	if got := tableRows(t, stdout); !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n got %q\nwant %q\n%s", got, want, stdout)
	}

	code, stdout, _ = run(t, "--service-file", svc, "schema-diff", "c", "app", "--lock-timeout", "300ms", "--ddl-only", "--json")
	var res struct {
		Failures []struct{ Kind, Object, Node, Reason string }
		Tables   []struct {
			Name, Status string
			Failures     []struct{ Node, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stdout)
	}
	if code != ExitRuntime || len(res.Failures) != 2 || res.Failures[1].Kind != "view" || res.Failures[1].Reason != locked ||
		res.Tables[0].Status != "failed" || len(res.Tables[0].Failures) != 1 || res.Tables[0].Failures[0].Node != "n2" || res.Tables[1].Status != "identical" {
		t.Errorf("--json: exit %d, %+v", code, res)
	}
}

// A differing view definition is shown as a unified diff, in the terminal and in the JSON.
func TestSchemaDiffDefinitionUnifiedDiff(t *testing.T) {
	isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA s; CREATE TABLE s.t (id int PRIMARY KEY, m text); CREATE VIEW s.v AS SELECT id FROM s.t`)
	db.Exec(t, `CREATE OR REPLACE VIEW s.v AS SELECT id, m FROM s.t`, "n2")
	svc := db.ServiceFile(t, "c")
	wantDiff := "--- n1\n+++ n2\n@@ -1,2 +1,3 @@\n- SELECT t.id\n+ SELECT t.id,\n+    t.m\n    FROM s.t;\n"

	code, stdout, _ := run(t, "--service-file", svc, "schema-diff", "c", "s", "--ddl-only")
	md5hex := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	want := "structure: 1 difference(s)\n" +
		"  view v: definition md5: n1 = " + md5hex(" SELECT t.id\n   FROM s.t;") + "; n2 = " + md5hex(" SELECT t.id,\n    t.m\n   FROM s.t;") + "\n" +
		"      --- n1\n      +++ n2\n      @@ -1,2 +1,3 @@\n      - SELECT t.id\n      + SELECT t.id,\n      +    t.m\n          FROM s.t;\n\n"
	if code != ExitDiffer || !strings.Contains(stdout, want) {
		t.Errorf("exit %d; output lacks\n%s\nin\n%s", code, want, stdout)
	}
	code, stdout, _ = run(t, "--service-file", svc, "schema-diff", "c", "s", "--ddl-only", "--json")
	var res struct {
		Structure []struct {
			Kind, Object, Property string
			Diffs                  map[string]string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if code != ExitDiffer || len(res.Structure) != 1 || res.Structure[0].Property != "definition md5" ||
		!reflect.DeepEqual(res.Structure[0].Diffs, map[string]string{"n2": wantDiff}) {
		t.Errorf("--json: exit %d, %+v", code, res.Structure)
	}
}

// publication-diff --skip-tables and --skip-file, as schema-diff has them: skipped tables are
// listed as skipped; a missing file, an unknown table or a bad name is exit 2 with nothing
// written.
func TestPublicationDiffSkipTables(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE TABLE public.c (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE public.a, public.b, public.c`)
	db.Exec(t, `INSERT INTO public.a VALUES (1); INSERT INTO public.b VALUES (1); INSERT INTO public.c VALUES (1)`, "n1")
	svc := db.ServiceFile(t, "c")
	writeFile(t, filepath.Join(dir, "skip.txt"), "# not compared\npublic.c  # comment\n\n")
	writeFile(t, filepath.Join(dir, "bad.txt"), "public.a\n\"unclosed\n")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--skip-file", "missing.txt"}, "pgparity: cannot read --skip-file: open missing.txt: no such file or directory\n"},
		{[]string{"--skip-tables", "ghost"}, "pgparity: --skip-tables: public.ghost is not a table of publication p on any node\n"},
		{[]string{"--skip-file", "bad.txt"}, `pgparity: table name "\"unclosed" has an unclosed quote` + "\n"},
		{[]string{"--lock-timeout", "-1s"}, "pgparity: --lock-timeout must be 0 (the server's lock_timeout) or more, got -1s\n"},
	} {
		code, stdout, stderr := run(t, append([]string{"--service-file", svc, "publication-diff", "c", "p"}, tc.args...)...)
		if code != ExitInput || stderr != tc.want || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %q", tc.args, code, stderr, stdout, tc.want)
		}
	}
	code, stdout, stderr := run(t, "--service-file", svc, "schema-diff", "c", "public", "--skip-file", "missing.txt")
	if code != ExitInput || stderr != "pgparity: cannot read --skip-file: open missing.txt: no such file or directory\n" || stdout != "" {
		t.Errorf("schema-diff --skip-file missing.txt: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if files := listDir(t, dir); !reflect.DeepEqual(files, []string{"bad.txt", "skip.txt"}) {
		t.Fatalf("bad input wrote %v", files)
	}

	code, stdout, stderr = run(t, "--service-file", svc, "publication-diff", "c", "p", "--skip-tables", "B", "--skip-file", "skip.txt")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	files := listDir(t, dir)
	if len(files) != 3 || !strings.HasPrefix(files[1], "public_a_diff_") {
		t.Fatalf("diff files %v", files)
	}
	want := [][]string{
		{"public.a", "differ", "identical", "1 differing row(s) (n1/n2 1)", files[1]},
		{"public.b", "skipped", "identical", "skipped: --skip-tables", "-"},
		{"public.c", "skipped", "identical", "skipped: --skip-tables", "-"},
	}
	if got := tableRows(t, stdout); !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n got %q\nwant %q\n%s", got, want, stdout)
	}
	if !strings.Contains(stdout, "\n3 table(s): 0 identical, 1 differ, 2 skipped, 0 failed\n") {
		t.Errorf("counts:\n%s", stdout)
	}
	code, stdout, _ = run(t, "--service-file", svc, "publication-diff", "c", "p", "--skip-tables", "public.a,b,c", "--json")
	var res struct {
		Tables []struct {
			Name, Status string
			Data         struct{ Status, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range res.Tables {
		got = append(got, tb.Name+" "+tb.Status+" "+tb.Data.Status+" "+tb.Data.Reason)
	}
	if wantJSON := []string{"public.a skipped skipped --skip-tables", "public.b skipped skipped --skip-tables", "public.c skipped skipped --skip-tables"}; code != ExitOK || !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("--json: exit %d, tables %q", code, got)
	}
}
