package schema

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// holdLock takes an ACCESS EXCLUSIVE lock on table in another session on node, held until the
// test ends.
func holdLock(t *testing.T, db *sandbox.DB, node, table string) {
	t.Helper()
	holdLocks(t, db, node, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
}

// holdLocks runs sql in a transaction of another session on node, kept open (with the locks it
// took) until the test ends.
func holdLocks(t *testing.T, db *sandbox.DB, node, sql string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Connect(t, node).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// A table another session holds locked on one node fails alone, with the node and the reason:
// its structure there is not read (lock_timeout), nor what needs it (a view on it, the largest
// key of its sequence, a function whose SQL-standard body reads it); every other table is
// compared. A locked sequence fails the same way.
func TestRunLockedTableFailsAlone(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA app;
		CREATE TABLE app.locked (id serial PRIMARY KEY, v text DEFAULT 'x');
		CREATE VIEW app.lv AS SELECT id FROM app.locked;
		CREATE FUNCTION app.cnt() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM app.locked; END;
		CREATE TABLE app.other (id int PRIMARY KEY, v text);
		CREATE SEQUENCE app.s;
		INSERT INTO app.locked (v) VALUES ('a'), ('b');
		INSERT INTO app.other VALUES (1, 'a'), (2, 'b');`, "n1", "n2")
	db.Exec(t, `UPDATE app.other SET v = 'changed' WHERE id = 2; CREATE INDEX other_v ON app.other (v)`, "n2")
	// Renaming takes an ACCESS EXCLUSIVE lock (LOCK TABLE refuses sequences).
	holdLocks(t, db, "n2", "LOCK TABLE app.locked IN ACCESS EXCLUSIVE MODE; ALTER SEQUENCE app.s RENAME TO s2")
	pools := connectLockTimeout(t, db, 4, "300ms", "n1", "n2")

	started := time.Now()
	res, err := Run(testContext(t), pools, Options{Schema: "app", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took > 30*time.Second {
		t.Errorf("took %v", took)
	}
	reason := `"app"."locked" is locked by another session (no lock within lock_timeout)`
	seqReason := `"app"."s" is locked by another session (no lock within lock_timeout)`
	wantFailures := []Failure{
		{Kind: KindTable, Object: "locked", Node: "n2", Reason: reason},
		{Kind: KindSequence, Object: "s", Node: "n2", Reason: seqReason},
		{Kind: KindView, Object: "lv", Node: "n2", Reason: reason},
		{Kind: KindFunction, Object: "cnt()", Node: "n2", Reason: reason},
	}
	if !reflect.DeepEqual(res.Failures, wantFailures) {
		t.Errorf("failures:\n got %+v\nwant %+v", res.Failures, wantFailures)
	}
	type row struct{ name, status, structure, data, reason string }
	var got []row
	for _, tb := range res.Tables {
		s := ""
		for _, d := range tb.Structure {
			s += d.Describe(res.Nodes) + ";"
		}
		for _, f := range tb.Failures {
			s += "failed on " + f.Node + ";"
		}
		got = append(got, row{tb.Name, tb.Status, s, tb.Data.Status, tb.Data.Reason})
	}
	want := []row{
		{"locked", StatusFailed, "failed on n2;", StatusSkipped, "structure not read on n2"},
		{"other", StatusDiffer, "index other_v: only on n2 (CREATE INDEX other_v ON app.other USING btree (v)), not on n1;", StatusDiffer, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables:\n got %q\nwant %q", got, want)
	}
	if d := res.Tables[1].Data; d.DifferingRows != 1 {
		t.Errorf("other: %d differing rows", d.DifferingRows)
	}
	if len(res.Sequences) != 2 || res.Sequences[1].Name != "s" {
		t.Fatalf("sequences %+v", res.Sequences)
	}
	if s := res.Sequences[1]; s.Nodes["n1"].Error != "" || s.Nodes["n2"].Error != "state not read: "+seqReason {
		t.Errorf("sequence s: n1 %+v, n2 %+v", s.Nodes["n1"], s.Nodes["n2"])
	}
	seq := res.Sequences[0]
	if n1, n2 := seq.Nodes["n1"], seq.Nodes["n2"]; seq.Name != "locked_id_seq" || n1.Error != "" || n1.MaxKey == nil || *n1.MaxKey != 2 ||
		n2.Error != "largest key not read: "+reason || n2.MaxKey != nil || n2.IsBehind {
		t.Errorf("sequence %s: n1 %+v, n2 %+v", seq.Name, n1, n2)
	}
	if got := res.Failed(); !reflect.DeepEqual(got, []string{"locked"}) {
		t.Errorf("Failed() = %q", got)
	}
	if got, want := res.FailedObjects(), []string{"sequence s", "view lv", "function cnt()", "sequence locked_id_seq"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FailedObjects() = %q, want %q", got, want)
	}

	// A table locked while its data is compared fails alone, naming the node.
	data, err := diffTables(testContext(t), pools, "app", []tableJob{{name: "locked"}, {name: "other"}}, dataOptions())
	if err != nil {
		t.Fatal(err)
	}
	if data[0].Status != StatusFailed || data[0].Reason != "node n2: "+reason || data[1].Status != StatusDiffer {
		t.Errorf("data: %+v / %+v", data[0], data[1])
	}
}
