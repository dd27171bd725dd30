package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Port returns the port of the named node (0 when there is none).
func (d *DB) Port(node string) int {
	for _, n := range d.Sandbox.Nodes {
		if n.Name == node {
			return n.Port
		}
	}
	return 0
}

// Subscribe creates subscription s_<database>_<subNode> on subNode to publication pub (a list
// is fine: "p, q") of the test database on pubNode, with extra appended (e.g. "WITH (...)"),
// waits for its initial table sync, and drops it when the test ends: before the database is
// dropped, since DROP DATABASE fails while a subscription exists in it. The name is unique per
// database and node, as replication slot names must be unique on the publisher's server.
func (d *DB) Subscribe(t testing.TB, pubNode, subNode, pub, extra string) string {
	t.Helper()
	name := "s_" + d.Name + "_" + subNode
	d.Exec(t, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%d user=%s password=%s dbname=%s' PUBLICATION %s %s",
		name, d.Port(pubNode), Superuser, d.Sandbox.Password, d.Name, pub, extra), subNode)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, d.ConnString(subNode))
		if err != nil {
			t.Errorf("drop subscription %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SUBSCRIPTION "+name); err != nil {
			// The slot cannot be dropped (publisher gone): detach the subscription from it first.
			for _, sql := range []string{"ALTER SUBSCRIPTION " + name + " DISABLE", "ALTER SUBSCRIPTION " + name + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + name} {
				if _, err := conn.Exec(ctx, sql); err != nil {
					t.Errorf("%s: %v", sql, err)
				}
			}
		}
	})
	d.WaitFor(t, subNode, "initial sync of "+name,
		"SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') = 0 FROM pg_catalog.pg_subscription_rel r JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid WHERE s.subname = '"+name+"'")
	return name
}

// WaitFor polls a boolean query on a node of the test database until it returns true (a minute
// at most).
func (d *DB) WaitFor(t testing.TB, node, what, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.ConnString(node))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var ok bool
		if err := conn.QueryRow(ctx, sql).Scan(&ok); err != nil {
			t.Fatalf("wait for %s on %s: %v", what, node, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s on %s", what, node)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
