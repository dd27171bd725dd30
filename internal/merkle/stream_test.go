package merkle_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
)

// TestStreamedLeaves: leaves changed on some nodes only, with too many changes to look their
// keys up, are streamed (rows read once on the changed nodes, their sums added up from them):
// diverged leaves, leaves changed to the same content, leaves changed alike on two of three
// nodes, and a leaf grown past what a stream keeps (drilled into by reading it again). The
// re-check reports exactly table-diff's keys, and the leaf sums it stores are the ones hashing
// every leaf on the server stores.
func TestStreamedLeaves(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE st (id int PRIMARY KEY, v text); INSERT INTO st SELECT g * 100, 'v' FROM generate_series(1, 12000) g`)
	if r := build(t, pools, "st", 1000); r.Leaves != 12 {
		t.Fatalf("leaves: %d", r.Leaves)
	}
	db.Exec(t, `UPDATE st SET v = 'n2' WHERE (id / 100) % 2 = 0 AND id <= 600000`, "n2") // leaves 0-5 differ
	db.Exec(t, `INSERT INTO st VALUES (50, 'n2 only'), (550050, 'n2 only'); DELETE FROM st WHERE id = 300100`, "n2")
	db.Exec(t, `UPDATE st SET v = v WHERE id > 600000 AND id <= 800000`, "n2")            // leaves 6-7: same content
	db.Exec(t, `UPDATE st SET v = 'n2n3' WHERE id > 800000 AND id <= 900000`, "n2", "n3") // leaf 8: n2 = n3 <> n1
	// leaf 9 grows to 40,600 rows on n2 (statements under cdc.MaxKeys)
	for g := 0; g < 40000; g += 10000 {
		db.Exec(t, `INSERT INTO st SELECT 900100 + g, 'new' FROM generate_series(`+strconv.Itoa(g+1)+`, `+strconv.Itoa(g+10000)+`) g WHERE g % 100 <> 0`, "n2")
	}
	got, res := treeDiff(t, pools, "st")
	sameVerdicts(t, "streamed", got, fullDiff(t, pools, "st"))
	if len(got) != 3000+3+1000+39600 || res.Streamed != 10 || res.Workers != 2 {
		t.Errorf("streamed: %d keys differ, %d leaves streamed, %d workers; want 43603, 10, 2", len(got), res.Streamed, res.Workers)
	}
	for _, k := range []string{"50", "200", "300100", "550050", "600000", "800100", "900000", "900101", "940099"} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %s not reported", k)
		}
	}
	for _, k := range []string{"100", "700000", "1000000"} {
		if _, ok := got[k]; ok {
			t.Errorf("key %s reported: %s", k, got[k])
		}
	}
	before := storedLeaves(t, pools)
	// every leaf marked on every node: hashed on the server everywhere, nothing streamed
	for _, p := range pools {
		db.Exec(t, `INSERT INTO `+marksOf(t, p, "st")+` (k) VALUES (NULL)`, p.Node.Name)
	}
	again, res := treeDiff(t, pools, "st")
	sameVerdicts(t, "rehashed", again, got)
	if res.Streamed != 0 || res.Rehashed != res.Leaves {
		t.Errorf("rehashed: %d leaves streamed, %d of %d rehashed; want 0 and all", res.Streamed, res.Rehashed, res.Leaves)
	}
	after := storedLeaves(t, pools)
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("leaf sums stored on %s by the streamed re-check and by hashing differ:\n%s\n%s", pools[i].Node.Name,
				strings.ReplaceAll(before[i], " ", "\n"), strings.ReplaceAll(after[i], " ", "\n"))
		}
	}
}

// TestStreamedTruncatedNode: a node emptied by TRUNCATE and partly refilled is streamed
// (whole-table mark). Its leaves 10 and 11 match again, so the differing ones are drilled into
// as two runs; in the second the other nodes' rows are read whole (most keys are missing on the
// streamed node, and the row width is known by then) while the streamed node's rows are looked
// up by key: exactly table-diff's keys and values.
func TestStreamedTruncatedNode(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE sw (id int PRIMARY KEY, v text); INSERT INTO sw SELECT g, 'v' FROM generate_series(1, 3000) g`)
	build(t, pools, "sw", 100)
	db.Exec(t, `TRUNCATE sw; INSERT INTO sw SELECT g, CASE WHEN g = 7 THEN 'new' ELSE 'v' END FROM generate_series(1, 10) g;
INSERT INTO sw SELECT g, 'v' FROM generate_series(1001, 1200) g;
INSERT INTO sw SELECT g, CASE WHEN g = 2005 THEN 'new' ELSE 'v' END FROM generate_series(2001, 2010) g`, "n2")
	got, res := treeDiff(t, pools, "sw")
	sameVerdicts(t, "truncated", got, fullDiff(t, pools, "sw"))
	if len(got) != 2782 || res.Streamed != res.Leaves || res.Differing != res.Leaves-2 {
		t.Errorf("truncated: %d keys differ, %d of %d leaves streamed, %d differ; want 2782, all, all but 2", len(got), res.Streamed, res.Leaves, res.Differing)
	}
	for _, k := range []string{"7", "2005"} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %s not reported", k)
		}
	}
	for _, k := range []string{"8", "1001", "1200", "2001"} {
		if _, ok := got[k]; ok {
			t.Errorf("key %s reported: %s", k, got[k])
		}
	}
}

// TestStreamedLeavesSeeSwaps: streamed leaf sums (added up client-side) still see changes that
// a linear or XOR combination would hide: values exchanged between two rows, keys exchanged
// between two rows, and two nodes changing the same two rows into each other's values.
func TestStreamedLeavesSeeSwaps(t *testing.T) {
	db, pools := setup(t, cdc.Trigger)
	db.Exec(t, `CREATE TABLE sp (id int PRIMARY KEY, v text, w int); INSERT INTO sp SELECT g, 'v' || g, g FROM generate_series(1, 1000) g`)
	build(t, pools, "sp", 100)
	db.Exec(t, `UPDATE sp SET v = CASE id WHEN 10 THEN 'v20' ELSE 'v10' END WHERE id IN (10, 20);
UPDATE sp SET id = -1 WHERE id = 330; UPDATE sp SET id = 330 WHERE id = 340; UPDATE sp SET id = 340 WHERE id = -1`, "n2")
	db.Exec(t, `UPDATE sp SET v = CASE id WHEN 500 THEN 'a' ELSE 'b' END WHERE id IN (500, 501)`, "n2")
	db.Exec(t, `UPDATE sp SET v = CASE id WHEN 500 THEN 'b' ELSE 'a' END WHERE id IN (500, 501)`, "n3")
	for _, p := range pools[1:] { // whole-table marks on n2 and n3: too many changes to look up
		db.Exec(t, `INSERT INTO `+marksOf(t, p, "sp")+` (k) VALUES (NULL)`, p.Node.Name)
	}
	got, res := treeDiff(t, pools, "sp")
	sameVerdicts(t, "swaps", got, fullDiff(t, pools, "sp"))
	wantKeys(t, "swaps", got, "10", "20", "330", "340", "500", "501")
	if res.Streamed != res.Leaves {
		t.Errorf("swaps: %d of %d leaves streamed, want all", res.Streamed, res.Leaves)
	}
}
