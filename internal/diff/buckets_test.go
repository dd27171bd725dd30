package diff

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestHashBucketsMatchesCase: for every key type encode.Bucketable allows (and a domain over
// one), width_bucket places each row in the same sub-range as the CASE of range comparisons
// does, at edge values (NaN, infinities, extreme integers), and
// a text key is not bucketable.
func TestHashBucketsMatchesCase(t *testing.T) {
	db := sandbox.NewDB(t)
	pools := connect(t, db, "n1")
	ctx := testContext(t)
	db.Exec(t, `CREATE DOMAIN public.pos AS bigint CHECK (VALUE > 0)`, "n1")
	cases := []struct {
		typ, values string
		bucketed    bool
	}{
		{"smallint", "(-32768), (-1), (0), (1), (7), (300), (32767)", true},
		{"integer", "(-2147483648), (-5), (0), (3), (9), (2147483647)", true},
		{"bigint", "(-9223372036854775808), (-1), (0), (1), (4294967296), (9223372036854775807)", true},
		{"numeric", "('-Infinity'), (-1.5), (0), (0.10), (1.0), (2), (2.50), (2.500001), ('Infinity'), ('NaN')", true},
		{"date", "('-infinity'), ('1999-12-31'), ('2000-01-01'), ('2024-02-29'), ('infinity')", true},
		{"timestamp", "('-infinity'), ('2000-01-01 00:00:00'), ('2000-01-01 00:00:00.000001'), ('2030-06-01'), ('infinity')", true},
		{"timestamptz", "('-infinity'), ('2000-01-01 00:00:00+00'), ('2000-01-01 01:00:00+02'), ('2030-06-01+00'), ('infinity')", true},
		{"uuid", "('00000000-0000-0000-0000-000000000000'), ('7fffffff-ffff-ffff-ffff-ffffffffffff'), ('80000000-0000-0000-0000-000000000000'), ('ffffffff-ffff-ffff-ffff-ffffffffffff')", true},
		{"public.pos", "(1), (2), (10), (11), (9223372036854775807)", true},
		{"text", "('a'), ('B'), ('b')", false},
	}
	for i, tc := range cases {
		table := fmt.Sprintf("k%d", i)
		db.Exec(t, fmt.Sprintf(`CREATE TABLE public.%s (k %s PRIMARY KEY, v int);
INSERT INTO public.%s (k) VALUES %s ON CONFLICT DO NOTHING`, table, tc.typ, table, tc.values), "n1")
		c, err := Prepare(ctx, pools, opts(table))
		if err != nil {
			t.Fatal(err)
		}
		if c.Bucketed() != tc.bucketed {
			t.Errorf("%s: bucketed %v, want %v", tc.typ, c.Bucketed(), tc.bucketed)
		}
		if !tc.bucketed {
			continue
		}
		rows, err := pools[0].Query(ctx, fmt.Sprintf(`SELECT x.k::text FROM public.%s AS x ORDER BY x.k`, table))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Open(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
		// every key a boundary (each row alone in its sub-range), then every other key
		for _, step := range []int{1, 2} {
			r := Range{}
			for j := 1; j < len(keys); j += step {
				r.Subs = append(r.Subs, Key{keys[j]})
			}
			byCase, err := c.HashRange(ctx, 0, r)
			if err != nil {
				t.Fatal(err)
			}
			byBucket, err := c.HashBuckets(ctx, 0, 0, r)
			if err != nil {
				t.Fatal(err)
			}
			// sorted boundaries: with every key one, every sub-range holds exactly one row
			alone := step != 1 || len(byBucket) == len(keys)
			for _, sum := range byBucket {
				alone = alone && (step != 1 || sum.Count == 1)
			}
			if !alone || fmt.Sprint(byBucket) != fmt.Sprint(byCase[0]) {
				t.Errorf("%s, every %d keys a boundary: width_bucket %v, CASE %v", tc.typ, step, byBucket, byCase[0])
			}
		}
		c.Close(ctx)
	}
}
