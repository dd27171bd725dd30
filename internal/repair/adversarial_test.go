package repair

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestWhereDiffKeepsRowsOutsideFilter: a diff taken with --where lists a key as missing on a node
// whose row is merely outside the filter there. Repairing from that node must not delete the
// other nodes' row (the source has the key), nor insert over the node's own row; keys really
// missing or extra are repaired.
func TestWhereDiffKeepsRowsOutsideFilter(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, status text);
		INSERT INTO t VALUES (1, 'open'), (5, 'open'), (6, 'open')`)
	db.Exec(t, `UPDATE t SET status = 'closed' WHERE id = 5; INSERT INTO t VALUES (7, 'open')`, "n1")
	db.Exec(t, `UPDATE t SET status = 'closed' WHERE id = 6; INSERT INTO t VALUES (8, 'open')`, "n2")
	pools := connect(t, db, "n1", "n2")
	c := &report.Collector{}
	_, err := diff.Run(testContext(t), pools, diff.Options{Cluster: "test", Schema: "public", Table: "t", Where: "status = 'open'",
		BlockSize: 10, Concurrency: 2, MaxDiffRows: 1000, Tool: "test"}, c)
	d := c.Diff
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 4 {
		t.Fatalf("diff has %d rows, want 4 (5, 6, 7, 8)", len(d.Rows))
	}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if !errors.Is(err, fault.ErrDiffer) || res.Status != StatusUnresolved {
		t.Fatalf("want ErrDiffer and status unresolved, got %v / %s", err, res.Status)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/0/1/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	var held []string
	for _, h := range res.Held {
		held = append(held, h.Node+" "+string(h.Kind)+" "+describe(h.Key)+": "+h.Reason)
	}
	wantRows(t, "held back", held, []string{
		"n2 delete id=5: n1 holds this key outside the diff's --where filter: its row is not in the diff",
		"n2 insert id=6: n2 holds this key outside the diff's --where filter: its row is not in the diff",
	})
	wantRows(t, "n2", table(t, db, "n2", "t", "id"), []string{"(1,open)", "(5,open)", "(6,closed)", "(7,open)"})
}

// TestNotNullDomainColumn: a column of a NOT NULL domain. Updates send only the columns they set
// and deletes only the key, the rest travel as NULL: the rows to write must not be typed by the
// domain, or loading them fails and no row with such a column can ever be updated or deleted.
func TestNotNullDomainColumn(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE DOMAIN nnint AS int NOT NULL CHECK (VALUE > 0);
		CREATE DOMAIN code AS text NOT NULL;
		CREATE TABLE t (id code PRIMARY KEY, v text, q nnint);
		INSERT INTO t VALUES ('a', 'a', 1), ('b', 'b', 2), ('c', 'c', 3)`)
	db.Exec(t, `UPDATE t SET v = 'x' WHERE id = 'a'; DELETE FROM t WHERE id = 'b'; INSERT INTO t VALUES ('d', 'd', 4)`, "n2")
	db.Exec(t, `UPDATE t SET q = 9 WHERE id = 'c'`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:0/1/0/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	for _, n := range all {
		wantRows(t, "rows on "+n, table(t, db, n, "t", "id"), []string{"(a,a,1)", "(b,b,2)", "(c,c,3)"})
	}
}

// TestIdentityAlwaysColumn: a GENERATED ALWAYS identity column that is not the key may only be
// updated to DEFAULT. An update that does not change it must not name it; a row missing on a
// node is inserted with the source's identity value.
func TestIdentityAlwaysColumn(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (code text PRIMARY KEY, seq int GENERATED ALWAYS AS IDENTITY, v text);
		INSERT INTO t (code, v) VALUES ('a', 'a'), ('b', 'b'), ('c', 'c')`)
	db.Exec(t, `UPDATE t SET v = 'x' WHERE code = 'a'; DELETE FROM t WHERE code = 'b'`, "n2")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/0/0/0/true n3:0/0/0/0/0/false"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantRows(t, "rows on n2", table(t, db, "n2", "t", "code"), []string{"(a,1,a)", "(b,2,b)", "(c,3,c)"})
}

// TestVerifyFailureAfterCommitIsNotInputError: once nodes have committed, a failure of the
// verification (here the diff file's --where filter, which only the verification reads, is
// invalid) must not be reported as an input error (exit 2 means nothing changed, and the command
// then writes no report): it is a runtime failure, and the result says what committed.
func TestVerifyFailureAfterCommitIsNotInputError(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	d.Options.Where = "no_such_column = 1"
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if err == nil || errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want a verification error, got %v", err)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:1/1/0/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	if fault.IsInput(err) {
		t.Errorf("nodes committed, but the error is an input error (exit 2): %v", err)
	}
	if res.Status != StatusFailed || res.UndoFile == "" {
		t.Errorf("status %s, undo file %q", res.Status, res.UndoFile)
	}
}

// TestUndoAfterCommitFailed: "commit failed" means the outcome is unknown (the connection can
// break after the server committed, before the client heard it). Undo must still restore such a
// node: its stale guard leaves rows alone that the repair did not change. Here the commit went
// through and the status line says it failed.
func TestUndoAfterCommitFailed(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := table(t, db, "n3", "public.t", "id")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	raw, err := os.ReadFile(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `{"node":"n3","op":"","key":{},"status":"committed"}`, `{"node":"n3","op":"","key":{},"status":"commit failed"}`, 1)
	if edited == string(raw) {
		t.Fatalf("no status line of n3 in %s", raw)
	}
	if err := os.WriteFile(res.UndoFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	ures, err := Undo(testContext(t), pools, res.UndoFile, applyOpts(t))
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if got, want := counts(ures), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:0/1/1/0/0/true"; got != want {
		t.Errorf("undo counts %s, want %s", got, want)
	}
	wantRows(t, "n3 restored", table(t, db, "n3", "public.t", "id"), before)
}

// TestWholeRowNoStaleGuardKeepsDirection: without the stale guard a whole-row change still only
// does what it is: copies planned to be inserted (--insert-only) are never turned into deletes
// because the node gained copies since the diff.
func TestWholeRowNoStaleGuardKeepsDirection(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (a int, b text)`)
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a'), (2, 'b')`, "n1")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (2, 'b')`, "n2", "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "w")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a')`, "n3") // n3 now holds 3 copies
	ao := applyOpts(t)
	ao.NoStaleGuard = true
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1", InsertOnly: true}, ao, "test")
	if !errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want ErrDiffer, got %v", err)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/0/0/0/0/true n3:0/0/0/0/1/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantRows(t, "n3", dump(t, db, "n3", "SELECT r::text FROM w r ORDER BY a, b"), []string{"(1,a)", "(1,a)", "(1,a)", "(2,b)"})
}
