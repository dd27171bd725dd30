package repair

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestWholeRowRepair repairs a table without a key by copy counts, duplicates included.
func TestWholeRowRepair(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (a int, b text)`)
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c')`, "n1")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (2, 'b'), (2, 'b'), (4, 'd')`, "n2")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c'), (3, 'c')`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "w")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:2/0/2/0/0/true n3:0/0/1/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	q := "SELECT r::text FROM w r ORDER BY a, b"
	for _, n := range all {
		wantRows(t, "rows on "+n, dump(t, db, n, q), []string{"(1,a)", "(1,a)", "(2,b)", "(3,c)"})
	}
	// Undo puts the copies back.
	if _, err := Undo(testContext(t), pools, res.UndoFile, applyOpts(t)); err != nil {
		t.Fatal(err)
	}
	wantRows(t, "n2 after undo", dump(t, db, "n2", q), []string{"(1,a)", "(2,b)", "(2,b)", "(4,d)"})
	wantRows(t, "n3 after undo", dump(t, db, "n3", q), []string{"(1,a)", "(1,a)", "(2,b)", "(3,c)", "(3,c)"})
}

// TestWholeRowStale: a copy count that changed since the diff is skipped.
func TestWholeRowStale(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (a int, b text)`)
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (2, 'b')`, "n1")
	db.Exec(t, `INSERT INTO w VALUES (2, 'b')`, "n2", "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "w")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a')`, "n3")
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if !errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want ErrDiffer, got %v", err)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/0/0/0/0/true n3:0/0/0/0/1/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantStale(t, res, "n3", []string{"insert row_hash=" + res.node("n3").Stale[0].Key[0].Value.(interface{ String() string }).String() +
		": the node holds 2 copies of the row, the diff saw 0"})
}

// TestBidirectionalAndFixNulls run the two source-less modes against real nodes.
func TestBidirectionalAndFixNulls(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, w text)`)
	db.Exec(t, `INSERT INTO t VALUES (1, 'a', 'x'), (2, 'a', NULL), (4, 'p', 'q')`, "n1")
	db.Exec(t, `INSERT INTO t VALUES (2, NULL, 'y'), (3, 'c', 'z'), (4, 'p', 'q2')`, "n2")
	db.Exec(t, `INSERT INTO t VALUES (1, 'a', 'x'), (2, 'a', 'y'), (4, 'p', 'q')`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeBidirectional}, applyOpts(t), "test")
	if !errors.Is(err, fault.ErrDiffer) { // 2 and 4 conflict
		t.Fatalf("want ErrDiffer, got %v", err)
	}
	if got, want := counts(res), "n1:1/0/0/0/0/true n2:1/0/0/0/0/true n3:1/0/0/0/0/true"; got != want {
		t.Errorf("bidirectional counts %s, want %s", got, want)
	}
	if len(res.Conflicts) != 2 {
		t.Errorf("conflicts %+v", res.Conflicts)
	}
	d, _ = takeDiff(t, pools, "public", "t")
	if _, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeFixNulls}, applyOpts(t), "test"); !errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("fix-nulls: want ErrDiffer (row 4 still differs), got %v", err)
	}
	for _, n := range all {
		wantRows(t, "row 2 on "+n, dump(t, db, n, "SELECT r::text FROM t r WHERE id IN (1, 2, 3) ORDER BY id"),
			[]string{"(1,a,x)", "(2,a,y)", "(3,c,z)"})
	}
}

// TestLatestCommitWins uses real commit timestamps (the sandbox runs with
// track_commit_timestamp = on): the version committed last wins, on every node.
func TestLatestCommitWins(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'old'), (2, 'old')`)
	db.Exec(t, `UPDATE t SET v = 'n1 first' WHERE id = 1`, "n1")
	db.Exec(t, `UPDATE t SET v = 'n2 later' WHERE id = 1; UPDATE t SET v = 'n2 first' WHERE id = 2`, "n2")
	time.Sleep(10 * time.Millisecond)
	db.Exec(t, `UPDATE t SET v = 'n3 later' WHERE id = 2`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(plan, []byte("default: latest-commit-wins\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := ReadRules(plan)
	if err != nil {
		t.Fatal(err)
	}
	mustRepair(t, pools, d, Options{Mode: ModePlan, Rules: rules}, applyOpts(t))
	for _, n := range all {
		wantRows(t, "rows on "+n, table(t, db, n, "t", "id"), []string{"(1,\"n2 later\")", "(2,\"n3 later\")"})
	}
}

// connectAs opens pools as another role.
func connectAs(t *testing.T, db *sandbox.DB, user, password string) cluster.Pools {
	t.Helper()
	var nodes []cluster.Node
	for _, n := range db.Sandbox.Nodes {
		nodes = append(nodes, cluster.Node{Name: n.Name, Params: map[string]string{
			"host": "127.0.0.1", "port": strconv.Itoa(n.Port), "user": user, "password": password,
			"dbname": db.Name, "sslmode": "disable"}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pools, err := cluster.Connect(ctx, nodes, cluster.PoolOptions{MaxConns: 4})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(pools.Close)
	return pools
}

// TestTriggers: by default the repair runs as replication apply does (triggers off); a role that
// may not do that stops with an input error unless --fire-triggers, which fires them.
func TestTriggers(t *testing.T) {
	db := sandbox.NewDB(t)
	role := "repairer_" + db.Name
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		CREATE TABLE audit (id int, op text);
		CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS
		  $$BEGIN INSERT INTO public.audit VALUES (coalesce(NEW.id, OLD.id), TG_OP); RETURN NULL; END$$;
		CREATE TRIGGER t_audit AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION audit();
		INSERT INTO t VALUES (1, 'a'), (2, 'b'); DELETE FROM audit`)
	db.Exec(t, `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+role+`') THEN
		CREATE ROLE `+role+` LOGIN PASSWORD 'pw'; END IF; END$$;
		GRANT ALL ON t, audit TO `+role)
	t.Cleanup(func() { db.Exec(t, `DROP OWNED BY `+role+`; DROP ROLE IF EXISTS `+role) })
	db.Exec(t, `DELETE FROM t WHERE id = 1; DELETE FROM audit`, "n2")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")

	// A superuser repairs with triggers off.
	dry := ApplyOptions{DryRun: true}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, dry, "test")
	if err != nil || res.Triggers != "off (session_replication_role = replica)" || len(res.Warnings) != 0 {
		t.Fatalf("superuser: %v, triggers %q, warnings %v", err, res.Triggers, res.Warnings)
	}

	// A plain role may not: input error, nothing changed.
	as := connectAs(t, db, role, "pw")
	_, err = Repair(testContext(t), as, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if !fault.IsInput(err) || !strings.Contains(err.Error(), "may not set session_replication_role") || !strings.Contains(err.Error(), "--fire-triggers") {
		t.Fatalf("plain role: %v", err)
	}
	wantRows(t, "n2 unchanged", table(t, db, "n2", "t", "id"), []string{"(2,b)"})

	// With --fire-triggers it repairs, warns once, and the trigger fires.
	ao := applyOpts(t)
	ao.FireTriggers = true
	res, err = Repair(testContext(t), as, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if err != nil {
		t.Fatalf("--fire-triggers: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "may not set session_replication_role") {
		t.Errorf("warnings %q", res.Warnings)
	}
	wantRows(t, "audit on n2", dump(t, db, "n2", "SELECT id || ' ' || op FROM audit ORDER BY id"), []string{"1 INSERT"})

	// A superuser's repair (replica role) does not fire it.
	db.Exec(t, `DELETE FROM t WHERE id = 2; DELETE FROM audit`, "n2")
	d, _ = takeDiff(t, pools, "public", "t")
	mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	wantRows(t, "audit on n2", dump(t, db, "n2", "SELECT id || ' ' || op FROM audit ORDER BY id"), nil)
	wantRows(t, "n2 repaired", table(t, db, "n2", "t", "id"), []string{"(1,a)", "(2,b)"})
}

// TestOrigin runs the repair under a replication origin, created on the changed nodes only.
func TestOrigin(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	ao := applyOpts(t)
	ao.Origin = "Bad-Name"
	if _, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test"); !fault.IsInput(err) {
		t.Fatalf("bad origin name: %v", err)
	}
	origin := "pgparity_" + db.Name
	ao.Origin = origin
	t.Cleanup(func() {
		db.Exec(t, "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '"+origin+"'")
	})
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, ao)
	if res.Origin != origin {
		t.Errorf("origin %q", res.Origin)
	}
	q := "SELECT roname::text FROM pg_replication_origin WHERE roname = '" + origin + "'"
	wantRows(t, "origin on n1 (no changes)", dump(t, db, "n1", q), nil)
	wantRows(t, "origin on n2", dump(t, db, "n2", q), []string{origin})
	wantRows(t, "origin on n3", dump(t, db, "n3", q), []string{origin})
}
