package schema

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestReplicationDisabledSubscriptionInactiveSlot(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE TABLE public.c (id int PRIMARY KEY)`)
	db.Exec(t, `INSERT INTO public.a VALUES (1), (2); CREATE PUBLICATION p FOR TABLE public.a, public.b`, "n1")
	sub := subscribe(t, db, "n2", "p", "WITH (disable_on_error = true)")
	pools := connect(t, db, 2, "n1", "n2")
	ctx := testContext(t)

	top, err := Replication(ctx, pools)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Findings) != 0 {
		t.Fatalf("healthy pair: findings %+v", top.Findings)
	}
	n1, n2 := top.Nodes[0], top.Nodes[1]
	if len(n1.Publications) != 1 || !reflect.DeepEqual(n1.Publications[0], PublicationState{
		Name: "p", Operations: "insert, update, delete, truncate", Tables: []string{"public.a", "public.b"},
	}) || len(n2.Publications) != 0 {
		t.Errorf("publications: %+v / %+v", n1.Publications, n2.Publications)
	}
	if len(n1.Slots) != 1 || n1.Slots[0].Name != sub || !n1.Slots[0].Active || n1.Slots[0].WALStatus != "reserved" || n1.Slots[0].Plugin != "pgoutput" {
		t.Errorf("slots on n1: %+v", n1.Slots)
	}
	if len(n2.Subscriptions) != 1 {
		t.Fatalf("subscriptions on n2: %+v", n2.Subscriptions)
	}
	s := n2.Subscriptions[0]
	if s.Name != sub || !s.Enabled || s.Slot != sub || s.Origin != "any" || s.Streaming != "off" || !s.DisableOnError ||
		!reflect.DeepEqual(s.Publications, []string{"p"}) || !reflect.DeepEqual(s.Tables, map[string]string{"public.a": "r", "public.b": "r"}) ||
		s.Publisher != "n1" || s.LagBytes == nil || s.ApplyErrors != 0 || s.SyncErrors != 0 {
		t.Errorf("subscription: %+v", s)
	}

	// Break it: a table added to the publication but never refreshed on the subscriber, and the
	// subscription disabled (its slot on the publisher goes inactive).
	db.Exec(t, `ALTER PUBLICATION p ADD TABLE public.c`, "n1")
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	waitFor(t, db, "n1", "slot inactive", "SELECT NOT active FROM pg_catalog.pg_replication_slots WHERE slot_name = '"+sub+"'")

	top, err = Replication(ctx, pools)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range top.Findings {
		got = append(got, f.Node+"|"+f.Object+"|"+f.Severity+"|"+f.Message)
	}
	want := []string{
		"n1|slot " + sub + "|risky|slot " + sub + " is inactive and retains ",
		"n2|subscription " + sub + "|broken|subscription " + sub + " is disabled: no changes are applied",
		"n2|subscription " + sub + "|broken|table public.c is in publication p on n1 but not subscribed by " + sub + " (missing on the subscriber, or ALTER SUBSCRIPTION " + sub + " REFRESH PUBLICATION was not run)",
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || (i > 0 && got[i] != want[i]) {
			t.Errorf("finding %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	if !strings.HasSuffix(got[0], " bytes of WAL") {
		t.Errorf("slot finding %q", got[0])
	}
}

// A subscription detached from its slot (slot_name = NONE: the usual step before dropping a
// subscription whose publisher is gone) has no slot name.
func TestReplicationSubscriptionWithoutSlot(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY)`)
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE public.a`, "n1")
	sub := subscribe(t, db, "n2", "p", "")
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" SET (slot_name = NONE)", "n2")
	waitFor(t, db, "n1", "slot inactive", "SELECT NOT active FROM pg_catalog.pg_replication_slots WHERE slot_name = '"+sub+"'")
	db.Exec(t, "SELECT pg_catalog.pg_drop_replication_slot('"+sub+"')", "n1")
	top, err := Replication(testContext(t), connect(t, db, 2, "n1", "n2"))
	if err != nil {
		t.Fatal(err)
	}
	if s := top.Nodes[1].Subscriptions; len(s) != 1 || s[0].Slot != "" || s[0].Publisher != "" || s[0].LagBytes != nil {
		t.Errorf("subscriptions on n2: %+v", s)
	}
	var got []string
	for _, f := range top.Findings {
		got = append(got, f.Node+"|"+f.Severity+"|"+f.Message)
	}
	if want := []string{"n2|broken|subscription " + sub + " is disabled: no changes are applied"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n got %q\nwant %q", got, want)
	}
}

// In a cascade n1 -> n2 -> n3 whose levels reuse the publication and slot names, n3's slot name
// is found on n1 and on n2: the lag and the membership check must not be taken from n1.
func TestReplicationAmbiguousSlotName(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY)`)
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE public.a, public.b`, "n1")
	slot := "sl_" + db.Name
	subscribe(t, db, "n2", "p", "WITH (slot_name = '"+slot+"')")
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE public.a`, "n2")
	port := 0
	for _, n := range db.Sandbox.Nodes {
		if n.Name == "n2" {
			port = n.Port
		}
	}
	name := "s3_" + db.Name
	db.Exec(t, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d user=%s password=%s dbname=%s' PUBLICATION p WITH (slot_name = '%s')",
		name, port, sandbox.Superuser, db.Sandbox.Password, db.Name, slot), "n3")
	t.Cleanup(func() { db.Exec(t, "DROP SUBSCRIPTION "+name, "n3") })
	waitFor(t, db, "n3", "initial sync of "+name, "SELECT count(*) FILTER (WHERE srsubstate <> 'r') = 0 FROM pg_catalog.pg_subscription_rel")

	top, err := Replication(testContext(t), connect(t, db, 2, "n2", "n1", "n3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Findings) != 0 {
		t.Errorf("findings: %+v", top.Findings)
	}
	// Both are streaming: the walsenders' application_name (the subscription's name) tells them
	// apart.
	for _, n := range top.Nodes {
		want := map[string]string{"n1": "", "n2": "n1", "n3": "n2"}[n.Node]
		for _, s := range n.Subscriptions {
			if s.Publisher != want || s.LagBytes == nil {
				t.Errorf("subscription %s of %s: publisher %q (want %q), lag %v", s.Name, n.Node, s.Publisher, want, s.LagBytes)
			}
		}
	}
}
