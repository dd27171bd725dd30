package merkle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
)

// maxMarks is how many change marks a node's leaves are looked up for; past it every leaf of the
// tree is rehashed (a bulk change costs a full pass, as it would in table-diff).
const maxMarks = 100000

// maxKeyMarks is how many change marks a node's marked keys are listed for: a leaf that matched
// before its changes is then re-checked by looking up just those keys instead of drilling into it.
const maxKeyMarks = 10000

// nodeState is one node's stored tree as seen inside its comparison snapshot.
type nodeState struct {
	usable     bool // stored, same boundaries and rule version: the stored sums can be used
	generation int64
	sums       []diff.RangeSum    // per leaf
	dirty      map[int]bool       // leaves with change marks visible in the snapshot
	keys       map[int][]diff.Key // per dirty leaf, its marked keys (nil: too many marks to list)
	all        bool               // every leaf is dirty (TRUNCATE, too many marks, state lost)
	marks      int64
	snapshot   string // pg_current_snapshot() of the comparison snapshot
}

// readState reads, inside the snapshot of tx, the node's stored leaf sums, the leaves its change
// marks fall in, and the snapshot itself (marks visible in it are deleted once their leaves are
// rehashed in it).
func readState(ctx context.Context, tx pgx.Tx, t *Tree, pl placement, ks keySQL) (*nodeState, error) {
	st := &nodeState{dirty: map[int]bool{}}
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text").Scan(&st.snapshot); err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	var version int
	err := tx.QueryRow(ctx, "SELECT generation, rule_version FROM pgparity.trees WHERE relid = $1", pl.relid).Scan(&st.generation, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		st.generation, st.all = -1, true // not built here, or emptied by a crash: rehash and store every leaf
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read tree: %w", err)
	}
	st.sums = make([]diff.RangeSum, t.Leaves())
	rows, err := tx.Query(ctx, "SELECT leaf, lo, cnt, sum FROM pgparity.leaves WHERE tree = $1 ORDER BY leaf", pl.relid)
	if err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	var bounds []diff.Key
	n := 0
	for rows.Next() {
		var leaf int
		var lo []string
		var s diff.RangeSum
		if err := rows.Scan(&leaf, &lo, &s.Count, &s.Sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read leaves: %w", err)
		}
		if leaf != n || leaf >= len(st.sums) {
			n = -1
			break
		}
		if leaf > 0 {
			bounds = append(bounds, diff.Key(lo))
		}
		st.sums[leaf] = normal(s)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	if n != t.Leaves() || !sameBounds(bounds, t.Bounds) || version != encode.RowHashVersion {
		st.all = true // another layout, or built under another row hash rule: rehashed, never compared
		return st, nil
	}
	var anyAll bool
	if err := tx.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(k IS NULL), false) FROM pgparity.marks WHERE tree = $1",
		pl.relid).Scan(&st.marks, &anyAll); err != nil {
		return nil, fmt.Errorf("count change marks: %w", err)
	}
	st.usable = true
	st.keys = map[int][]diff.Key{}
	if anyAll || st.marks > maxMarks {
		st.all = true
		return st, nil
	}
	if st.marks == 0 {
		return st, nil
	}
	sql, args := ks.markedLeavesSQL(pl.relid, t.Bounds)
	rows, err = tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("place change marks in leaves: %w", err)
	}
	var leaf int
	var k []string
	_, err = pgx.ForEachRow(rows, []any{&leaf, &k}, func() error {
		st.dirty[leaf] = true
		if st.marks <= maxKeyMarks {
			st.keys[leaf] = append(st.keys[leaf], diff.Key(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("place change marks in leaves: %w", err)
	}
	if st.marks > maxKeyMarks {
		st.keys = nil
	}
	return st, nil
}

// normal makes an empty leaf read the same whether stored (0, "0") or freshly hashed (absent).
func normal(s diff.RangeSum) diff.RangeSum {
	if s.Count == 0 {
		return diff.RangeSum{}
	}
	return s
}
