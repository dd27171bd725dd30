package repair

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// setupBasic makes n2 and n3 differ from n1 in every way a key can.
func setupBasic(t *testing.T) *sandbox.DB {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, n numeric);
		INSERT INTO t SELECT i, 'v' || i, i / 4.0 FROM generate_series(1, 20) i`)
	db.Exec(t, `UPDATE t SET v = 'x2' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (21, 'extra', NULL)`, "n2")
	db.Exec(t, `UPDATE t SET v = NULL, n = 99 WHERE id = 4; DELETE FROM t WHERE id = 5`, "n3")
	return db
}

var basicWant = []string{"(1,v1,0.25000000000000000000)", "(2,v2,0.50000000000000000000)", "(3,v3,0.75000000000000000000)",
	"(4,v4,1.00000000000000000000)", "(5,v5,1.2500000000000000)"}

func TestSourceOfTruthConverges(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := table(t, db, "n1", "public.t", "id")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:1/1/0/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	for _, n := range all {
		wantRows(t, "table on "+n, table(t, db, n, "public.t", "id"), before)
	}
	wantRows(t, "first rows", before[:5], basicWant)
	// table-rerun on the same diff file now finds nothing.
	c := &report.Collector{}
	_, err := diff.Rerun(testContext(t), pools, report.FromDiff(d), "test", c)
	if err != nil || len(c.Diff.Rows) != 0 {
		t.Fatalf("rerun: %v, %+v", err, c.Diff)
	}
}

func TestUnknownSourceIsInputError(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := table(t, db, "n2", "public.t", "id")
	_, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n9"}, applyOpts(t), "test")
	if !fault.IsInput(err) {
		t.Fatalf("want input error, got %v", err)
	}
	wantRows(t, "n2 unchanged", table(t, db, "n2", "public.t", "id"), before)
	if errors.Is(err, fault.ErrDiffer) {
		t.Fatal("input error is not a difference")
	}
}

// TestStaleGuard changes, after the diff, rows the repair means to change: each is skipped and
// listed, and keeps its newer value; everything else is repaired.
// The guard takes the expected and new rows' hashes from the diff when it recorded them, else
// (older diff files, another hash rule) hashes them on the node: both give the same outcome.
func TestStaleGuard(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d *report.Diff)
	}{
		{"recorded hashes", func(d *report.Diff) {}},
		{"no recorded hashes", func(d *report.Diff) {
			for i := range d.Rows {
				d.Rows[i].Hashes = nil
			}
		}},
		{"another hash rule", func(d *report.Diff) { d.Options.RowHash = "some other rule" }},
	} {
		t.Run(tc.name, func(t *testing.T) { testStaleGuard(t, tc.edit) })
	}
}

func testStaleGuard(t *testing.T, edit func(d *report.Diff)) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	edit(d)
	// Since the diff: n2 changed row 2 again, inserted row 3 (other values), changed row 21;
	// n3 deleted row 4.
	db.Exec(t, `UPDATE t SET v = 'late' WHERE id = 2; INSERT INTO t VALUES (3, 'late3', 0); UPDATE t SET v = 'late21' WHERE id = 21`, "n2")
	db.Exec(t, `DELETE FROM t WHERE id = 4`, "n3")
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if !errors.Is(err, fault.ErrDiffer) || res.Status != StatusUnresolved {
		t.Fatalf("want ErrDiffer and status unresolved, got %v / %s", err, res.Status)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/0/0/0/3/true n3:1/0/0/0/1/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantStale(t, res, "n2", []string{
		"update id=2: the row changed since the diff",
		"insert id=3: the row was inserted since the diff",
		"delete id=21: the row changed since the diff",
	})
	wantStale(t, res, "n3", []string{"update id=4: the row was deleted since the diff"})
	wantRows(t, "n2 rows", dump(t, db, "n2", "SELECT r::text FROM t r WHERE id IN (2, 3, 21) ORDER BY id"),
		[]string{"(2,late,0.50000000000000000000)", "(3,late3,0)", "(21,late21,)"})
	wantRows(t, "n3 rows", dump(t, db, "n3", "SELECT r::text FROM t r WHERE id IN (4, 5) ORDER BY id"),
		[]string{"(5,v5,1.2500000000000000)"})
	if res.Verify == nil || res.Verify.StillDiffering != 4 {
		t.Errorf("verify %+v, want 4 keys still differing", res.Verify)
	}
}

// TestNoStaleGuard overwrites rows that changed since the diff, but still never inserts over a row
// that appeared or updates a row that vanished.
func TestNoStaleGuard(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	db.Exec(t, `UPDATE t SET v = 'late' WHERE id = 2; INSERT INTO t VALUES (3, 'late3', 0); UPDATE t SET v = 'late21' WHERE id = 21`, "n2")
	db.Exec(t, `DELETE FROM t WHERE id = 4`, "n3")
	ao := applyOpts(t)
	ao.NoStaleGuard = true
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if !errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want ErrDiffer, got %v", err)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/1/1/0/1/true n3:1/0/0/0/1/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantStale(t, res, "n2", []string{"insert id=3: the row was inserted since the diff"})
	wantStale(t, res, "n3", []string{"update id=4: the row was deleted since the diff"})
	wantRows(t, "n2 rows", dump(t, db, "n2", "SELECT r::text FROM t r WHERE id IN (2, 3, 21) ORDER BY id"),
		[]string{"(2,v2,0.50000000000000000000)", "(3,late3,0)"})
}

func wantStale(t *testing.T, res *Result, node string, want []string) {
	t.Helper()
	var got []string
	for _, s := range res.node(node).Stale {
		got = append(got, fmt.Sprintf("%s %s: %s", s.Kind, describe(s.Key), s.Reason))
	}
	wantRows(t, "stale on "+node, got, want)
}

// TestIdempotent runs the same repair twice: the second run finds every row in sync.
func TestIdempotent(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	after := map[string][]string{}
	for _, n := range all {
		after[n] = dump(t, db, n, "SELECT r::text || ' ' || xmin::text FROM t r ORDER BY id")
	}
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/0/0/3/0/true n3:0/0/0/2/0/true"; got != want {
		t.Errorf("second run counts %s, want %s", got, want)
	}
	for _, n := range all { // not even rewritten: xmin unchanged
		wantRows(t, "rows and xmin on "+n, dump(t, db, n, "SELECT r::text || ' ' || xmin::text FROM t r ORDER BY id"), after[n])
	}
}

// TestDryRunChangesNothing checks that a dry run leaves every node byte-identical (rows, their
// physical position and xmin), writes no undo file, and reports exactly the changes a repair makes.
func TestDryRunChangesNothing(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	snap := func() map[string][]string {
		m := map[string][]string{}
		for _, n := range all {
			m[n] = dump(t, db, n, "SELECT ctid::text || ' ' || xmin::text || ' ' || r::text FROM t r ORDER BY ctid")
		}
		return m
	}
	before := snap()
	ao := ApplyOptions{DryRun: true}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if err != nil || res.Status != StatusDryRun || res.Verify != nil || res.UndoFile != "" {
		t.Fatalf("dry run: %v, status %s, verify %v, undo %q", err, res.Status, res.Verify, res.UndoFile)
	}
	if !reflect.DeepEqual(snap(), before) {
		t.Fatal("a dry run changed a node")
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/false n3:1/1/0/0/0/false"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	var got []string
	for _, n := range res.Nodes {
		for _, c := range n.Changes {
			got = append(got, fmt.Sprintf("%s %s %s %s -> %s", n.Node, c.Op, describe(c.Key), jsonOf(c.Before), jsonOf(c.After)))
		}
	}
	wantRows(t, "changes", got, []string{
		`n2 update id=2 {"id":2,"v":"x2","n":"0.50000000000000000000"} -> {"id":2,"v":"v2","n":"0.50000000000000000000"}`,
		`n2 insert id=3 null -> {"id":3,"v":"v3","n":"0.75000000000000000000"}`,
		`n2 delete id=21 {"id":21,"v":"extra","n":null} -> null`,
		`n3 update id=4 {"id":4,"v":null,"n":"99"} -> {"id":4,"v":"v4","n":"1.00000000000000000000"}`,
		`n3 insert id=5 null -> {"id":5,"v":"v5","n":"1.2500000000000000"}`,
	})
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestGuardByHash: a row changed since the diff only in ways the comparison treats as equal
// (numeric scale) holds neither version's text, so the guard hashes it, finds the expected
// version and repairs it; the undo file keeps the exact text it replaced, and the repaired row
// is the source's, byte for byte.
func TestGuardByHash(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	db.Exec(t, `UPDATE t SET n = 0.5 WHERE id = 2`, "n2")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:1/1/0/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantRows(t, "row 2 on n2", dump(t, db, "n2", "SELECT r::text FROM t r WHERE id = 2"), []string{"(2,v2,0.50000000000000000000)"})
	u, err := ReadUndo(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range u.Entries {
		if e.Node == "n2" && e.Op == Update {
			got = append(got, jsonOf(e.Before)+" -> "+jsonOf(e.After))
		}
	}
	wantRows(t, "undo of row 2", got, []string{`{"id":2,"v":"x2","n":"0.5"} -> {"id":2,"v":"v2","n":"0.50000000000000000000"}`})
}

// TestPartialDiffWarns: repairing a diff cut short by --max-diff-rows repairs its keys and warns
// that the rest of the table was not looked at.
func TestPartialDiffWarns(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	d.Summary.Status, d.Summary.PartialReason = report.StatusPartial, "stopped after 5 differing keys (--max-diff-rows)"
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	want := fmt.Sprintf("the diff is partial (stopped after 5 differing keys (--max-diff-rows)): only its %d keys are repaired; "+
		"run table-diff again afterwards to find the rest", len(d.Rows))
	if len(res.Warnings) != 1 || res.Warnings[0] != want {
		t.Fatalf("warnings %q, want [%q]", res.Warnings, want)
	}
}
