package merkle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
)

// Tree is a table's tree as stored on the nodes: the same leaf boundaries everywhere. Leaf 0 is
// open below, leaf i > 0 starts at Bounds[i-1] (inclusive), the last leaf is open above.
type Tree struct {
	Schema, Table string
	Key           []string
	RuleVersion   int
	BlockSize     int
	Bounds        []diff.Key
	Layout        string // layoutOf(Bounds)
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
}

// locate finds the table and its stored tree on every node. A table missing on a node, or
// recreated since the build, is an input error; a node without a trees row (never built there,
// or emptied by a crash) is reported as not stored. With no tree on any node: ErrNotBuilt.
func locate(ctx context.Context, pools cluster.Pools, schema, table string) (*Tree, []placement, error) {
	ident := pgx.Identifier{schema, table}.Sanitize()
	out := make([]placement, len(pools))
	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = locateOn(ctx, p, schema, table, ident)
		}()
	}
	wg.Wait()
	var tree *Tree
	for i, pl := range out {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		if pl.stored && tree == nil {
			// The boundaries are read on one node; the others hold the same ones when their
			// stored layout digest is equal (checked in the snapshots, see readState).
			p := pools[i]
			bounds, err := readBounds(ctx, p, pl.relid)
			if err != nil {
				return nil, nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read the leaves of %s: %w", ident, err)}
			}
			tree = &Tree{Schema: schema, Table: table, Key: pl.key, RuleVersion: pl.version, BlockSize: pl.block, Bounds: bounds, Layout: layoutOf(bounds)}
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
	err = p.QueryRow(ctx, `SELECT relid, rule_version, block_size, key_columns FROM pgparity.trees
WHERE schema_name = $1 AND table_name = $2`, schema, table).Scan(&storedRel, &pl.version, &pl.block, &pl.key)
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
	}
	pl.relid = *relid
	return pl, nil
}

// readBounds reads a stored tree's leaf boundaries (the lower bounds of leaves 1..n-1).
func readBounds(ctx context.Context, p *cluster.Pool, relid uint32) ([]diff.Key, error) {
	rows, err := p.Query(ctx, "SELECT lo FROM pgparity.leaves WHERE tree = $1 AND leaf > 0 ORDER BY leaf", relid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (diff.Key, error) {
		var k []string
		err := r.Scan(&k)
		return diff.Key(k), err
	})
}

// sameBounds reports whether two boundary lists are equal.
func sameBounds(a, b []diff.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") || len(a[i]) != len(b[i]) {
			return false
		}
	}
	return true
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

// markedLeavesSQL lists the distinct (leaf, marked key) pairs of tree $1: the boundaries
// (one text[] parameter per key column) and the marks are sorted together by typed key, and a
// mark's leaf is the number of boundaries at or before it. One sort, whatever the number of
// leaves, with the same ordering as the range filters.
//
// With bounds nil, the boundaries are the node's own stored ones (the lower bounds of its leaves
// 1..n-1, in pgparity.leaves), which the caller checked are the tree's: nothing is sent.
func (s keySQL) markedLeavesSQL(relid uint32, bounds []diff.Key) (string, []any) {
	n := len(s.cols)
	args := []any{relid}
	var cols, bcols, lcols, mcols, order []string
	for i := 0; i < n; i++ {
		col := make([]string, len(bounds))
		for j, b := range bounds {
			col[j] = b[i]
		}
		args = append(args, col)
		cols = append(cols, "$"+strconv.Itoa(i+2)+"::text[]")
		bcols = append(bcols, s.typed("b.c"+strconv.Itoa(i), i)+" AS k"+strconv.Itoa(i))
		lcols = append(lcols, s.typed("l.lo["+strconv.Itoa(i+1)+"]", i)+" AS k"+strconv.Itoa(i))
		mcols = append(mcols, s.typed("m.k["+strconv.Itoa(i+1)+"]", i))
		order = append(order, "u.k"+strconv.Itoa(i))
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	from := `SELECT 0 AS kind, b.ord, NULL::text[] AS mk, ` + strings.Join(bcols, ", ") + ` FROM unnest(` + strings.Join(cols, ", ") + `) WITH ORDINALITY AS b(` + strings.Join(names, ", ") + `, ord)`
	if bounds == nil {
		args = args[:1]
		from = `SELECT 0 AS kind, l.leaf::bigint AS ord, NULL::text[] AS mk, ` + strings.Join(lcols, ", ") + ` FROM pgparity.leaves AS l WHERE l.tree = $1 AND l.leaf > 0`
	}
	return `SELECT DISTINCT s.leaf, s.mk FROM (
  SELECT u.kind, u.mk, coalesce(max(u.ord) OVER (ORDER BY ` + strings.Join(order, ", ") + `, u.kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0) AS leaf
  FROM (` + from + `
    UNION ALL
    SELECT 1, NULL, m.k, ` + strings.Join(mcols, ", ") + ` FROM pgparity.marks AS m WHERE m.tree = $1 AND m.k IS NOT NULL) AS u
) AS s WHERE s.kind = 1`, args
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
