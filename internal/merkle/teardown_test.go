package merkle_test

import (
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/merkle"
)

// TestTeardownLeavesNothing: after teardown no slot, publication, trigger, function, table or
// schema of pgparity's is left on any node; teardown-table removes one table's share only.
func TestTeardownLeavesNothing(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			db.Exec(t, `CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE "B c" (id int PRIMARY KEY); INSERT INTO a VALUES (1)`)
			build(t, pools, "a", 10)
			build(t, pools, "B c", 10)
			ctx := testContext(t)
			count := func(sql string) int {
				t.Helper()
				total := 0
				for _, p := range pools {
					var n int
					if err := p.QueryRow(ctx, sql).Scan(&n); err != nil {
						t.Fatalf("%s: %v", sql, err)
					}
					total += n
				}
				return total
			}
			objects := map[string]string{
				"slots":        "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgparity%' AND database = current_database()",
				"publications": "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'pgparity%'",
				"triggers":     "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgparity%'",
				"functions":    "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgparity' OR p.proname LIKE 'track\\_%'",
				"relations":    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgparity'",
				"schemas":      "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgparity'",
			}
			before := map[string]int{}
			for what, sql := range objects {
				before[what] = count(sql)
			}
			if before["schemas"] != 3 || before["relations"] != 3*6 || (tracker == cdc.Trigger && (before["triggers"] != 3*12 || before["functions"] != 3*4)) ||
				(tracker == cdc.CDC && (before["slots"] != 3 || before["publications"] != 3)) {
				t.Fatalf("objects before teardown: %v", before)
			}
			for _, p := range pools {
				if err := cdc.Untrack(ctx, p, "public", "B c"); err != nil {
					t.Fatal(err)
				}
				if err := merkle.Forget(ctx, p, "public", "B c"); err != nil {
					t.Fatal(err)
				}
			}
			if tracker == cdc.Trigger && (count(objects["triggers"]) != 3*6 || count(objects["functions"]) != 3*2) {
				t.Errorf("after teardown-table: %d triggers, %d functions", count(objects["triggers"]), count(objects["functions"]))
			}
			if n := count(objects["relations"]); n != 3*5 { // the marks table of "B c" went with its tree
				t.Errorf("relations of pgparity after teardown-table: %d, want 15", n)
			}
			if n := count("SELECT count(*) FROM pgparity.trees"); n != 3 {
				t.Errorf("trees after teardown-table: %d, want 3", n)
			}
			for _, p := range pools {
				if err := cdc.Teardown(ctx, p); err != nil {
					t.Fatal(err)
				}
				if err := merkle.Teardown(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			for what, sql := range objects {
				if n := count(sql); n != 0 {
					t.Errorf("after teardown: %d %s left", n, what)
				}
			}
		})
	}
}
