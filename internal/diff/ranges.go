package diff

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Key is a key value as the texts of its columns, in key order.
type Key []string

// id is a map key for k: texts joined by NUL, which PostgreSQL text never contains.
func (k Key) id() string { return strings.Join(k, "\x00") }

// Range is a half-open key range [Lo, Hi); a nil bound is open. The first range is open below and
// the last open above, so every row of every node lands in exactly one range. Subs split the
// range further (sub-range i is [Subs[i-1], Subs[i]) within [Lo, Hi)): one hashing query returns
// a checksum per sub-range, so a difference costs a drill-down of one sub-range only.
type Range struct {
	Index  int
	Lo, Hi Key
	Subs   []Key
}

// subRanges is how many sub-ranges each range is split into.
const subRanges = 20

// sub returns sub-range i of r as a range of its own.
func (r Range) sub(i int) Range {
	if len(r.Subs) == 0 {
		return r
	}
	s := Range{Index: r.Index, Lo: r.Lo, Hi: r.Hi}
	if i > 0 {
		s.Lo = r.Subs[i-1]
	}
	if i < len(r.Subs) {
		s.Hi = r.Subs[i]
	}
	return s
}

// maxSample bounds the keys read to plan ranges.
const maxSample = 200000

// planRanges splits the key space into ranges of about blockSize rows, reading keys on one node
// (the largest): exact boundaries for small tables, boundaries from a page sample otherwise.
func planRanges(ctx context.Context, tx pgx.Tx, q *queries, estRows float64, blockSize int) ([]Range, error) {
	if estRows < 0 { // never analyzed: count once so that planning is not blind
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+q.from).Scan(&n); err != nil {
			return nil, fmt.Errorf("count rows: %w", err)
		}
		estRows = float64(n)
	}
	if estRows <= float64(blockSize) {
		return []Range{{Index: 0}}, nil
	}
	var bounds []Key
	var err error
	nSubs := int(math.Ceil(estRows / float64(blockSize) * subRanges))
	if estRows <= 20*float64(blockSize) || estRows <= 200000 {
		step := max(1, blockSize/subRanges)
		bounds, err = readKeys(ctx, tx, q.everyNthKey(), len(q.key), step)
	} else {
		perSub := math.Min(10, float64(maxSample)/float64(nSubs))
		pct := math.Min(100, 100*perSub*float64(nSubs)/estRows)
		var sample []Key
		sample, err = readKeys(ctx, tx, q.sampleKeys(), len(q.key), pct)
		if err == nil {
			bounds = pickBounds(sample, nSubs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("plan key ranges: %w", err)
	}
	return groupBounds(bounds, subRanges), nil
}

// groupBounds turns ascending boundaries into ranges of per sub-ranges each: every per-th
// boundary ends a range, the others split it.
func groupBounds(bounds []Key, per int) []Range {
	ranges := []Range{{Index: 0}}
	for i, b := range bounds {
		cur := &ranges[len(ranges)-1]
		if (i+1)%per == 0 {
			cur.Hi = b
			ranges = append(ranges, Range{Index: len(ranges), Lo: b})
			continue
		}
		cur.Subs = append(cur.Subs, b)
	}
	return ranges
}

// pickBounds takes n-1 evenly spaced keys of a sorted sample as range boundaries.
func pickBounds(sample []Key, n int) []Key {
	if n <= 1 || len(sample) == 0 {
		return nil
	}
	if n > len(sample) {
		n = len(sample)
	}
	out := make([]Key, 0, n-1)
	for i := 1; i < n; i++ {
		k := sample[i*len(sample)/n]
		if len(out) > 0 && out[len(out)-1].id() == k.id() {
			continue
		}
		out = append(out, k)
	}
	return out
}

func readKeys(ctx context.Context, tx pgx.Tx, sql string, nKey int, arg any) ([]Key, error) {
	rows, err := tx.Query(ctx, sql, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k := make(Key, nKey)
		dest := make([]any, nKey)
		for i := range k {
			dest[i] = &k[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
