package merkle_test

import (
	"fmt"
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
)

// TestBulkStatementEscalates: one statement changing more keys than cdc.MaxKeys leaves a
// whole-table mark (trigger tracker: the capped INSERT's row count decides), and the re-check
// after it, and a small change after that, report exactly what a full table-diff reports.
func TestBulkStatementEscalates(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) {
			db, pools := setup(t, tracker)
			db.Exec(t, fmt.Sprintf(`CREATE TABLE bk (id int PRIMARY KEY, v text); INSERT INTO bk SELECT g, 'v' FROM generate_series(1, %d) g`, cdc.MaxKeys+500))
			build(t, pools, "bk", 1000)
			db.Exec(t, `UPDATE bk SET v = 'bulk' WHERE id % 3 <> 0 OR id > 20`, "n2")
			got, res := treeDiff(t, pools, "bk")
			sameVerdicts(t, "after the bulk update", got, fullDiff(t, pools, "bk"))
			if len(got) != cdc.MaxKeys+500-6 || res.Rehashed != res.Leaves || res.Workers != opts("").Concurrency {
				t.Errorf("bulk: %d keys differ, %d of %d leaves rehashed, %d workers; want %d keys, every leaf, %d workers",
					len(got), res.Rehashed, res.Leaves, res.Workers, cdc.MaxKeys+500-6, opts("").Concurrency)
			}
			db.Exec(t, `UPDATE bk SET v = 'bulk' WHERE id = 3; DELETE FROM bk WHERE id = 6`, "n2")
			got, _ = treeDiff(t, pools, "bk")
			sameVerdicts(t, "after two more changes", got, fullDiff(t, pools, "bk"))
		})
	}
}
