package merkle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/marks"
)

// Tree is a table's tree as stored on the nodes: the same leaf boundaries everywhere. Leaf 0 is
// open below, leaf i > 0 starts at Bounds[i-1] (inclusive), the last leaf is open above.
type Tree struct {
	Schema, Table string
	Key           []string
	RuleVersion   int
	BlockSize     int
	// Bounds has one entry per boundary; a re-check reads only those it needs (nil until read,
	// see boundsFrom), unless complete.
	Bounds   []diff.Key
	complete bool   // every entry of Bounds was read
	Layout   string // layoutOf(Bounds), as stored on the node the tree was located on
}

// Leaves returns the number of leaves.
func (t *Tree) Leaves() int { return len(t.Bounds) + 1 }

// span returns the key range of leaves first..last: the boundaries between them as sub-ranges,
// so that one hashing query returns one checksum per leaf.
func (t *Tree) span(first, last int) diff.Range {
	r := diff.Range{Index: first}
	if first > 0 {
		r.Lo = t.Bounds[first-1]
	}
	if last < len(t.Bounds) {
		r.Hi = t.Bounds[last]
	}
	for i := first + 1; i <= last; i++ {
		r.Subs = append(r.Subs, t.Bounds[i-1])
	}
	return r
}

// ErrNotBuilt is returned (as an input error) when no node holds a tree of the table.
var ErrNotBuilt = errors.New("no tree")

// placement is where a table's tree lives on one node.
type placement struct {
	relid   uint32 // the table's current OID on the node
	stored  bool   // the node holds a trees row for it
	version int
	block   int
	key     []string
	layout  *string // stored layout digest (nil: stored before digests existed)
}

// locate finds the table and its stored tree on every node. A table missing on a node, or
// recreated since the build, is an input error; a node without a trees row (never built there,
// or emptied by a crash) is reported as not stored. With no tree on any node: ErrNotBuilt.
func locate(ctx context.Context, pools cluster.Pools, schema, table string) (*Tree, []placement, error) {
	ident := pgx.Identifier{schema, table}.Sanitize()
	out := make([]placement, len(pools))
	errs := pools.Each(func(i int, p *cluster.Pool) error {
		var err error
		out[i], err = locateOn(ctx, p, schema, table, ident)
		return err
	})
	var tree *Tree
	for i, pl := range out {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		if pl.stored && tree == nil {
			// The tree as stored on the first node holding it: its layout digest and number of
			// leaves; the boundaries a re-check needs are read later, in its snapshot (other
			// nodes hold the same ones when their stored layout digest is equal, see readState).
			// A tree stored before layout digests existed has its boundaries read here.
			p := pools[i]
			tree = &Tree{Schema: schema, Table: table, Key: pl.key, RuleVersion: pl.version, BlockSize: pl.block}
			var last int
			if err := p.QueryRow(ctx, "SELECT coalesce(max(leaf), 0) FROM pgparity.leaves WHERE tree = $1", pl.relid).Scan(&last); err != nil {
				return nil, nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read the leaves of %s: %w", ident, err)}
			}
			tree.Bounds = make([]diff.Key, last)
			if pl.layout != nil {
				tree.Layout = *pl.layout
			} else if err := tree.readAllBounds(ctx, p, pl.relid); err != nil {
				return nil, nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read the leaves of %s: %w", ident, err)}
			}
		}
	}
	if tree == nil {
		return nil, nil, fault.Input("%w of %s on any node: run `pgparity mtree build` first", ErrNotBuilt, ident)
	}
	return tree, out, nil
}

// locateOn finds the table and its stored tree on node p.
func locateOn(ctx context.Context, p *cluster.Pool, schema, table, ident string) (placement, error) {
	pl := placement{}
	ok, err := Initialized(ctx, p)
	if err != nil {
		return pl, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("look for schema pgparity: %w", err)}
	}
	if !ok {
		return pl, fault.Input("node %s has no pgparity schema: run `pgparity mtree init` and `mtree build` first", p.Node.Name)
	}
	if err := upgrade(ctx, p); err != nil {
		return pl, err
	}
	var relid *uint32
	if err := p.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1)::oid", ident).Scan(&relid); err != nil {
		return pl, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("look up %s: %w", ident, err)}
	}
	var storedRel uint32
	var tracked bool
	err = p.QueryRow(ctx, `SELECT relid, rule_version, block_size, key_columns, layout, `+marks.Exists("relid")+` FROM pgparity.trees
WHERE schema_name = $1 AND table_name = $2`, schema, table).Scan(&storedRel, &pl.version, &pl.block, &pl.key, &pl.layout, &tracked)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pl, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read the tree of %s: %w", ident, err)}
	}
	pl.stored = err == nil
	switch {
	case relid == nil && pl.stored:
		return pl, fault.Input("table %s was dropped on node %s after `mtree build`: run `pgparity mtree teardown-table` (or recreate it and build again)", ident, p.Node.Name)
	case relid == nil:
		return pl, fault.Input("table %s does not exist on node %s", ident, p.Node.Name)
	case pl.stored && storedRel != *relid:
		return pl, fault.Input("table %s was dropped and recreated on node %s since `mtree build`: run `pgparity mtree build` again", ident, p.Node.Name)
	case pl.stored && !tracked:
		return pl, fault.Input("the tree of %s on node %s keeps no change marks of this pgparity version (built by an earlier one): run `pgparity mtree build` again", ident, p.Node.Name)
	}
	pl.relid = *relid
	return pl, nil
}

// collectKeys reads rows of n key texts each.
func collectKeys(rows pgx.Rows, n int) ([]diff.Key, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (diff.Key, error) {
		k := make(diff.Key, n)
		dest := make([]any, n)
		for i := range k {
			dest[i] = &k[i]
		}
		return k, r.Scan(dest...)
	})
}

// querier runs a query: a pool, or a snapshot's transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readAllBounds reads every boundary of the tree stored on a node (the lower bounds of leaves
// 1..n-1) with q, and its layout digest.
func (t *Tree) readAllBounds(ctx context.Context, q querier, relid uint32) error {
	rows, err := q.Query(ctx, "SELECT lo FROM pgparity.leaves WHERE tree = $1 AND leaf > 0 ORDER BY leaf", relid)
	if err != nil {
		return err
	}
	b, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (diff.Key, error) {
		var k []string
		err := r.Scan(&k)
		return diff.Key(k), err
	})
	if err != nil {
		return err
	}
	t.Bounds, t.complete, t.Layout = b, true, layoutOf(b)
	return nil
}

// boundsFrom reads the boundaries that leaves (nil: every leaf) start at, from tx: a snapshot of
// a node whose stored layout digest is the tree's.
func (t *Tree) boundsFrom(ctx context.Context, tx pgx.Tx, relid uint32, leaves []int32) error {
	if t.complete {
		return nil
	}
	sql, args := "SELECT leaf, lo FROM pgparity.leaves WHERE tree = $1 AND leaf > 0", []any{relid}
	if leaves != nil {
		var want []int32
		for _, l := range leaves {
			if l > 0 && int(l) <= len(t.Bounds) && t.Bounds[l-1] == nil {
				want = append(want, l)
			}
		}
		if len(want) == 0 {
			return nil
		}
		sql, args = sql+" AND leaf = ANY($2)", append(args, want)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("read leaf boundaries: %w", err)
	}
	var leaf int
	var lo []string
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&leaf, &lo}, func() error {
		if leaf < 1 || leaf > len(t.Bounds) {
			return fmt.Errorf("leaf %d of %d", leaf, len(t.Bounds)+1)
		}
		t.Bounds[leaf-1] = diff.Key(lo)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("read leaf boundaries: %w", err)
	}
	if leaves == nil {
		if n != len(t.Bounds) {
			return fmt.Errorf("read leaf boundaries: %d of %d", n, len(t.Bounds))
		}
		t.complete = true
	}
	return nil
}

// keySQL builds the SQL that places keys into leaves, with the same row-value comparisons (and
// collation) as table-diff's range filters.
type keySQL struct {
	cols     []catalog.Column
	bytewise bool
}

func newKeySQL(cmp *catalog.Comparison) keySQL {
	return keySQL{cols: cmp.KeyColumns(), bytewise: cmp.KeyBytewise}
}

// typed is the typed key column i of expression texts (a text[] element), ordered like
// table-diff's range filters (COLLATE "C" where keys compare bytewise).
func (s keySQL) typed(text string, i int) string {
	c := s.cols[i]
	out := "CAST(" + text + " AS " + c.Type + ")"
	if s.bytewise && c.Collation != "" {
		out = "(" + out + ` COLLATE "C")`
	}
	return out
}

// markedLeavesSQL lists the (leaf, marked key) pairs of tree $1, each marked key once, against
// the node's own stored boundaries (callers check they are the tree's): a binary search per key
// over the leaves (pgparity.leaves by primary key), comparing typed keys with the same
// row-value ordering (and collation) as table-diff's range filters. A key's leaf is the last
// leaf whose lower bound is at or before it. The cost follows the marks: log2(leaves) lookups
// each, whatever the number of leaves.
func (s keySQL) markedLeavesSQL(relid uint32) (string, []any) {
	var lo, k []string
	for i := range s.cols {
		lo = append(lo, s.typed("l.lo["+strconv.Itoa(i+1)+"]", i))
		k = append(k, s.typed("s.k["+strconv.Itoa(i+1)+"]", i))
	}
	return `WITH RECURSIVE m AS (SELECT DISTINCT k FROM ` + marks.Table(relid) + ` WHERE k IS NOT NULL),
s AS (
  SELECT m.k, 0 AS lo, (SELECT coalesce(max(leaf), 0) FROM pgparity.leaves WHERE tree = $1) AS hi FROM m
  UNION ALL
  SELECT s.k, CASE WHEN b.ok THEN b.mid ELSE s.lo END, CASE WHEN b.ok THEN s.hi ELSE b.mid - 1 END
  FROM s CROSS JOIN LATERAL (
    SELECT (s.lo + s.hi + 1) / 2 AS mid,
      coalesce((SELECT (` + strings.Join(lo, ", ") + `) <= (` + strings.Join(k, ", ") + `) FROM pgparity.leaves AS l
        WHERE l.tree = $1 AND l.leaf = (s.lo + s.hi + 1) / 2), false) AS ok) AS b
  WHERE s.lo < s.hi
)
SELECT s.lo AS leaf, s.k FROM s WHERE s.lo = s.hi`, []any{relid}
}

// sortKeysSQL returns the positions (1-based) of keys in key order, ordered like table-diff's
// range filters: one text[] parameter per key column.
func (s keySQL) sortKeysSQL(keys []diff.Key) (string, []any) {
	var args []any
	var cols, names, order []string
	for i := range s.cols {
		col := make([]string, len(keys))
		for j, k := range keys {
			col[j] = k[i]
		}
		args = append(args, col)
		cols = append(cols, "$"+strconv.Itoa(i+1)+"::text[]")
		names = append(names, "c"+strconv.Itoa(i))
		order = append(order, s.typed("b.c"+strconv.Itoa(i), i))
	}
	return "SELECT b.ord FROM unnest(" + strings.Join(cols, ", ") + ") WITH ORDINALITY AS b(" + strings.Join(names, ", ") +
		", ord) ORDER BY " + strings.Join(order, ", "), args
}
