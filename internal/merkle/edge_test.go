package merkle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/merkle"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

// checkEqual fails unless the tree diff reports exactly what table-diff reports, and returns
// the differing keys.
func checkEqual(t *testing.T, pools cluster.Pools, table, what string) map[string]string {
	t.Helper()
	got, _ := treeDiff(t, pools, table)
	want := fullDiff(t, pools, table)
	sameVerdicts(t, what, got, want)
	return want
}

func wantKeys(t *testing.T, what string, got map[string]string, keys ...string) {
	t.Helper()
	if len(got) != len(keys) {
		t.Errorf("%s: %d differing keys %v, want %v", what, len(got), got, keys)
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: key %s not reported (got %v)", what, k, got)
		}
	}
}

// TestLeafBoundariesAndOpenEnds: the same row changed differently on two nodes, at a leaf
// boundary, and rows before the first and past the last boundary on one node only are found.
func TestLeafBoundariesAndOpenEnds(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			db.Exec(t, `CREATE TABLE b (k1 text, k2 int, v text, PRIMARY KEY (k1, k2));
INSERT INTO b SELECT 'k' || lpad((g / 10)::text, 3, '0'), g % 10, 'v' FROM generate_series(0, 999) g`)
			if r := build(t, pools, "b", 100); r.Leaves != 10 {
				t.Fatalf("leaves: %d", r.Leaves)
			}
			// the first key of leaf 1 is ('k010', 0); the last of leaf 0 is ('k009', 9)
			db.Exec(t, `UPDATE b SET v = 'n1' WHERE (k1, k2) IN (('k010', 0), ('k009', 9))`, "n1")
			db.Exec(t, `UPDATE b SET v = 'n2' WHERE (k1, k2) IN (('k010', 0), ('k009', 9))`, "n2")
			db.Exec(t, `INSERT INTO b VALUES ('zzz', 1, 'tail'), ('a', 1, 'head')`, "n3")
			got := checkEqual(t, pools, "b", "boundary")
			wantKeys(t, "boundary", got, "k010,0", "k009,9", "zzz,1", "a,1")
		})
	}
}

// TestImmediateRestartLosesNothing: changes made before a node crashes (its unlogged marks and
// tree are emptied by recovery) are still found after the restart.
func TestImmediateRestartLosesNothing(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			db.Exec(t, `CREATE TABLE r (id int PRIMARY KEY, v text); INSERT INTO r SELECT g, 'v' FROM generate_series(1, 1000) g`)
			build(t, pools, "r", 100)
			// the sandbox runs with synchronous_commit = off: make these commits durable
			db.Exec(t, `SET synchronous_commit = on; UPDATE r SET v = 'changed' WHERE id IN (5, 505); DELETE FROM r WHERE id = 999`, "n2")
			ctx := testContext(t)
			sb := sandbox.Shared()
			if err := sb.Kill(ctx, "n2"); err != nil {
				t.Fatal(err)
			}
			if err := sb.Start(ctx, "n2"); err != nil {
				t.Fatal(err)
			}
			pools = sandboxtest.Pools(t, db, 4, nodes...)
			var trees int
			if err := pools[1].QueryRow(ctx, "SELECT count(*) FROM pgparity.trees").Scan(&trees); err != nil || trees != 0 {
				t.Fatalf("after the crash n2 holds %d trees (%v): unlogged tables should be empty", trees, err)
			}
			got, res := treeDiff(t, pools, "r")
			if len(res.Lost) != 1 || res.Lost[0] != "n2" {
				t.Errorf("nodes without a usable tree: %v, want [n2]", res.Lost)
			}
			wantKeys(t, "after crash", got, "5", "505", "999")
			db.Exec(t, `UPDATE r SET v = 'again' WHERE id = 700`, "n2")
			got = checkEqual(t, pools, "r", "after crash, next change")
			wantKeys(t, "after crash, next change", got, "5", "505", "999", "700")
		})
	}
}

// TestKilledListenerLosesNothing kills a running `mtree listen` (SIGKILL, in a child process)
// between changes: what it had not confirmed is read again.
func TestKilledListenerLosesNothing(t *testing.T) {
	db, pools := setup(t, cdc.CDC)
	db.Exec(t, `CREATE TABLE l (id int PRIMARY KEY, v text); INSERT INTO l SELECT g, 'v' FROM generate_series(1, 1000) g`)
	build(t, pools, "l", 100)
	params, _ := json.Marshal(sandboxtest.Nodes(t, db, "n1")[0])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGPARITY_LISTEN_NODE="+string(params))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	waitFor(t, "the listener to take the slot", func() bool {
		var active bool
		_ = pools[0].QueryRow(ctx, "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name LIKE 'pgparity%' AND database = current_database()), false)").Scan(&active)
		return active
	})
	for i := 0; i < 20; i++ {
		db.Exec(t, fmt.Sprintf(`UPDATE l SET v = 'n1-%d' WHERE id = %d`, i, i*50+1), "n1")
	}
	waitFor(t, "the listener to record marks", func() bool {
		var n int
		_ = pools[0].QueryRow(ctx, "SELECT count(*) FROM "+marksOf(t, pools[0], "l")).Scan(&n)
		return n > 0
	})
	db.Exec(t, `DELETE FROM l WHERE id = 1000`, "n1")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	db.Exec(t, `INSERT INTO l VALUES (2000, 'after')`, "n1")
	got := checkEqual(t, pools, "l", "after SIGKILL")
	if len(got) != 22 {
		t.Errorf("after SIGKILL: %d differing keys, want 22", len(got))
	}
}

// listenChild is the child process of TestKilledListenerLosesNothing: it listens on the node
// described by raw (JSON of a cluster.Node) until it is killed.
func listenChild(raw string) int {
	var n cluster.Node
	if err := json.Unmarshal([]byte(raw), &n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	pools, err := cluster.Connect(ctx, []cluster.Node{n}, cluster.PoolOptions{MaxConns: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	_ = cdc.Listen(ctx, pools[0])
	return 0
}

// TestListenAndDiffTogether: `mtree table-diff` works while `mtree listen` runs, and a
// cancelled listener stops cleanly.
func TestListenAndDiffTogether(t *testing.T) {
	db, pools := setup(t, cdc.CDC)
	db.Exec(t, `CREATE TABLE lt (id int PRIMARY KEY, v text); INSERT INTO lt SELECT g, 'v' FROM generate_series(1, 500) g`)
	build(t, pools, "lt", 100)
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 3)
	for _, p := range pools {
		go func() { done <- cdc.Listen(ctx, p) }()
	}
	db.Exec(t, `UPDATE lt SET v = 'x' WHERE id = 42`, "n3")
	got := checkEqual(t, pools, "lt", "while listening")
	wantKeys(t, "while listening", got, "42")
	cancel()
	for range pools {
		if err := <-done; err != nil {
			t.Errorf("listen after cancel: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTrackingRemovedIsAnError: a node whose triggers were dropped cannot vouch for its tree.
func TestTrackingRemovedIsAnError(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE tr (id int PRIMARY KEY)`)
	build(t, pools, "tr", 100)
	db.Exec(t, `DROP TRIGGER pgparity_track_update ON tr`, "n3")
	err := cdc.Check(testContext(t), pools[2], "public", "tr")
	if err == nil || !strings.Contains(err.Error(), `node n3 no longer tracks changes of "public"."tr" (its trigger tracking was removed)`) {
		t.Fatalf("check: %v", err)
	}
	// without the rekey trigger the old key of a key-changing UPDATE would go unmarked
	db.Exec(t, `DROP TRIGGER pgparity_track_rekey ON tr`, "n2")
	err = cdc.Check(testContext(t), pools[1], "public", "tr")
	if err == nil || !strings.Contains(err.Error(), `node n2 no longer tracks changes of "public"."tr"`) {
		t.Fatalf("check without the rekey trigger: %v", err)
	}
	if err := cdc.Check(testContext(t), pools[0], "public", "tr"); err != nil {
		t.Fatalf("check of an intact node: %v", err)
	}
}

// TestKeyChangedByBeforeTrigger: the rekey trigger is declared UPDATE OF the key columns, and a
// key changed by a BEFORE UPDATE row trigger is not in the SET list. A table with such a trigger
// at build gets a rekey trigger for every UPDATE; a table that gains one later is rehashed whole
// on that node at its next re-check and tracked for every UPDATE from then on. Either way the
// old key of the moved row is found.
func TestKeyChangedByBeforeTrigger(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	ctx := testContext(t)
	db.Exec(t, `CREATE TABLE bt (id int PRIMARY KEY, v text); INSERT INTO bt SELECT g, 'v' FROM generate_series(1, 300) g;
CREATE TABLE bl (id int PRIMARY KEY, v text); INSERT INTO bl SELECT g, 'v' FROM generate_series(1, 300) g;
CREATE FUNCTION mover() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF new.v = 'move' THEN new.id := new.id + 1000; END IF; RETURN new; END $$;
CREATE TRIGGER mover BEFORE UPDATE ON bt FOR EACH ROW EXECUTE FUNCTION mover()`)
	build(t, pools, "bt", 100)
	build(t, pools, "bl", 100)
	restricted := func(node int, table string) bool {
		t.Helper()
		var r bool
		if err := pools[node].QueryRow(ctx, `SELECT tgattr::text <> '' FROM pg_catalog.pg_trigger
  WHERE tgname = 'pgparity_track_rekey' AND tgrelid = $1::regclass`, "public."+table).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if restricted(1, "bt") || !restricted(1, "bl") {
		t.Fatalf("rekey trigger UPDATE OF the key: bt %v, bl %v; want false, true", restricted(1, "bt"), restricted(1, "bl"))
	}
	db.Exec(t, `UPDATE bt SET v = 'move' WHERE id = 150`, "n2")
	wantKeys(t, "key moved by a trigger present at build", checkEqual(t, pools, "bt", "key moved by a trigger present at build"), "150", "1150")

	db.Exec(t, `CREATE TRIGGER mover BEFORE UPDATE ON bl FOR EACH ROW EXECUTE FUNCTION mover(); UPDATE bl SET v = 'move' WHERE id = 150`, "n2")
	wantKeys(t, "key moved by a trigger added after build", checkEqual(t, pools, "bl", "key moved by a trigger added after build"), "150", "1150")
	if restricted(1, "bl") || !restricted(0, "bl") {
		t.Fatalf("after the re-check, rekey trigger UPDATE OF the key: n2 %v, n1 %v; want false, true", restricted(1, "bl"), restricted(0, "bl"))
	}
	db.Exec(t, `UPDATE bl SET v = 'move' WHERE id = 20`, "n2")
	wantKeys(t, "key moved after the tracker was widened", checkEqual(t, pools, "bl", "key moved after the tracker was widened"), "20", "1020", "150", "1150")
}

// TestOtherRuleVersionIsRehashed: leaves stored under another row hash rule are never compared:
// here they all claim to be equal, yet the differing row is found.
func TestOtherRuleVersionIsRehashed(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE rv (id int PRIMARY KEY, v text); INSERT INTO rv SELECT g, 'v' FROM generate_series(1, 300) g`)
	build(t, pools, "rv", 100)
	db.Exec(t, `UPDATE rv SET v = 'silent' WHERE id = 150; DELETE FROM `+marksOf(t, pools[1], "rv"), "n2") // a change no mark tells of
	db.Exec(t, `UPDATE pgparity.trees SET rule_version = 1; UPDATE pgparity.leaves SET cnt = 1, sum = '1'`)
	got, res := treeDiff(t, pools, "rv")
	wantKeys(t, "other rule version", got, "150")
	if res.Rehashed != res.Leaves || len(res.Lost) != 3 {
		t.Errorf("rehashed %d of %d leaves, %d nodes without a usable tree; want all and 3", res.Rehashed, res.Leaves, len(res.Lost))
	}
}

// TestIdleListenerStaysConnected: a listener with nothing to decode answers the server's
// keepalives, so wal_sender_timeout does not end it.
func TestIdleListenerStaysConnected(t *testing.T) {
	db, pools := setup(t, cdc.CDC)
	db.Exec(t, `CREATE TABLE idle (id int PRIMARY KEY)`)
	build(t, pools, "idle", 100)
	db.Exec(t, `ALTER SYSTEM SET wal_sender_timeout = '1s'`, "n1")
	db.Exec(t, `SELECT pg_reload_conf()`, "n1")
	t.Cleanup(func() {
		db.Exec(t, `ALTER SYSTEM RESET wal_sender_timeout`, "n1")
		db.Exec(t, `SELECT pg_reload_conf()`, "n1")
	})
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- cdc.Listen(ctx, pools[0]) }()
	select {
	case err := <-done:
		t.Fatalf("idle listener ended: %v", err)
	case <-time.After(4 * time.Second):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("listener after cancel: %v", err)
	}
}

// TestRehashOnlyWhereMarked: a leaf is rehashed on the nodes its changes were made on; the
// other nodes' stored sums stand for it (every change is marked), and the differences are still
// exactly table-diff's.
func TestRehashOnlyWhereMarked(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			db.Exec(t, `CREATE TABLE w (id int PRIMARY KEY, v text); INSERT INTO w SELECT g, 'v' FROM generate_series(1, 1000) g`)
			if r := build(t, pools, "w", 100); r.Leaves != 10 {
				t.Fatalf("leaves: %d", r.Leaves)
			}
			db.Exec(t, `UPDATE w SET v = 'n2' WHERE id IN (50, 550)`, "n2")
			got, res := treeDiff(t, pools, "w")
			wantKeys(t, "two leaves on n2", got, "50", "550")
			if res.Rehashed != 2 || res.Hashed != 2 {
				t.Errorf("two leaves changed on n2: %d leaves rehashed, %d leaf hashes; want 2 and 2 (n2 only)", res.Rehashed, res.Hashed)
			}
			sameVerdicts(t, "two leaves on n2", got, fullDiff(t, pools, "w"))
			// the same leaf changed on n1 and n3: hashed there, n2's stored sum (from the run above) stands
			db.Exec(t, `UPDATE w SET v = 'n1' WHERE id = 51`, "n1")
			db.Exec(t, `UPDATE w SET v = 'n3' WHERE id = 52`, "n3")
			got, res = treeDiff(t, pools, "w")
			wantKeys(t, "one leaf on n1 and n3", got, "50", "51", "52", "550")
			if res.Rehashed != 1 || res.Hashed != 2 {
				t.Errorf("one leaf changed on n1 and n3: %d leaves rehashed, %d leaf hashes; want 1 and 2", res.Rehashed, res.Hashed)
			}
			sameVerdicts(t, "one leaf on n1 and n3", got, fullDiff(t, pools, "w"))
		})
	}
}

// TestReadsOnlyChangedLeaves: a re-check reads the stored sums of the changed leaves and their
// neighbours only, as long as every other leaf is known equal (the roots agree once the changed
// leaves are taken out); a difference left from an earlier re-check makes it read every leaf,
// and it still reports exactly table-diff's keys. A tree stored before roots existed is read in
// full once, then partially.
func TestReadsOnlyChangedLeaves(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE rd (id int PRIMARY KEY, v text); INSERT INTO rd SELECT g, 'v' FROM generate_series(1, 1000) g`)
	if r := build(t, pools, "rd", 100); r.Leaves != 10 {
		t.Fatalf("leaves: %d", r.Leaves)
	}
	steps := []struct {
		what  string
		sql   []string // run on every node, or on the node after "@"
		keys  []string
		read  int  // stored leaf sums read, all nodes
		check bool // compare with a full table-diff too
	}{
		{"same change everywhere (leaf 4 changes, stays equal)", []string{`UPDATE rd SET v = 'x' WHERE id = 450`}, nil, 3 * 3, false},
		{"one change on n2 (leaves 0, 1 read)", []string{`n2@UPDATE rd SET v = 'n2' WHERE id = 50`}, []string{"50"}, 3 * 2, false},
		{"an old difference elsewhere (leaves 8, 9, then every leaf)", []string{`n1@UPDATE rd SET v = 'n1' WHERE id = 950`}, []string{"50", "950"}, 3*2 + 3*10, true},
		{"no root stored (every leaf)", []string{`UPDATE pgparity.trees SET root_rows = NULL, layout = NULL`,
			`UPDATE rd SET v = 'same' WHERE id = 50`, `UPDATE rd SET v = 'same' WHERE id = 950`}, nil, 3 * 10, false},
		{"root stored again", []string{`n3@UPDATE rd SET v = 'again' WHERE id = 550`}, []string{"550"}, 3 * 3, false},
	}
	for _, st := range steps {
		for _, sql := range st.sql {
			if node, stmt, ok := strings.Cut(sql, "@"); ok {
				db.Exec(t, stmt, node)
			} else {
				db.Exec(t, sql)
			}
		}
		got, res := treeDiff(t, pools, "rd")
		wantKeys(t, st.what, got, st.keys...)
		if res.Read != st.read {
			t.Errorf("%s: %d stored leaf sums read, want %d", st.what, res.Read, st.read)
		}
		if st.check {
			sameVerdicts(t, st.what, got, fullDiff(t, pools, "rd"))
		}
	}
	// a node whose schema predates the roots is upgraded by the next re-check
	db.Exec(t, `ALTER TABLE pgparity.trees DROP COLUMN layout, DROP COLUMN root_rows, DROP COLUMN root_a, DROP COLUMN root_b`, "n2")
	db.Exec(t, `UPDATE rd SET v = 'again' WHERE id = 550`, "n1", "n2")
	got, res := treeDiff(t, pools, "rd")
	wantKeys(t, "old schema on n2", got)
	if res.Read != 3*10 {
		t.Errorf("old schema on n2: %d stored leaf sums read, want 30", res.Read)
	}
}

// TestWriterWithoutRightsOnPgparityIsTracked: the trigger functions run with the writer's rights;
// a role that may only write the table still has its changes marked (and may not choose a mark's
// transaction id).
func TestWriterWithoutRightsOnPgparityIsTracked(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE wr (id int PRIMARY KEY, v text); INSERT INTO wr SELECT g, 'v' FROM generate_series(1, 500) g`)
	build(t, pools, "wr", 100)
	role := "pgparity_writer_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	db.Exec(t, `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+role+`') THEN CREATE ROLE `+role+`; END IF; END$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON wr TO `+role)
	db.Exec(t, `SET ROLE `+role+`; UPDATE wr SET v = 'w' WHERE id = 7; UPDATE wr SET id = 1007 WHERE id = 307; DELETE FROM wr WHERE id = 450; RESET ROLE`, "n2")
	got := checkEqual(t, pools, "wr", "non-owner writer")
	wantKeys(t, "non-owner writer", got, "7", "307", "1007", "450")
	ctx := testContext(t)
	conn, err := pools[1].Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET ROLE `+role); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO `+marksOf(t, pools[1], "wr")+` (k, xid) VALUES (NULL, '1')`)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("a writer choosing a mark's transaction id: %v, want permission denied", err)
	}
	if _, err := conn.Exec(ctx, `RESET ROLE`); err != nil {
		t.Fatal(err)
	}
}

// TestTreeWithoutMarksTable: a tree whose marks table is missing (built by a pgparity that kept
// every tree's marks in one table) is never compared as if nothing had changed: the re-check
// stops with an input error asking for a new build, status counts the whole tree as dirty, and
// a new build makes the tree usable again.
func TestTreeWithoutMarksTable(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE mt (id int PRIMARY KEY, v text); INSERT INTO mt SELECT g, 'v' FROM generate_series(1, 300) g`)
	build(t, pools, "mt", 100)
	db.Exec(t, `DROP TABLE `+marksOf(t, pools[1], "mt"), "n2")
	ctx := testContext(t)
	db.Exec(t, `CREATE FUNCTION mt_before() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER mt_before BEFORE UPDATE ON mt FOR EACH ROW EXECUTE FUNCTION mt_before()`, "n2")
	if err := cdc.Check(ctx, pools[1], "public", "mt"); err != nil { // nothing to widen without a marks table: the tree reports it
		t.Fatalf("check without a marks table: %v", err)
	}
	_, err := merkle.Sync(ctx, pools, opts("mt"), &verdicts{})
	if !fault.IsInput(err) || !strings.Contains(err.Error(), `the tree of "public"."mt" on node n2 keeps no change marks of this pgparity version (built by an earlier one): run `+"`pgparity mtree build`"+` again`) {
		t.Fatalf("re-check without a marks table: %v", err)
	}
	st, err := merkle.Status(ctx, pools[1])
	if err != nil || len(st) != 1 || !st[0].AllDirty || st[0].DirtyLeaves != 3 {
		t.Fatalf("status without a marks table: %+v %v", st, err)
	}
	build(t, pools, "mt", 100)
	db.Exec(t, `UPDATE mt SET v = 'n2' WHERE id = 250`, "n2")
	wantKeys(t, "after a new build", checkEqual(t, pools, "mt", "after a new build"), "250")
}

// TestDrainAfterTeardownTable (cdc): changes of a table whose tree was removed (teardown-table:
// its tracking, then its tree and marks table) are still in the slot; the next drain skips them
// and records the other trees' marks.
func TestDrainAfterTeardownTable(t *testing.T) {
	db, pools := setup(t, cdc.CDC)
	db.Exec(t, `CREATE TABLE ka (id int PRIMARY KEY, v text); CREATE TABLE kb (id int PRIMARY KEY, v text);
INSERT INTO ka SELECT g, 'v' FROM generate_series(1, 300) g; INSERT INTO kb SELECT g, 'v' FROM generate_series(1, 300) g`)
	build(t, pools, "ka", 100)
	build(t, pools, "kb", 100)
	db.Exec(t, `UPDATE kb SET v = 'n2' WHERE id = 10; UPDATE ka SET v = 'n2' WHERE id = 20`, "n2")
	ctx := testContext(t)
	if err := cdc.Untrack(ctx, pools[1], "public", "kb"); err != nil {
		t.Fatal(err)
	}
	if err := merkle.Forget(ctx, pools[1], "public", "kb"); err != nil {
		t.Fatal(err)
	}
	var left bool
	if err := pools[1].QueryRow(ctx, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", marksOf(t, pools[1], "kb")).Scan(&left); err != nil || left {
		t.Fatalf("marks table of kb on n2 after teardown-table: %v %v", left, err)
	}
	wantKeys(t, "after teardown-table of another tree", checkEqual(t, pools, "ka", "after teardown-table of another tree"), "20")
}
