package merkle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/marks"
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
	root       *root  // the stored root (nil: not stored, a tree written before roots were)
	// partial: the stored layout is the tree's and the root is known, so sums holds only the
	// leaves loaded so far (loadSums); otherwise sums holds every leaf (when usable).
	partial bool
	read    int        // stored leaf sums read after the snapshot was taken (loadSums)
	bounds  []diff.Key // every boundary, when read in full (a node without a layout digest)
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
	var layout *string
	var rootRows, rootA, rootB *int64
	err := tx.QueryRow(ctx, "SELECT generation, rule_version, layout, root_rows, root_a, root_b FROM pgparity.trees WHERE relid = $1",
		pl.relid).Scan(&st.generation, &version, &layout, &rootRows, &rootA, &rootB)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		st.generation, st.all = -1, true // not built here, or emptied by a crash: rehash and store every leaf
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read tree: %w", err)
	}
	st.sums = make([]diff.RangeSum, t.Leaves())
	if rootRows != nil && rootA != nil && rootB != nil {
		st.root = &root{rows: *rootRows, a: uint64(*rootA), b: uint64(*rootB)}
	}
	if version == encode.RowHashVersion && layout != nil && *layout == t.Layout && st.root != nil {
		// The node holds the tree's boundaries: its leaf sums are read only where needed.
		st.partial = true
		sql, args := ks.markedLeavesSQL(pl.relid)
		return st, readMarks(ctx, tx, st, pl.relid, sql, args)
	}
	st.root = nil // recomputed from every leaf when stored
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
	st.read = max(0, n)
	if n != t.Leaves() || layoutOf(bounds) != t.Layout || version != encode.RowHashVersion {
		st.all = true // another layout, or built under another row hash rule: rehashed, never compared
		return st, nil
	}
	st.bounds = bounds
	sql, args := ks.markedLeavesSQL(pl.relid) // the node's own boundaries are the tree's
	return st, readMarks(ctx, tx, st, pl.relid, sql, args)
}

// readMarks counts the node's visible change marks and places them in leaves (sql, args: see
// markedLeavesSQL): st.dirty, and st.keys when there are few enough to list.
func readMarks(ctx context.Context, tx pgx.Tx, st *nodeState, relid uint32, sql string, args []any) error {
	var anyAll bool
	if err := tx.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(k IS NULL), false) FROM "+marks.Table(relid)).Scan(&st.marks, &anyAll); err != nil {
		return fmt.Errorf("count change marks: %w", err)
	}
	st.usable = true
	st.keys = map[int][]diff.Key{}
	if anyAll || st.marks > maxMarks {
		st.all = true
		return nil
	}
	if st.marks == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("place change marks in leaves: %w", err)
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
		return fmt.Errorf("place change marks in leaves: %w", err)
	}
	if st.marks > maxKeyMarks {
		st.keys = nil
	}
	return nil
}

// loadSums reads, in node i's snapshot, the stored sums of the given leaves (every leaf when
// leaves is nil) into st.sums.
func loadSums(ctx context.Context, c *diff.Comparer, i int, relid uint32, st *nodeState, leaves []int32) error {
	if leaves != nil && len(leaves) == 0 {
		return nil
	}
	return c.OnNode(ctx, i, func(tx pgx.Tx) error {
		sql, args := "SELECT leaf, cnt, sum FROM pgparity.leaves WHERE tree = $1", []any{relid}
		if leaves != nil {
			sql, args = sql+" AND leaf = ANY($2)", append(args, leaves)
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("read leaves: %w", err)
		}
		var leaf int
		var s diff.RangeSum
		_, err = pgx.ForEachRow(rows, []any{&leaf, &s.Count, &s.Sum}, func() error {
			if leaf < 0 || leaf >= len(st.sums) {
				return fmt.Errorf("leaf %d of %d", leaf, len(st.sums))
			}
			st.sums[leaf] = normal(s)
			st.read++
			return nil
		})
		if err != nil {
			return fmt.Errorf("read leaves: %w", err)
		}
		return nil
	})
}

// normal makes an empty leaf read the same whether stored (0, "0") or freshly hashed (absent).
func normal(s diff.RangeSum) diff.RangeSum {
	if s.Count == 0 {
		return diff.RangeSum{}
	}
	return s
}
