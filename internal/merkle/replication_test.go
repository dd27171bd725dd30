package merkle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/merkle"
)

// TestForAllTablesPublicationReplicatesNothingOfOurs: with a FOR ALL TABLES publication on n1
// subscribed by n2, building and using trees publishes none of pgparity's tables, the
// subscription keeps working, and rows applied by replication are tracked on n2 (triggers
// ENABLE ALWAYS; the slot decodes applied rows).
func TestForAllTablesPublicationReplicatesNothingOfOurs(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			pools = pools[:2]
			db.Exec(t, `CREATE TABLE f (id int PRIMARY KEY, v text)`, "n1", "n2")
			db.Exec(t, `INSERT INTO f SELECT g, 'v' FROM generate_series(1, 300) g; CREATE PUBLICATION everything FOR ALL TABLES`, "n1")
			db.Exec(t, fmt.Sprintf(`CREATE SUBSCRIPTION sub CONNECTION '%s' PUBLICATION everything`, db.ConnString("n1")), "n2")
			t.Cleanup(func() { db.Exec(t, `DROP SUBSCRIPTION IF EXISTS sub`, "n2") })
			ctx := testContext(t)
			waitRows := func(want int) {
				waitFor(t, fmt.Sprintf("n2 to hold %d rows", want), func() bool {
					var n int
					_ = pools[1].QueryRow(ctx, "SELECT count(*) FROM public.f").Scan(&n)
					return n == want
				})
			}
			waitRows(300)
			r, err := merkle.Build(ctx, pools, opts("f"), 50, trackOn(pools))
			if err != nil {
				t.Fatal(err)
			}
			if r.Leaves != 6 {
				t.Fatalf("leaves %d", r.Leaves)
			}
			var published int
			if err := pools[0].QueryRow(ctx, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'everything' AND schemaname = 'pgparity'").Scan(&published); err != nil || published != 0 {
				t.Fatalf("pgparity tables in the FOR ALL TABLES publication: %d (%v)", published, err)
			}
			db.Exec(t, `INSERT INTO f VALUES (1000, 'replicated'); UPDATE f SET v = 'u' WHERE id = 7`, "n1")
			waitRows(301)
			waitFor(t, "the update to reach n2", func() bool {
				var v string
				_ = pools[1].QueryRow(ctx, "SELECT v FROM public.f WHERE id = 7").Scan(&v)
				return v == "u"
			})
			var marks int
			if err := pools[1].QueryRow(ctx, "SELECT count(*) FROM "+marksOf(t, pools[1], "f")).Scan(&marks); err != nil {
				t.Fatal(err)
			}
			if tracker == cdc.Trigger && marks != 3 { // insert 1000, update 7 (old and new key)
				t.Errorf("marks on n2 after replicated changes: %d, want 3 (its own triggers, none replicated)", marks)
			}
			got := checkEqual(t, pools, "f", "replicated changes")
			wantKeys(t, "replicated changes", got)
			db.Exec(t, `UPDATE f SET v = 'n2 only' WHERE id = 8`, "n2")
			got = checkEqual(t, pools, "f", "local change on the subscriber")
			wantKeys(t, "local change on the subscriber", got, "8")
			var trees int
			if err := pools[1].QueryRow(ctx, "SELECT count(*) FROM pgparity.trees").Scan(&trees); err != nil || trees != 1 {
				t.Errorf("trees on n2: %d (%v), want its own 1", trees, err)
			}
			var state string
			ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := pools[1].QueryRow(ctx2, "SELECT coalesce((SELECT pid IS NOT NULL FROM pg_stat_subscription WHERE subname = 'sub')::text, 'none')").Scan(&state); err != nil || state != "true" {
				t.Errorf("subscription worker running: %s (%v)", state, err)
			}
		})
	}
}
