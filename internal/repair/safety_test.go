package repair

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

// TestConnectionKilledBeforeCommit terminates n3's repair backend after its changes are written
// and before the commit: n2 commits, n3 is exactly as before, the error is n3's, and the report
// says so.
func TestConnectionKilledBeforeCommit(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	n3Before := table(t, db, "n3", "public.t", "id")
	n1 := table(t, db, "n1", "public.t", "id")
	killer := db.Connect(t, "n3")
	ao := applyOpts(t)
	ao.BeforeCommit = func(ctx context.Context, node string, pid uint32) error {
		if node != "n3" {
			return nil
		}
		var ok bool
		return killer.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok)
	}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	var ne *cluster.NodeError
	if !errors.As(err, &ne) || ne.Node != "n3" || fault.IsInput(err) || errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want a runtime NodeError of n3, got %v", err)
	}
	if res.Status != StatusFailed || res.Verify != nil {
		t.Errorf("status %s verify %v, want failed and no verification", res.Status, res.Verify)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:1/1/0/0/0/false"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	if !strings.Contains(res.node("n3").Error, "commit") {
		t.Errorf("n3 error %q", res.node("n3").Error)
	}
	wantRows(t, "n3 unchanged", table(t, db, "n3", "public.t", "id"), n3Before)
	wantRows(t, "n2 repaired", table(t, db, "n2", "public.t", "id"), n1)
	u, err := ReadUndo(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status["n2"] != "committed" || u.Status["n3"] != "commit failed" {
		t.Errorf("undo status %v", u.Status)
	}
}

// TestNodeKilledBeforeCommit kills n3 (immediate shutdown) while its repair transaction is open,
// before it is ready to commit: the nodes commit only once every node has prepared its changes, so
// n2 rolls back too and every node is exactly as before.
func TestNodeKilledBeforeCommit(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := map[string][]string{}
	for _, n := range all {
		before[n] = table(t, db, n, "public.t", "id")
	}
	// The sandbox runs with synchronous_commit = off: flush the setup to disk before the crash.
	db.Exec(t, "CHECKPOINT", "n3")
	ao := applyOpts(t)
	ao.BeforeCommit = func(ctx context.Context, node string, pid uint32) error {
		if node != "n3" {
			return nil
		}
		if err := db.Sandbox.Kill(ctx, "n3"); err != nil {
			return err
		}
		return errors.New("node n3 killed by the test")
	}
	t.Cleanup(func() {
		if err := db.Sandbox.Start(context.Background(), "n3"); err != nil {
			t.Errorf("restart n3: %v", err)
		}
	})
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	var ne *cluster.NodeError
	if !errors.As(err, &ne) || fault.IsInput(err) {
		t.Fatalf("want a runtime NodeError, got %v", err)
	}
	if res.Status != StatusFailed || len(res.Committed()) != 0 {
		t.Fatalf("status %s, committed %v", res.Status, res.Committed())
	}
	if !strings.Contains(res.node("n2").Error, "rolled back: the repair failed on node n3") {
		t.Errorf("n2 error %q", res.node("n2").Error)
	}
	if err := db.Sandbox.Start(testContext(t), "n3"); err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		wantRows(t, n+" unchanged", table(t, db, n, "public.t", "id"), before[n])
	}
}

// TestUndoRestores repairs, then undoes: every node is back to its rows before the repair, except
// a row changed after the repair, which the undo's stale guard leaves alone.
func TestUndoRestores(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := map[string][]string{}
	for _, n := range all {
		before[n] = table(t, db, n, "public.t", "id")
	}
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	raw, err := os.ReadFile(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1+5+2 || !strings.Contains(lines[0], `"format":"pgparity.undo/v1"`) {
		t.Fatalf("undo file has %d lines: %s", len(lines), raw)
	}
	db.Exec(t, `UPDATE t SET v = 'after repair' WHERE id = 5`, "n3")
	// Row 5 of n3 is not restored: the undo is incomplete, which is exit 1, not success.
	ures, err := Undo(testContext(t), pools, res.UndoFile, applyOpts(t))
	if !errors.Is(err, fault.ErrDiffer) || ures.Status != StatusUnresolved {
		t.Fatalf("undo: want ErrDiffer and status unresolved, got %v / %s", err, ures.Status)
	}
	if got, want := counts(ures), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:0/1/0/0/1/true"; got != want {
		t.Errorf("undo counts %s, want %s", got, want)
	}
	wantStale(t, ures, "n3", []string{"delete id=5: the row changed since the diff"})
	wantRows(t, "n1", table(t, db, "n1", "public.t", "id"), before["n1"])
	wantRows(t, "n2 restored", table(t, db, "n2", "public.t", "id"), before["n2"])
	var n3 []string
	for _, r := range before["n3"] {
		if strings.HasPrefix(r, "(4,") {
			r = "(4,,99)"
		}
		n3 = append(n3, r)
	}
	n3 = append(n3[:4], append([]string{"(5,\"after repair\",1.2500000000000000)"}, n3[4:]...)...)
	wantRows(t, "n3 restored but row 5", table(t, db, "n3", "public.t", "id"), n3)
}

// TestUndoFileRefusesUnknownFormat: an undo file of another format version is an input error.
func TestUndoFileRefusesUnknownFormat(t *testing.T) {
	path := t.TempDir() + "/u.jsonl"
	if err := os.WriteFile(path, []byte(`{"format":"pgparity.undo/v9"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUndo(path); !fault.IsInput(err) || !strings.Contains(err.Error(), "pgparity.undo/v9") {
		t.Fatalf("want input error naming the format, got %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"format":"pgparity.undo/v1"}`+"\n"+`{"node":"n2","op":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUndo(path); !fault.IsInput(err) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want input error for a truncated line, got %v", err)
	}
}
