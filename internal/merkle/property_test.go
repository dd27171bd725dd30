package merkle_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/cdc"
)

// TestTreeDiffEqualsTableDiff runs rounds of random inserts, updates (some changing the key),
// deletes, one TRUNCATE and some whole-table marks on random nodes; after each round the tree comparison must report
// exactly the keys (and rows) that a full table-diff reports.
func TestTreeDiffEqualsTableDiff(t *testing.T) {
	for _, tracker := range []string{cdc.Trigger, cdc.CDC} {
		t.Run(tracker, func(t *testing.T) { propertyRounds(t, tracker, 20) })
	}
}

func propertyRounds(t *testing.T, tracker string, rounds int) {
	db, pools := setup(t, tracker)
	db.Exec(t, `CREATE TABLE public."Mixed Case" (id int PRIMARY KEY, "count" int, v text);
INSERT INTO public."Mixed Case" SELECT g, g % 7, md5(g::text) FROM generate_series(1, 2000) g`)
	r := build(t, pools, "Mixed Case", 100)
	if r.Leaves != 20 {
		t.Fatalf("leaves: %d, want 20", r.Leaves)
	}
	rng := rand.New(rand.NewPCG(10, uint64(len(tracker))))
	truncateRound := 7 + rng.IntN(10)
	next := 100000
	for round := 1; round <= rounds; round++ {
		perNode := map[string][]string{}
		for range 4 + rng.IntN(6) {
			node := nodes[rng.IntN(3)]
			id := rng.IntN(2300) - 150 // below the first leaf and past the last boundary too
			var stmt string
			switch rng.IntN(6) {
			case 0:
				next++
				stmt = fmt.Sprintf(`INSERT INTO public."Mixed Case" VALUES (%d, 1, 'new') ON CONFLICT (id) DO UPDATE SET v = 'conflict'`, id)
			case 1:
				stmt = fmt.Sprintf(`UPDATE public."Mixed Case" SET v = v || 'x' WHERE id BETWEEN %d AND %d`, id, id+rng.IntN(3))
			case 2: // key update: the old key leaves its leaf, the new key lands in another
				off := 500 + rng.IntN(900)
				stmt = fmt.Sprintf(`UPDATE public."Mixed Case" SET id = id + %d WHERE id = %d AND NOT EXISTS (SELECT FROM public."Mixed Case" WHERE id = %d)`,
					off, id, id+off)
			case 3:
				stmt = fmt.Sprintf(`DELETE FROM public."Mixed Case" WHERE id = %d`, id)
			case 4: // the same change everywhere: no difference
				db.Exec(t, fmt.Sprintf(`UPDATE public."Mixed Case" SET "count" = "count" + 1 WHERE id = %d`, id))
				continue
			case 5: // several statements in one transaction
				stmt = fmt.Sprintf(`BEGIN; DELETE FROM public."Mixed Case" WHERE id = %d; INSERT INTO public."Mixed Case" VALUES (%d, 2, 'tx') ON CONFLICT DO NOTHING; COMMIT`, id, next)
				next++
			}
			perNode[node] = append(perNode[node], stmt)
		}
		if round == truncateRound {
			perNode["n2"] = append(perNode["n2"], `TRUNCATE public."Mixed Case"`,
				`INSERT INTO public."Mixed Case" SELECT g, g % 7, md5(g::text) FROM generate_series(1, 1500) g`)
		}
		for node, stmts := range perNode {
			db.Exec(t, strings.Join(stmts, ";\n"), node)
		}
		// every fourth round, a whole-table mark on one node: its leaves are streamed (those
		// changed on every node hashed), with this round's differences and the earlier ones
		whole := round%4 == 3
		if whole {
			node := pools[rng.IntN(3)]
			db.Exec(t, `INSERT INTO `+marksOf(t, node, "Mixed Case")+` (k) VALUES (NULL)`, node.Node.Name)
		}
		got, res := treeDiff(t, pools, "Mixed Case")
		want := fullDiff(t, pools, "Mixed Case")
		sameVerdicts(t, fmt.Sprintf("round %d", round), got, want)
		if whole && (res.Streamed == 0 || res.Rehashed != res.Leaves) {
			t.Errorf("round %d: %d leaves streamed, %d of %d rehashed; want some streamed, every one rehashed", round, res.Streamed, res.Rehashed, res.Leaves)
		}
		if round != truncateRound && !whole && round > 1 && res.Rehashed == res.Leaves {
			t.Errorf("round %d: every leaf was rehashed (%d), expected only dirty ones", round, res.Rehashed)
		}
		t.Logf("round %d: %d keys differ, %d of %d leaves rehashed (%d streamed), %d marks", round, len(want), res.Rehashed, res.Leaves, res.Streamed, res.Marks)
		if t.Failed() {
			t.Fatalf("stopped after round %d (%d keys differ)", round, len(want))
		}
	}
}
