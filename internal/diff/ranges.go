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
// the last open above, so every row of every node lands in exactly one range.
type Range struct {
	Index  int
	Lo, Hi Key
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
	nRanges := int(math.Ceil(estRows / float64(blockSize)))
	if estRows <= 20*float64(blockSize) || estRows <= 200000 {
		bounds, err = readKeys(ctx, tx, q.everyNthKey(), len(q.key), blockSize)
	} else {
		perRange := float64(maxSample) / float64(nRanges)
		if perRange > 50 {
			perRange = 50
		}
		pct := math.Min(100, 100*perRange*float64(nRanges)/estRows)
		var sample []Key
		sample, err = readKeys(ctx, tx, q.sampleKeys(), len(q.key), pct)
		if err == nil {
			bounds = pickBounds(sample, nRanges)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("plan key ranges: %w", err)
	}
	ranges := make([]Range, 0, len(bounds)+1)
	var lo Key
	for _, b := range bounds {
		ranges = append(ranges, Range{Index: len(ranges), Lo: lo, Hi: b})
		lo = b
	}
	return append(ranges, Range{Index: len(ranges), Lo: lo}), nil
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
