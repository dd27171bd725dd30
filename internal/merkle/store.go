package merkle

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/marks"
)

// store writes node p's leaf sums (sums[l] for every leaf l with write[l]) and deletes the change
// marks its snapshot saw, in one transaction, only if no other update stored since the snapshot
// (generation check). replace writes a new tree (build); all rewrites every leaf (a node without
// a usable tree, or new boundaries after a split or merge). complete says sums holds every leaf
// (the root is then computed afresh; otherwise it is updated from the old and new sums of the
// written leaves). It reports whether it stored.
func store(ctx context.Context, p *cluster.Pool, t *Tree, relid uint32, st *nodeState, sums []diff.RangeSum, write []bool, replace, all, complete bool) (bool, error) {
	fail := func(what string, err error) (bool, error) {
		return false, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("store the tree of %s.%s: %s: %w", t.Schema, t.Table, what, err)}
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		return fail("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var tag int64
	if replace || st.generation < 0 {
		if replace {
			if _, err := tx.Exec(ctx, "DELETE FROM pgparity.trees WHERE relid = $1", relid); err != nil {
				return fail("replace tree", err)
			}
		}
		ct, err := tx.Exec(ctx, `INSERT INTO pgparity.trees (relid, schema_name, table_name, key_columns, rule_version, block_size)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (relid) DO NOTHING`, relid, t.Schema, t.Table, t.Key, encode.RowHashVersion, t.BlockSize)
		if err != nil {
			return fail("insert tree", err)
		}
		tag = ct.RowsAffected()
	} else {
		ct, err := tx.Exec(ctx, `UPDATE pgparity.trees SET generation = generation + 1, updated_at = now(), rule_version = $3
WHERE relid = $1 AND generation = $2`, relid, st.generation, encode.RowHashVersion)
		if err != nil {
			return fail("update tree", err)
		}
		tag = ct.RowsAffected()
	}
	if tag == 0 {
		return false, nil // another update stored since our snapshot: its state stands
	}
	all = all || replace || !st.usable
	var r root
	switch {
	case complete:
		r = rootOf(sums)
	case st.root != nil:
		r = *st.root
		for l := range sums {
			if write[l] {
				r = r.sub(leafDigest(l, st.sums[l])).add(leafDigest(l, sums[l]))
			}
		}
	default:
		return fail("update the root", fmt.Errorf("neither every leaf nor the stored root is known")) // a bug, never a wrong root
	}
	var layout *string // unchanged unless every boundary is known
	if t.complete {
		l := layoutOf(t.Bounds)
		layout = &l
	} else if all {
		return fail("write leaves", fmt.Errorf("not every boundary is known")) // a bug, never a wrong tree
	}
	if _, err := tx.Exec(ctx, "UPDATE pgparity.trees SET layout = coalesce($2, layout), root_rows = $3, root_a = $4, root_b = $5 WHERE relid = $1",
		relid, layout, r.rows, int64(r.a), int64(r.b)); err != nil {
		return fail("update the root", err)
	}
	leafSum := func(l int) []any {
		var lo []string
		if l > 0 {
			lo = t.Bounds[l-1]
		}
		sumText := sums[l].Sum
		if sumText == "" {
			sumText = "0"
		}
		return []any{relid, l, lo, sums[l].Count, sumText}
	}
	b := &pgx.Batch{}
	if all {
		if _, err := tx.Exec(ctx, "DELETE FROM pgparity.leaves WHERE tree = $1", relid); err != nil {
			return fail("replace leaves", err)
		}
		rows := make([][]any, len(sums))
		for l := range sums {
			rows[l] = leafSum(l)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pgparity", "leaves"}, []string{"tree", "leaf", "lo", "cnt", "sum"}, pgx.CopyFromRows(rows)); err != nil {
			return fail("write leaves", err)
		}
	} else {
		// One statement for every rewritten leaf (a bulk change rewrites thousands): the
		// generation check above guarantees the stored layout is the one these sums belong to.
		var leaves []int32
		var cnts []int64
		var texts []string
		for l := range sums {
			if write[l] {
				v := leafSum(l)
				leaves, cnts, texts = append(leaves, int32(l)), append(cnts, v[3].(int64)), append(texts, v[4].(string))
			}
		}
		if len(leaves) > 0 {
			b.Queue(`UPDATE pgparity.leaves AS l SET cnt = v.cnt, sum = v.sum
FROM unnest($2::int4[], $3::int8[], $4::text[]) AS v(leaf, cnt, sum) WHERE l.tree = $1 AND l.leaf = v.leaf`, relid, leaves, cnts, texts)
		}
	}
	b.Queue("DELETE FROM "+marks.Table(relid)+" WHERE pg_catalog.pg_visible_in_snapshot(xid, $1::pg_snapshot)", st.snapshot)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fail("write leaves", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("commit", err)
	}
	return true, nil
}
