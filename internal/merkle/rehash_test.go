package merkle_test

import (
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/merkle"
)

// TestWidePassesMatchSpans: leaves rehashed in passes over whole parts of the table (build,
// and a change replicated to most leaves of every node) store the same sums as leaves rehashed
// in spans, and the comparison reports exactly table-diff's keys.
func TestWidePassesMatchSpans(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE wp (id int PRIMARY KEY, v text); INSERT INTO wp SELECT g, 'v' FROM generate_series(1, 12000) g`)
	if r := build(t, pools, "wp", 100); r.Leaves != 120 {
		t.Fatalf("leaves: %d", r.Leaves)
	}
	// rehash every leaf on every node in spans: the sums stored must not change
	bySpans := func(what string) {
		t.Helper()
		before := storedLeaves(t, pools)
		restore := merkle.SetWideShare(11)
		defer restore()
		for _, p := range pools {
			db.Exec(t, `INSERT INTO `+marksOf(t, p, "wp")+` (k) VALUES (NULL)`, p.Node.Name)
		}
		if _, res := treeDiff(t, pools, "wp"); res.Rehashed != res.Leaves {
			t.Fatalf("%s: %d of %d leaves rehashed in spans", what, res.Rehashed, res.Leaves)
		}
		after := storedLeaves(t, pools)
		for i := range before {
			if before[i] != after[i] {
				t.Errorf("%s: sums stored on %s by whole passes and by spans differ:\n%s\n%s", what, pools[i].Node.Name, before[i], after[i])
			}
		}
	}
	bySpans("after build")
	// a change on two thirds of the leaves of every node, and one row differing on n2
	db.Exec(t, `UPDATE wp SET v = 'x' WHERE id % 150 < 100`)
	db.Exec(t, `UPDATE wp SET v = 'n2' WHERE id = 5000`, "n2")
	got, res := treeDiff(t, pools, "wp")
	sameVerdicts(t, "replicated change", got, fullDiff(t, pools, "wp"))
	wantKeys(t, "replicated change", got, "5000")
	if res.Rehashed < 80 || res.Streamed != 0 {
		t.Errorf("replicated change: %d leaves rehashed, %d streamed; want at least 80 and 0", res.Rehashed, res.Streamed)
	}
	bySpans("after the replicated change")
}
