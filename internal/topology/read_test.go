package topology

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 2)) }

// Read returns column lists and row filters, the subscription's oid, apply worker, origin
// progress and connection address; Pairs pairs it with its publisher; ReadProgress follows it.
func TestReadAndPairOnRealReplication(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY, v text, secret text); CREATE TABLE public.b (id int PRIMARY KEY)`)
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE public.a (id, v) WHERE (id > 10), public.b`, "n1")
	port := db.Sandbox.Nodes[0].Port
	sub := "s_" + db.Name
	db.Exec(t, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d user=%s password=%s dbname=%s' PUBLICATION p",
		sub, port, sandbox.Superuser, db.Sandbox.Password, db.Name), "n2")
	t.Cleanup(func() { db.Exec(t, "DROP SUBSCRIPTION "+sub, "n2") })
	db.Exec(t, `INSERT INTO public.a VALUES (11, 'x', 'y')`, "n1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c1, c2 := db.Connect(t, "n1"), db.Connect(t, "n2")
	var p *Progress
	for {
		var err error
		if p, err = ReadProgress(ctx, c2, sub); err != nil {
			t.Fatal(err)
		}
		var n int
		var ready bool
		if err := c2.QueryRow(ctx, "SELECT (SELECT count(*) FROM public.a), (SELECT bool_and(srsubstate = 'r') FROM pg_catalog.pg_subscription_rel)").Scan(&n, &ready); err != nil {
			t.Fatal(err)
		}
		if n == 1 && ready && p.OriginLSN != nil && p.ApplyPID != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replication did not start: %+v", p)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !p.Enabled || p.Applied() < *p.OriginLSN || p.ApplyErrors != 0 {
		t.Errorf("progress %+v", p)
	}
	n1, err := Read(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Publication{{Name: "p", Operations: "insert, update, delete, truncate", Tables: []PublishedTable{
		{Schema: "public", Name: "a", Columns: []string{"id", "v"}, RowFilter: "(id > 10)"},
		{Schema: "public", Name: "b", Columns: []string{"id"}},
	}}}
	if !reflect.DeepEqual(n1.Publications, want) {
		t.Errorf("publications %+v", n1.Publications)
	}
	n2, err := Read(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if len(n2.Subscriptions) != 1 {
		t.Fatalf("subscriptions %+v", n2.Subscriptions)
	}
	s := n2.Subscriptions[0]
	var oid uint32
	if err := c2.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_subscription WHERE subname = $1", sub).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	if s.OID != oid || s.OriginName() != fmt.Sprintf("pg_%d", oid) || s.OriginLSN == nil || s.ApplyPID == nil ||
		!reflect.DeepEqual(s.Conn, &Address{Host: "localhost", Port: uint16(port), DBName: db.Name}) ||
		!reflect.DeepEqual(s.Tables, map[string]string{"public.a": "r", "public.b": "r"}) {
		t.Errorf("subscription %+v", s)
	}
	nodes := []Endpoint{{Name: "n1", Params: map[string]string{"host": "127.0.0.1", "port": fmt.Sprint(port), "dbname": db.Name}},
		{Name: "n2", Params: map[string]string{"host": "127.0.0.1", "port": fmt.Sprint(db.Sandbox.Nodes[1].Port), "dbname": db.Name}}}
	pairs := Pairs(nodes, []*Node{n1, n2})
	if len(pairs) != 1 || pairs[0].Publisher != 0 || pairs[0].Subscriber != 1 || pairs[0].Subscription.Name != sub {
		t.Errorf("pairs %+v", pairs)
	}
	if _, err := ReadProgress(ctx, c2, "nope"); err == nil {
		t.Error("progress of a missing subscription")
	}
}
