package schema

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// sixTables sets up schema app with six tables on n1..n3: same, data1 and data2 differ in data,
// col has an extra column on n2, idx has an extra index on n1, gone is missing on n3.
func sixTables(t *testing.T, db *sandbox.DB) {
	db.Exec(t, `CREATE SCHEMA app;
		CREATE TABLE app.same (id int PRIMARY KEY, v text);
		CREATE TABLE app.data1 (id int PRIMARY KEY, v text);
		CREATE TABLE app.data2 (id bigint PRIMARY KEY, v text);
		CREATE TABLE app.col (id int PRIMARY KEY, v text);
		CREATE TABLE app.idx (id int PRIMARY KEY, v text);
		INSERT INTO app.same SELECT g, 'v' || g FROM generate_series(1, 50) g;
		INSERT INTO app.data1 SELECT g, 'v' || g FROM generate_series(1, 50) g;
		INSERT INTO app.data2 SELECT g, 'v' || g FROM generate_series(1, 50) g;
		INSERT INTO app.col SELECT g, 'v' || g FROM generate_series(1, 5) g;
		INSERT INTO app.idx SELECT g, 'v' || g FROM generate_series(1, 5) g;`)
	db.Exec(t, `CREATE TABLE app.gone (id int PRIMARY KEY)`, "n1", "n2")
	db.Exec(t, `UPDATE app.data1 SET v = 'changed' WHERE id IN (3, 40)`, "n2")
	db.Exec(t, `DELETE FROM app.data2 WHERE id = 7`, "n3")
	db.Exec(t, `ALTER TABLE app.col ADD COLUMN extra int`, "n2")
	db.Exec(t, `CREATE INDEX idx_v ON app.idx (v)`, "n1")
}

func TestRunSixTables(t *testing.T) {
	db := sandbox.NewDB(t)
	sixTables(t, db)
	pools := connect(t, db, 4, "n1", "n2", "n3")
	res, err := Run(testContext(t), pools, Options{Schema: "app", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []string{"n1", "n2", "n3"}
	type row struct{ name, status, structure, data, reason string }
	var got []row
	for _, tb := range res.Tables {
		s := ""
		for i, d := range tb.Structure {
			if i > 0 {
				s += "; "
			}
			s += d.Describe(nodes)
		}
		got = append(got, row{tb.Name, tb.Status, s, tb.Data.Status, tb.Data.Reason})
	}
	want := []row{
		{"col", StatusDiffer, `column extra: only on n2 (integer), not on n1, n3`, StatusSkipped, `columns differ: column "extra" only on n2`},
		{"data1", StatusDiffer, "", StatusDiffer, ""},
		{"data2", StatusDiffer, "", StatusDiffer, ""},
		{"gone", StatusDiffer, "table gone: missing on n3", StatusSkipped, "missing on n3"},
		{"idx", StatusDiffer, "index idx_v: only on n1 (CREATE INDEX idx_v ON app.idx USING btree (v)), not on n2, n3", StatusIdentical, ""},
		{"same", StatusIdentical, "", StatusIdentical, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables:\n got %q\nwant %q", got, want)
	}
	byName := map[string]Table{}
	for _, tb := range res.Tables {
		byName[tb.Name] = tb
	}
	if d := byName["data1"].Data; d.DifferingRows != 2 || d.Diff == nil || d.Diff.Summary.Pairs["n1/n2"] != 2 || d.Diff.Summary.Pairs["n1/n3"] != 0 {
		t.Errorf("data1: %+v", d)
	}
	if d := byName["data2"].Data; d.DifferingRows != 1 || d.Diff.Summary.MissingOn["n3"] != 1 {
		t.Errorf("data2: %+v", d)
	}
	if !res.Differs() || len(res.Failed()) != 0 {
		t.Errorf("Differs %v, Failed %v", res.Differs(), res.Failed())
	}
}

func TestRunIdenticalAndDDLOnly(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA s;
		CREATE TYPE s.mood AS ENUM ('sad', 'ok');
		CREATE TABLE s.t (id serial PRIMARY KEY, m s.mood, CHECK (id > 0));
		CREATE VIEW s.v AS SELECT id FROM s.t;
		CREATE FUNCTION s.f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';
		INSERT INTO s.t (m) VALUES ('ok'), ('sad');`)
	pools := connect(t, db, 4, "n1", "n2", "n3")
	ctx := testContext(t)
	res, err := Run(ctx, pools, Options{Schema: "s", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Differs() || len(res.Structure) != 0 || len(res.Tables) != 1 || res.Tables[0].Status != StatusIdentical {
		t.Fatalf("identical schema: %+v", res)
	}

	db.Exec(t, `ALTER TYPE s.mood ADD VALUE 'happy';
		CREATE OR REPLACE FUNCTION s.f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 2';
		CREATE OR REPLACE VIEW s.v AS SELECT id, m FROM s.t;
		ALTER TABLE s.t ALTER COLUMN m SET DEFAULT 'ok', ENABLE ROW LEVEL SECURITY, REPLICA IDENTITY FULL;
		CREATE FUNCTION s.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';`, "n2")
	db.Exec(t, `CREATE FUNCTION s.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
		CREATE TRIGGER tr BEFORE INSERT ON s.t FOR EACH ROW EXECUTE FUNCTION s.trg();`, "n1", "n3")
	db.Exec(t, `ALTER TABLE s.t ENABLE ALWAYS TRIGGER tr`, "n3")
	res, err = Run(ctx, pools, Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.Structure {
		got = append(got, d.Kind+" "+d.Object+": "+d.Short(res.Nodes))
	}
	want := []string{
		"enum mood: labels differs",
		"table t: column m differs",
		"table t: replica identity differs",
		"table t: row level security differs",
		"table t: trigger tr missing on n2",
		"view v: definition md5 differs",
		"function f(a integer): body md5 differs",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("structure:\n got %q\nwant %q", got, want)
	}
	for _, d := range res.Structure {
		if d.Property == "trigger tr" {
			if got := d.Describe(res.Nodes); got != "trigger tr: n1 = CREATE TRIGGER tr BEFORE INSERT ON s.t FOR EACH ROW EXECUTE FUNCTION s.trg() [enabled]; n2 = (absent); n3 = CREATE TRIGGER tr BEFORE INSERT ON s.t FOR EACH ROW EXECUTE FUNCTION s.trg() [enabled always]" {
				t.Errorf("trigger: %s", got)
			}
		}
		if d.Property == "column m" {
			if got := d.Describe(res.Nodes); got != "column m: n1 = s.mood; n2 = s.mood DEFAULT 'ok'::s.mood; n3 = s.mood" {
				t.Errorf("column: %s", got)
			}
		}
	}
	// The view's query and the function's CREATE statement differ on n2 alone: a unified diff
	// from n1 to n2 each, none for n3 (same as n1).
	diffs := map[string]map[string]string{}
	for _, d := range res.Structure {
		if d.Diffs != nil {
			diffs[d.Kind+" "+d.Object+" "+d.Property] = d.Diffs
		}
	}
	wantDiffs := map[string]map[string]string{
		"view v definition md5": {"n2": "--- n1\n+++ n2\n@@ -1,2 +1,3 @@\n- SELECT t.id\n+ SELECT t.id,\n+    t.m\n    FROM s.t;\n"},
		"function f(a integer) body md5": {"n2": "--- n1\n+++ n2\n@@ -1,4 +1,4 @@\n CREATE OR REPLACE FUNCTION s.f(a integer)\n  RETURNS integer\n  LANGUAGE sql\n" +
			"-AS $function$SELECT a + 1$function$\n+AS $function$SELECT a + 2$function$\n"},
	}
	if !reflect.DeepEqual(diffs, wantDiffs) {
		t.Errorf("definition diffs:\n got %q\nwant %q", diffs, wantDiffs)
	}
	if tb := res.Tables[0]; tb.Status != StatusDiffer || tb.Data.Status != StatusSkipped || tb.Data.Reason != "--ddl-only" {
		t.Errorf("ddl-only table: %+v", tb)
	}
}

func TestRunUnknownSchema(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA only12`, "n1", "n2")
	pools := connect(t, db, 2, "n1", "n2", "n3")
	_, err := Run(testContext(t), pools, Options{Schema: "only12", Data: dataOptions()})
	if !fault.IsInput(err) || err.Error() != `schema "only12" does not exist on node(s) n3` {
		t.Errorf("got %v", err)
	}
	_, err = Run(testContext(t), pools, Options{Schema: "nope", Data: dataOptions()})
	if !fault.IsInput(err) || err.Error() != `schema "nope" does not exist on node(s) n1, n2, n3` {
		t.Errorf("got %v", err)
	}
}

// Function bodies that prosrc does not hold: a SQL-standard body (BEGIN ATOMIC, stored parsed in
// prosqlbody with an empty prosrc) and an aggregate (prosrc is "aggregate_dummy"; its
// definition is in pg_aggregate).
func TestRunFunctionBodiesOutsideProsrc(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA s;
		CREATE FUNCTION s.atomic(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + 1; END;
		CREATE FUNCTION s.other(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a * 2; END;`)
	db.Exec(t, `CREATE AGGREGATE s.agg(int) (sfunc = int4pl, stype = int, initcond = '0')`, "n1")
	db.Exec(t, `CREATE OR REPLACE FUNCTION s.atomic(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + 2; END;
		CREATE AGGREGATE s.agg(int) (sfunc = int4pl, stype = int, initcond = '5')`, "n2")
	pools := connect(t, db, 2, "n1", "n2")
	res, err := Run(testContext(t), pools, Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range res.Structure {
		got = append(got, d.Kind+" "+d.Object+": "+d.Short(res.Nodes))
	}
	want := []string{
		"aggregate agg(integer): aggregate differs",
		"function atomic(a integer): body md5 differs",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("structure:\n got %q\nwant %q", got, want)
	}
	for _, d := range res.Structure {
		if d.Property == "aggregate" {
			if got, want := d.Describe(res.Nodes), "aggregate: n1 = SFUNC int4pl(integer,integer) STYPE integer INITCOND 0; n2 = SFUNC int4pl(integer,integer) STYPE integer INITCOND 5"; got != want {
				t.Errorf("aggregate:\n got %s\nwant %s", got, want)
			}
		}
	}
}

func TestSkipReasonPartitionOfQuotedParent(t *testing.T) {
	snap := func(parent string) *Snapshot {
		return &Snapshot{Objects: map[ObjectID]map[string]string{{KindTable, "p1"}: {"kind": "table", "partition of": parent}}}
	}
	for _, tc := range []struct{ parent, want string }{
		{`s."my parts" FOR VALUES FROM (0) TO (10)`, `partition of s."my parts": its rows are compared through the parent`},
		{`s."a DEFAULT b" DEFAULT`, `partition of s."a DEFAULT b": its rows are compared through the parent`},
		{`s.parts FOR VALUES IN (1)`, `partition of s.parts: its rows are compared through the parent`},
	} {
		if got := skipReason([]string{"n1"}, []*Snapshot{snap(tc.parent)}, "p1", false, false); got != tc.want {
			t.Errorf("skipReason(%q) = %q, want %q", tc.parent, got, tc.want)
		}
	}
}

// TestRunStreamsEachTable: every compared table's differing keys go to a sink of its own as they
// are found (the result keeps only the summary); a table whose sink cannot be opened fails alone.
func TestRunStreamsEachTable(t *testing.T) {
	db := sandbox.NewDB(t)
	sixTables(t, db)
	pools := connect(t, db, 4, "n1", "n2", "n3")
	sinks := newSinkLog()
	sinks.failOn = "same"
	o := dataOptions()
	o.Sink = sinks.sink
	res, err := Run(testContext(t), pools, Options{Schema: "app", Data: o})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	for ref, s := range sinks.sinks {
		if ref.Schema != "app" || s.aborted || !s.ended {
			t.Errorf("sink of %s: aborted %v, ended %v", ref, s.aborted, s.ended)
		}
		asked = append(asked, ref.Name)
	}
	sort.Strings(asked)
	if want := []string{"data1", "data2", "idx"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("sinks asked for %q, want %q (same failed, col and gone are not compared)", asked, want)
	}
	type key struct {
		id     string
		values map[string]string // node -> v, "-" when the node lacks the row
	}
	keys := func(d *report.Diff) []key {
		var out []key
		for _, r := range d.Rows {
			k := key{id: fmt.Sprint(r.Key[0].Value), values: map[string]string{}}
			for n, rec := range r.Values {
				k.values[n] = "-"
				if rec != nil {
					v, _ := rec.Get("v")
					k.values[n] = fmt.Sprint(v)
				}
			}
			out = append(out, k)
		}
		return out
	}
	if got, want := keys(sinks.diff("app", "data1")), []key{
		{"3", map[string]string{"n1": "v3", "n2": "changed", "n3": "v3"}},
		{"40", map[string]string{"n1": "v40", "n2": "changed", "n3": "v40"}},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("data1 keys %v, want %v", got, want)
	}
	if got, want := keys(sinks.diff("app", "data2")), []key{{"7", map[string]string{"n1": "v7", "n2": "v7", "n3": "-"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("data2 keys %v, want %v", got, want)
	}
	if d := sinks.diff("app", "idx"); len(d.Rows) != 0 || d.Summary.Status != report.StatusMatch {
		t.Errorf("idx: %d rows, status %s", len(d.Rows), d.Summary.Status)
	}
	byName := map[string]Table{}
	for _, tb := range res.Tables {
		byName[tb.Name] = tb
	}
	if d := byName["data1"].Data; d.Status != StatusDiffer || d.DifferingRows != 2 || len(d.Diff.Rows) != 0 || d.Diff.Summary.DifferingKeys != 2 {
		t.Errorf("data1 result keeps rows or lacks the summary: %+v", d)
	}
	if tb := byName["same"]; tb.Status != StatusFailed || tb.Data.Status != StatusFailed || tb.Data.Reason != "cannot write the diff of app.same" {
		t.Errorf("same: %+v", tb)
	}
	if got := res.Failed(); !reflect.DeepEqual(got, []string{"same"}) {
		t.Errorf("failed tables %q", got)
	}
}
