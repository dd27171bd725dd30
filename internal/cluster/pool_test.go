package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 2)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// loadSandbox loads the cluster "c" of the test database through a real service file.
func loadSandbox(t *testing.T, db *sandbox.DB) *Cluster {
	t.Helper()
	c, err := Load("c", LoadOptions{ServiceFile: db.ServiceFile(t, "c")})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NodeNames(); !reflect.DeepEqual(got, []string{"n1", "n2"}) {
		t.Fatalf("nodes %v, want [n1 n2]", got)
	}
	return c
}

// sandboxNode is a node of the test database on sandbox node i, with explicit credentials.
func sandboxNode(db *sandbox.DB, name string, i int, user, password string) Node {
	return Node{Name: name, Params: map[string]string{
		"host": "127.0.0.1", "port": strconv.Itoa(db.Nodes()[i].Port), "dbname": db.Name,
		"user": user, "password": password, "sslmode": "disable",
	}}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// createRole creates a login role on every node (roles are per server, not per database) and drops
// it when the test ends.
func createRole(t *testing.T, db *sandbox.DB, role, password string) {
	t.Helper()
	db.Exec(t, "DROP ROLE IF EXISTS "+role)
	db.Exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password))
	t.Cleanup(func() { db.Exec(t, "DROP ROLE IF EXISTS "+role) })
}

func TestConnectPinsSessionSettings(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	// n2's database defaults differ from n1's in every pinned setting.
	for _, set := range []string{
		"timezone = 'Asia/Tokyo'", "DateStyle = 'SQL, DMY'", "IntervalStyle = 'sql_standard'",
		"extra_float_digits = 3", "bytea_output = 'escape'", "search_path = 'public'",
		"application_name = 'other'", "lc_monetary = 'C.UTF-8'",
	} {
		db.Exec(t, "ALTER DATABASE "+db.Name+" SET "+set, "n2")
	}
	var tz string
	if err := db.Connect(t, "n2").QueryRow(ctx, "SHOW TimeZone").Scan(&tz); err != nil || tz != "Asia/Tokyo" {
		t.Fatalf("n2 database default TimeZone = %q (%v): the test premise does not hold", tz, err)
	}

	c := loadSandbox(t, db)
	pools, err := Connect(ctx, c.Nodes, PoolOptions{MaxConns: 2, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pools.Close()
	if got := pools.Names(); !reflect.DeepEqual(got, []string{"n1", "n2"}) {
		t.Fatalf("pools %v", got)
	}
	want := map[string]string{
		"TimeZone": "UTC", "DateStyle": "ISO, YMD", "IntervalStyle": "postgres", "extra_float_digits": "1",
		// An empty search_path sent in the startup packet shows as "" (SET search_path = '' would
		// show '""', the list of one zero-length name); both search no schema at all, which
		// current_schemas checks below.
		"bytea_output": "hex", "search_path": "", "application_name": "pgparity", "lc_monetary": "C",
	}
	const render = `SELECT '2024-05-06 07:08:09.5+02'::timestamptz::text, '2024-05-06'::date::text,
		'1 day 2 hours'::interval::text, 0.1::float8::text, '\x00ff'::bytea::text`
	wantRender := []string{"2024-05-06 05:08:09.5+00", "2024-05-06", "1 day 02:00:00", "0.1", `\x00ff`}
	for _, p := range pools {
		for name, v := range want {
			var got string
			if err := p.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil {
				t.Fatalf("%s: SHOW %s: %v", p.Node.Name, name, err)
			}
			if got != v {
				t.Errorf("%s: %s = %q, want %q", p.Node.Name, name, got, v)
			}
		}
		var schemas []string
		if err := p.QueryRow(ctx, "SELECT pg_catalog.current_schemas(false)").Scan(&schemas); err != nil {
			t.Fatal(err)
		}
		if len(schemas) != 0 {
			t.Errorf("%s: current_schemas(false) = %v, want none", p.Node.Name, schemas)
		}
		got := make([]string, len(wantRender))
		if err := p.QueryRow(ctx, render).Scan(&got[0], &got[1], &got[2], &got[3], &got[4]); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantRender) {
			t.Errorf("%s renders %q, want %q", p.Node.Name, got, wantRender)
		}
	}

	conn, err := ConnectOne(ctx, c.Nodes[1], PoolOptions{StatementTimeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var gotTZ, gotDS, gotST string
	if err := conn.QueryRow(ctx, "SELECT current_setting('TimeZone'), current_setting('DateStyle'), current_setting('statement_timeout')").Scan(&gotTZ, &gotDS, &gotST); err != nil {
		t.Fatal(err)
	}
	if gotTZ != "UTC" || gotDS != "ISO, YMD" || gotST != "45s" {
		t.Errorf("ConnectOne on n2: TimeZone %q, DateStyle %q, statement_timeout %q", gotTZ, gotDS, gotST)
	}
}

func TestConnectWrongPasswordNamesNodeOnly(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	const realPW, wrongPW = "S3cr3t-Value-xyz", "wrongpass-Hunter2"
	createRole(t, db, "pwtest", realPW)

	good := sandboxNode(db, "n1", 0, "pwtest", realPW)
	pools, err := Connect(ctx, []Node{good}, PoolOptions{})
	if err != nil {
		t.Fatalf("the right password must work: %v", err)
	}
	pools.Close()

	bad := sandboxNode(db, "badpw", 1, "pwtest", wrongPW)
	pools, err = Connect(ctx, []Node{good, bad}, PoolOptions{})
	if err == nil {
		pools.Close()
		t.Fatal("Connect with a wrong password succeeded")
	}
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Node != "badpw" {
		t.Fatalf("want a *NodeError for node badpw, got %T: %v", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"node badpw: ", "password authentication failed", `"pwtest"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "n1") {
		t.Errorf("error names the healthy node n1: %q", msg)
	}
	if strings.Contains(msg, wrongPW) || strings.Contains(msg, realPW) {
		t.Errorf("error leaks a password: %q", msg)
	}

	_, err = ConnectOne(ctx, bad, PoolOptions{})
	if !errors.As(err, &ne) || ne.Node != "badpw" || strings.Contains(err.Error(), wrongPW) {
		t.Errorf("ConnectOne: %T %v", err, err)
	}

	st := Check(ctx, []Node{bad}, PoolOptions{})
	if st[0].Reachable || !strings.Contains(st[0].Error, "password authentication failed") {
		t.Errorf("Check: reachable %v, error %q", st[0].Reachable, st[0].Error)
	}
	if strings.Contains(st[0].Error, wrongPW) || strings.Contains(st[0].Error, realPW) || strings.Contains(st[0].Error, "\n") {
		t.Errorf("Check error leaks a password or spans lines: %q", st[0].Error)
	}
}

func TestConnectUnreachableNode(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	c := loadSandbox(t, db)
	port := closedPort(t)
	ghost := Node{Name: "ghost", Params: map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(port), "dbname": db.Name, "sslmode": "disable"}}
	pools, err := Connect(ctx, []Node{c.Nodes[0], ghost}, PoolOptions{ConnectTimeout: 5 * time.Second})
	if err == nil {
		pools.Close()
		t.Fatal("Connect to a closed port succeeded")
	}
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Node != "ghost" {
		t.Fatalf("want a *NodeError for node ghost, got %T: %v", err, err)
	}
	if !strings.HasPrefix(err.Error(), "node ghost: ") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Errorf("error %q", err)
	}

	// Two failing nodes are both named, on one line.
	ghost2 := ghost
	ghost2.Name = "ghost2"
	_, err = Connect(ctx, []Node{ghost, c.Nodes[1], ghost2}, PoolOptions{ConnectTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "node ghost: ") || !strings.Contains(err.Error(), "; node ghost2: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want both ghosts on one line", err)
	}

	st := Check(ctx, []Node{c.Nodes[0], ghost}, PoolOptions{ConnectTimeout: 5 * time.Second})
	if !st[0].Reachable || st[0].Error != "" {
		t.Errorf("n1: reachable %v, error %q", st[0].Reachable, st[0].Error)
	}
	if st[1].Name != "ghost" || st[1].Reachable || st[1].Error == "" || st[1].Address != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("ghost: %+v", st[1])
	}
	if strings.HasPrefix(st[1].Error, "node ghost") {
		t.Errorf("Error repeats the node name: %q", st[1].Error)
	}
	if st[1].Publications == nil || st[1].Subscriptions == nil {
		t.Errorf("unreachable node has nil lists (JSON null): %+v", st[1])
	}
}

func TestCheck(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE PUBLICATION p1 FOR ALL TABLES", "n1")
	c := loadSandbox(t, db)

	var version string
	if err := db.Connect(t, "n1").QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	got := Check(ctx, c.Nodes, PoolOptions{ConnectTimeout: 10 * time.Second})
	want := []NodeStatus{
		{Name: "n1", Address: fmt.Sprintf("127.0.0.1:%d", db.Nodes()[0].Port), Reachable: true, ServerVersion: version,
			WalLevel: "logical", TrackCommitTimestamp: true, Publications: []string{"p1"}, Subscriptions: []Subscription{},
			Superuser: true, CanSetReplicationRole: true},
		{Name: "n2", Address: fmt.Sprintf("127.0.0.1:%d", db.Nodes()[1].Port), Reachable: true, ServerVersion: version,
			WalLevel: "logical", TrackCommitTimestamp: true, Publications: []string{}, Subscriptions: []Subscription{},
			Superuser: true, CanSetReplicationRole: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check:\n got %+v\nwant %+v", got, want)
	}
}

func TestCheckSubscriptions(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE TABLE public.t (id int PRIMARY KEY)")
	db.Exec(t, "CREATE PUBLICATION p1 FOR TABLE public.t", "n1")
	conninfo := strings.ReplaceAll(db.ConnString("n1"), "'", "''")
	db.Exec(t, "CREATE SUBSCRIPTION s_on CONNECTION '"+conninfo+"' PUBLICATION p1 WITH (copy_data = false)", "n2")
	db.Exec(t, "CREATE SUBSCRIPTION s_off CONNECTION 'host=127.0.0.1 port=1 dbname=x' PUBLICATION p1 WITH (connect = false)", "n2")
	t.Cleanup(func() { // before the database is dropped: subscriptions block DROP DATABASE
		db.Exec(t, "DROP SUBSCRIPTION s_on", "n2")
		db.Exec(t, "ALTER SUBSCRIPTION s_off SET (slot_name = NONE)", "n2")
		db.Exec(t, "DROP SUBSCRIPTION s_off", "n2")
	})
	c := loadSandbox(t, db)
	got := Check(ctx, c.Nodes, PoolOptions{})
	if !reflect.DeepEqual(got[0].Subscriptions, []Subscription{}) || !reflect.DeepEqual(got[0].Publications, []string{"p1"}) {
		t.Errorf("n1: publications %v, subscriptions %v", got[0].Publications, got[0].Subscriptions)
	}
	wantSubs := []Subscription{{Name: "s_off", Enabled: false}, {Name: "s_on", Enabled: true}}
	if !reflect.DeepEqual(got[1].Subscriptions, wantSubs) || got[1].SubscriptionsUnknown || len(got[1].Publications) != 0 {
		t.Errorf("n2: subscriptions %v (unknown %v), publications %v; want %v", got[1].Subscriptions, got[1].SubscriptionsUnknown, got[1].Publications, wantSubs)
	}
}

func TestCheckNonSuperuser(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	const pw = "Chk-pass-123"
	createRole(t, db, "checkuser", pw)
	db.Exec(t, "CREATE PUBLICATION p_all FOR ALL TABLES", "n2")
	// On n2 the user may not read pg_subscription at all (only in this database).
	db.Exec(t, "REVOKE SELECT ON pg_catalog.pg_subscription FROM PUBLIC", "n2")
	nodes := []Node{sandboxNode(db, "n1", 0, "checkuser", pw), sandboxNode(db, "n2", 1, "checkuser", pw)}

	got := Check(ctx, nodes, PoolOptions{})
	for _, st := range got {
		if !st.Reachable || st.Error != "" || st.Superuser || st.CanSetReplicationRole || st.WalLevel != "logical" {
			t.Errorf("%s: %+v, want reachable non-superuser who may not set session_replication_role", st.Name, st)
		}
	}
	if got[0].SubscriptionsUnknown || !reflect.DeepEqual(got[0].Subscriptions, []Subscription{}) {
		t.Errorf("n1: subscriptions %v unknown %v, want readable and empty", got[0].Subscriptions, got[0].SubscriptionsUnknown)
	}
	if !got[1].SubscriptionsUnknown || !reflect.DeepEqual(got[1].Subscriptions, []Subscription{}) {
		t.Errorf("n2: subscriptions %v unknown %v, want unknown", got[1].Subscriptions, got[1].SubscriptionsUnknown)
	}
	if !reflect.DeepEqual(got[1].Publications, []string{"p_all"}) {
		t.Errorf("n2: publications %v", got[1].Publications)
	}

	var versionNum int
	if err := db.Connect(t, "n1").QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		t.Fatal(err)
	}
	if versionNum < 150000 {
		t.Skip("GRANT SET ON PARAMETER needs PostgreSQL 15")
	}
	db.Exec(t, "GRANT SET ON PARAMETER session_replication_role TO checkuser", "n1")
	t.Cleanup(func() { db.Exec(t, "REVOKE SET ON PARAMETER session_replication_role FROM checkuser", "n1") })
	got = Check(ctx, nodes, PoolOptions{})
	if !got[0].CanSetReplicationRole || got[1].CanSetReplicationRole {
		t.Errorf("after GRANT on n1: can set on n1 %v, on n2 %v; want true, false", got[0].CanSetReplicationRole, got[1].CanSetReplicationRole)
	}
}

func TestCheckCancelled(t *testing.T) {
	db := sandbox.NewDB(t)
	c := loadSandbox(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, st := range Check(ctx, c.Nodes, PoolOptions{}) {
		if st.Reachable || !strings.Contains(st.Error, "canceled") {
			t.Errorf("%s: reachable %v, error %q", st.Name, st.Reachable, st.Error)
		}
	}
}
