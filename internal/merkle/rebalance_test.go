package merkle_test

import (
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
)

// TestLeavesSplitAndMerge: a leaf that grows past twice the block size is split and leaves that
// shrink are merged, with the same boundaries on every node, and comparisons stay exact.
func TestLeavesSplitAndMerge(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE s (id int PRIMARY KEY, v text); INSERT INTO s SELECT g * 10, 'v' FROM generate_series(0, 999) g`)
	if r := build(t, pools, "s", 100); r.Leaves != 10 {
		t.Fatalf("leaves: %d", r.Leaves)
	}
	// leaf 3 holds 3000..3990: 900 more keys in it on every node, and one differing row
	db.Exec(t, `INSERT INTO s SELECT g, 'new' FROM generate_series(3000, 3999) g WHERE g % 10 <> 0`)
	db.Exec(t, `UPDATE s SET v = 'n2' WHERE id = 3555`, "n2")
	got, res := treeDiff(t, pools, "s")
	wantKeys(t, "split", got, "3555")
	if res.Splits != 1 || res.Leaves != 19 {
		t.Errorf("after the split: %d splits, %d leaves; want 1 and 19", res.Splits, res.Leaves)
	}
	bounds := func() string {
		var all []string
		for _, p := range pools {
			var b string
			if err := p.QueryRow(testContext(t), "SELECT string_agg(coalesce(lo::text, '-') || ':' || cnt, ' ' ORDER BY leaf) FROM pgparity.leaves").Scan(&b); err != nil {
				t.Fatal(err)
			}
			all = append(all, b)
		}
		return strings.Join(all, "\n")
	}
	b := strings.Split(bounds(), "\n")
	if !strings.Contains(b[0], "{3000}:100 {3100}:100") || strings.Count(b[0], " ") != 18 {
		t.Errorf("leaves on n1 after the split: %s", b[0])
	}
	for i := range b {
		if cut(b[i]) != cut(b[0]) {
			t.Errorf("boundaries differ between n1 and n%d:\n%s\n%s", i+1, b[0], b[i])
		}
	}
	// leaves 7 and 8 (7000..8990) shrink to 10 rows each
	db.Exec(t, `DELETE FROM s WHERE id BETWEEN 7000 AND 8999 AND id % 100 <> 0`)
	db.Exec(t, `DELETE FROM s WHERE id = 8100`, "n3")
	got, res = treeDiff(t, pools, "s")
	wantKeys(t, "merge", got, "3555", "8100")
	if res.Merges != 1 || res.Leaves != 18 {
		t.Errorf("after the merge: %d merges, %d leaves; want 1 and 18", res.Merges, res.Leaves)
	}
	got = checkEqual(t, pools, "s", "after split and merge")
	wantKeys(t, "after split and merge", got, "3555", "8100")
}

// cut drops the counts, leaving the boundaries.
func cut(leaves string) string {
	var out []string
	for _, l := range strings.Fields(leaves) {
		out = append(out, l[:strings.LastIndex(l, ":")])
	}
	return strings.Join(out, " ")
}
