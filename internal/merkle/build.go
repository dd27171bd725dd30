package merkle

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
)

// Tracker starts tracking changes of a table on node i (triggers, or a publication membership),
// committed before the build's snapshot is taken.
type Tracker func(ctx context.Context, node int, t *catalog.Table) error

// Build plans the table's leaf boundaries once, from real key quantiles (every blockSize-th key
// in key order on the node holding the most rows), starts tracking its changes on every node,
// then hashes every leaf on every node inside one snapshot per node and stores the tree there
// (replacing any earlier one). Changes committed after a node's snapshot leave marks that the
// next Sync rehashes.
func Build(ctx context.Context, pools cluster.Pools, opts Options, blockSize int, track Tracker) (*Result, error) {
	if blockSize != 0 && blockSize < 10 {
		return nil, fault.Input("--block-size must be at least 10, got %d", blockSize)
	}
	for _, p := range pools {
		ok, err := Initialized(ctx, p)
		if err != nil {
			return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("look for schema pgparity: %w", err)}
		}
		if !ok {
			return nil, fault.Input("node %s has no pgparity schema: run `pgparity mtree init` first", p.Node.Name)
		}
	}
	c, err := prepare(ctx, pools, opts, max(10, blockSize))
	if err != nil {
		return nil, err
	}
	tbl := c.Table().Table
	for i := range pools {
		if err := track(ctx, i, tbl); err != nil {
			return nil, err
		}
	}
	relids, planner, rows, err := sizes(ctx, pools, tbl.Ident())
	if err != nil {
		return nil, err
	}
	if blockSize == 0 {
		blockSize = DefaultBlockSize(rows)
	}
	tree := &Tree{Schema: tbl.Schema, Table: tbl.Name, Key: tbl.Key, RuleVersion: encode.RowHashVersion, BlockSize: blockSize, complete: true}
	states := make([]*nodeState, len(pools))
	boundsSQL := quantiles(c.Table())
	_, err = c.OpenAll(ctx, opts.Concurrency, func(ctx context.Context, i int, tx pgx.Tx) error {
		st := &nodeState{generation: -1, all: true}
		states[i] = st
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_current_snapshot()::text").Scan(&st.snapshot); err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		if i != planner {
			return nil
		}
		rows, err := tx.Query(ctx, boundsSQL, blockSize)
		if err != nil {
			return fmt.Errorf("plan leaf boundaries: %w", err)
		}
		tree.Bounds, err = collectKeys(rows, len(tbl.Key))
		if err != nil {
			return fmt.Errorf("plan leaf boundaries: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	dirty := make([]bool, tree.Leaves())
	for l := range dirty {
		dirty[l] = true
	}
	fresh, err := rehash(ctx, c, tree, dirty, func(int, int) bool { return true })
	if err != nil {
		return nil, err
	}
	c.Close(ctx)
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			sums := make([]diff.RangeSum, tree.Leaves())
			for l := range sums {
				sums[l] = fresh[l][i].sum
			}
			_, err := store(gctx, p, tree, relids[i], states[i], sums, dirty, true, true, true)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &Result{Leaves: tree.Leaves(), Rehashed: tree.Leaves(), Hashed: tree.Leaves() * len(pools)}, nil
}

// DefaultBlockSize is the leaf size for a table of rows rows: 100 rows (a re-check after k
// scattered changes rehashes about 100 k rows), larger past 10 million rows so that a tree keeps
// at most about 100,000 leaves per node.
func DefaultBlockSize(rows float64) int {
	return max(100, int(rows/100000)+1)
}

// sizes returns the table's OID on every node, the node holding the most rows and its rows
// (estimated; counted where never analyzed).
func sizes(ctx context.Context, pools cluster.Pools, ident string) ([]uint32, int, float64, error) {
	relids := make([]uint32, len(pools))
	planner, most := 0, -1.0
	for i, p := range pools {
		var est float64
		err := p.QueryRow(ctx, "SELECT c.oid, c.reltuples::float8 FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)", ident).Scan(&relids[i], &est)
		if err == nil && est < 0 {
			err = p.QueryRow(ctx, "SELECT count(*)::float8 FROM "+ident).Scan(&est)
		}
		if err != nil {
			return nil, 0, 0, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("size of %s: %w", ident, err)}
		}
		if est > most {
			planner, most = i, est
		}
	}
	return relids, planner, most, nil
}

// quantiles is the query returning every $1-th key in key order (the first key of every leaf
// but the first): one ordered pass, exact quantiles, no sampling.
func quantiles(cmp *catalog.Comparison) string {
	sql, _ := rangeQuantiles(cmp, diff.Range{})
	return sql
}

// rangeQuantiles is quantiles within the key range r (half-open, nil bounds open), with r's
// bounds as the parameters after $1.
func rangeQuantiles(cmp *catalog.Comparison, r diff.Range) (string, []any) {
	const alias = "pgparity_t"
	var texts, outs, order []string
	cols := cmp.KeyColumns()
	for i, c := range cols {
		name := pgx.Identifier{"pgparity_k" + strconv.Itoa(i)}.Sanitize()
		texts = append(texts, encode.KeyTextExpr(alias, c)+" AS "+name)
		outs = append(outs, "s."+name)
		ref := encode.ColumnRef(alias, c.Name)
		if cmp.KeyBytewise && c.Collation != "" {
			ref = "(" + ref + ` COLLATE "C")`
		}
		order = append(order, ref)
	}
	tuple := "(" + strings.Join(order, ", ") + ")"
	var conds []string
	var args []any
	bound := func(k diff.Key) string {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = encode.FromText("$"+strconv.Itoa(len(args)+2), c)
			args = append(args, k[i])
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	if r.Lo != nil {
		conds = append(conds, tuple+" >= "+bound(r.Lo))
	}
	if r.Hi != nil {
		conds = append(conds, tuple+" < "+bound(r.Hi))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return "SELECT " + strings.Join(outs, ", ") + " FROM (SELECT " + strings.Join(texts, ", ") +
		", row_number() OVER (ORDER BY " + strings.Join(order, ", ") + ") AS pgparity_rn FROM " + cmp.Table.From() + " AS " + alias + where +
		") AS s WHERE s.pgparity_rn > 1 AND (s.pgparity_rn - 1) % $1 = 0 ORDER BY s.pgparity_rn", args
}
