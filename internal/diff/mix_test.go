package diff

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestMixMatchesServer: mix and mixSum compute exactly what the server computes for
// encode.Mix and its sum, for edge values and random ones, and for sums that overflow 64 bits
// in both directions.
func TestMixMatchesServer(t *testing.T) {
	db := sandbox.NewDB(t)
	p := connect(t, db, "n1")[0]
	ctx := testContext(t)
	hs := []int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32, 1 << 32, -(1 << 32), 0xdeadbeef}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		hs = append(hs, int64(r.Uint64()))
	}
	rows, err := p.Query(ctx, "SELECT "+encode.Mix("h")+" FROM unnest($1::int8[]) WITH ORDINALITY AS u(h, o) ORDER BY o", hs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		if got := mix(h); got != want[i] {
			t.Fatalf("mix(%d) = %d, the server says %d", h, got, want[i])
		}
	}
	// sums: all values, and values chosen so the mixed sum overflows int64 either way
	var big, small []int64
	for i, h := range hs {
		if want[i] > math.MaxInt64/2 {
			big = append(big, h)
		}
		if want[i] < math.MinInt64/2 {
			small = append(small, h)
		}
	}
	for _, set := range [][]int64{hs, big, small, nil} {
		var s mixSum
		for _, h := range set {
			s.add(h)
		}
		var want RangeSum
		err := p.QueryRow(ctx, "SELECT count(*), coalesce(sum("+encode.Mix("h")+"), 0)::text FROM unnest($1::int8[]) AS u(h)", set).Scan(&want.Count, &want.Sum)
		if err != nil {
			t.Fatal(err)
		}
		if want.Count == 0 {
			want = RangeSum{}
		}
		if got := s.sum(); got != want {
			t.Errorf("sum of %d mixed hashes: %+v, the server says %+v", len(set), got, want)
		}
	}
	if len(big) < 100 || len(small) < 100 {
		t.Fatalf("too few large mixed values to overflow: %d, %d", len(big), len(small))
	}
}
