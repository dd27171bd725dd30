package diff

import (
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// ReadHashes reads outside the snapshot: a row changed after Open is seen changed, a row
// deleted is nil, and the hash equals the one the snapshot's drill-down reported for an
// unchanged row.
func TestReadHashesReadsAfterTheSnapshot(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 30) g`, "n1", "n2")
	db.Exec(t, `UPDATE public.t SET v = 'x' WHERE id IN (1, 2, 3)`, "n2")
	pools := connect(t, db, "n1", "n2")
	ctx := testContext(t)
	c, err := Prepare(ctx, pools, opts("t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, 1, nil); err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	keys := []Key{{"1"}, {"2"}, {"3"}, {"99"}}
	entries, err := c.FetchEntries(ctx, 0, keys)
	if err != nil || len(entries) != 3 {
		t.Fatalf("entries %d, %v", len(entries), err)
	}
	db.Exec(t, `UPDATE public.t SET v = 'changed' WHERE id = 2; DELETE FROM public.t WHERE id = 3`, "n1")
	hashes, err := c.ReadHashes(ctx, 0, keys)
	if err != nil {
		t.Fatal(err)
	}
	snap := func(i int) int64 { return entries[i].Versions[entries[i].VersionOf(0)].Hash }
	if hashes[0] == nil || *hashes[0] != snap(0) {
		t.Errorf("unchanged key 1: %v, snapshot %d", hashes[0], snap(0))
	}
	if hashes[1] == nil || *hashes[1] == snap(1) {
		t.Errorf("changed key 2: %v, snapshot %d", hashes[1], snap(1))
	}
	if hashes[2] != nil || hashes[3] != nil {
		t.Errorf("deleted key 3 / absent key 99: %v %v", hashes[2], hashes[3])
	}
}
