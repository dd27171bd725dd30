package merkle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/marks"
	"github.com/pgparity/pgparity/internal/report"
)

// Options say which table's tree to bring up to date (and compare).
type Options struct {
	Cluster       string
	Schema, Table string
	Concurrency   int
	Tool          string
}

// Result is what a Sync or Build did.
type Result struct {
	Diff      *report.Diff // the finished header and summary (Sync with a sink only)
	Leaves    int
	Rehashed  int      // leaves hashed in this run (on at least one node), streamed ones included
	Streamed  int      // leaves whose rows the comparison streamed on the nodes they changed on (see streamSpans)
	Hashed    int      // leaf hashes computed, summed over the nodes (a leaf is rehashed only where marked)
	Read      int      // stored leaf sums read, summed over the nodes (the changed leaves' neighbourhood, or all)
	Differing int      // leaves whose sums differ across nodes
	Marks     int64    // change marks consumed, all nodes
	Skipped   []string // nodes whose state was not stored: another update ran meanwhile
	Lost      []string // nodes that had no usable stored tree (never built there, or a crash)
	Splits    int      // leaves split because they grew past twice the block size
	Merges    int      // leaves merged into a neighbour because they shrank
	Workers   int      // snapshot connections per node the re-check worked on
}

// Sync brings the table's trees up to date on every node: inside one snapshot per node it
// rehashes every leaf that a change mark (visible in that snapshot) falls in, on every node, and,
// when sink is not nil, compares the leaves across nodes and drills into the differing ones with
// table-diff's row-level code, streaming differing keys to sink. Then each node stores its new
// leaf sums and deletes the marks its snapshot saw, unless another update stored meanwhile.
// Trackers must have drained their change stream before Sync is called.
func Sync(ctx context.Context, pools cluster.Pools, opts Options, sink report.Sink) (*Result, error) {
	started := time.Now().UTC()
	step := func(name string) { slog.Debug("mtree sync", "step", name, "seconds", time.Since(started).Seconds()) }
	tree, pls, err := locate(ctx, pools, opts.Schema, opts.Table)
	if err != nil {
		return nil, err
	}
	c, err := prepare(ctx, pools, opts, tree.BlockSize)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(c.Table().Table.Key, tree.Key) {
		return nil, fault.Input("the key of %s is %v now but was %v when its tree was built: run `pgparity mtree build` again",
			c.Table().Table.Ident(), c.Table().Table.Key, tree.Key)
	}
	step("prepared")
	ks := newKeySQL(c.Table())
	states := make([]*nodeState, len(pools))
	if few, err := fewMarks(ctx, pools, pls); err != nil {
		return nil, err
	} else if few {
		opts.Concurrency = min(opts.Concurrency, fewWorkers) // a small re-check: open few connections
	}
	workers, err := c.OpenAll(ctx, opts.Concurrency, func(ctx context.Context, i int, tx pgx.Tx) error {
		st, err := readState(ctx, tx, tree, pls[i], ks)
		states[i] = st
		return err
	})
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	step("snapshots and stored state read")
	res := &Result{Leaves: tree.Leaves(), Workers: workers}
	dirty := make([]bool, tree.Leaves()) // on any node
	for i, st := range states {
		res.Marks += st.marks
		if !st.usable {
			res.Lost = append(res.Lost, pools[i].Node.Name)
		}
		for l := range dirty {
			dirty[l] = dirty[l] || st.all || st.dirty[l]
		}
	}
	// Stored leaf sums: a node holding the tree's layout and root (partial) has read none yet.
	// It reads the dirty leaves and their neighbours; its other leaves are equal on every node
	// when the roots minus the dirty leaves are (see root), and are then never read.
	var dirtyList []int
	for l, d := range dirty {
		if d {
			dirtyList = append(dirtyList, l)
		}
	}
	partial := true
	for _, st := range states {
		partial = partial && (!st.usable || st.partial)
	}
	// boundaries: read (in its snapshot) from a node holding the tree's layout
	bounds := func(leaves []int32) error {
		if tree.complete {
			return nil
		}
		for i, st := range states {
			if st.bounds != nil && leaves == nil {
				tree.Bounds, tree.complete = st.bounds, true
				return nil
			}
			if st.usable && st.partial {
				return c.OnNode(ctx, i, func(tx pgx.Tx) error { return tree.boundsFrom(ctx, tx, pls[i].relid, leaves) })
			}
		}
		for i, st := range states {
			if st.bounds != nil {
				tree.Bounds, tree.complete = st.bounds, true
				return nil
			}
			if pls[i].stored { // no node holds the tree's layout: every leaf is rehashed on every node
				// in the snapshot: the comparison holds every connection it may take
				return c.OnNode(ctx, i, func(tx pgx.Tx) error {
					if err := tree.readAllBounds(ctx, tx, pls[i].relid); err != nil {
						return fmt.Errorf("read the leaves: %w", err)
					}
					return nil
				})
			}
		}
		return fmt.Errorf("no node holds the boundaries of %s.%s", tree.Schema, tree.Table)
	}
	loadAll := func() error {
		g, gctx := errgroup.WithContext(ctx)
		for i, st := range states {
			if st.usable && st.partial {
				g.Go(func() error { return loadSums(gctx, c, i, pls[i].relid, st, nil) })
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := bounds(nil); err != nil {
			return err
		}
		for _, st := range states {
			st.partial = false
		}
		return nil
	}
	complete := !partial || len(dirtyList) == tree.Leaves()
	if complete {
		if err := loadAll(); err != nil {
			return nil, err
		}
	} else {
		want := neighbourhood(dirtyList, tree.Leaves())
		g, gctx := errgroup.WithContext(ctx)
		for i, st := range states {
			g.Go(func() error { return loadSums(gctx, c, i, pls[i].relid, st, want) })
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		if err := bounds(want); err != nil {
			return nil, err
		}
		var ref *root
		for _, st := range states {
			r := *st.root
			for _, l := range dirtyList {
				r = r.sub(leafDigest(l, st.sums[l]))
			}
			if ref == nil {
				ref = &r
			} else if r != *ref {
				complete = true // some leaf outside the changes differs: compare every leaf
			}
		}
		if complete {
			if err := loadAll(); err != nil {
				return nil, err
			}
		}
	}
	step("stored leaf sums read")
	for _, st := range states {
		res.Read += st.read
	}
	// A leaf is rehashed only on the nodes it is marked on (or whose state is not usable): on
	// the others its stored sum is its content in the snapshot, since every change is marked.
	need := func(l, n int) bool { return states[n].all || states[n].dirty[l] }
	// Leaves changed on some nodes only are streamed by the comparison instead (see streamSpans),
	// unless their marked keys can be looked up (markedKeys).
	var streams []streamSpan
	var streamed []bool
	toHash := dirty
	if sink != nil && !keyable(states) {
		streams, streamed = streamSpans(dirty, need, func(l, n int) diff.RangeSum { return states[n].sums[l] }, len(pools))
		toHash = make([]bool, len(dirty))
		for l := range dirty {
			toHash[l] = dirty[l] && !streamed[l]
			if streamed[l] {
				res.Streamed++
			}
		}
	}
	rehashed, err := rehash(ctx, c, tree, toHash, need)
	if err != nil {
		return nil, err
	}
	slog.Debug("mtree sync", "step", "dirty leaves rehashed", "leaves", len(rehashed), "to stream", res.Streamed, "seconds", time.Since(started).Seconds())
	sums := make([][]diff.RangeSum, len(pools)) // per node, per leaf, as of the snapshots
	written := make([][]bool, len(pools))       // per node, the leaves rehashed (or streamed) there
	fill := func() {
		for n := range sums {
			sums[n] = make([]diff.RangeSum, tree.Leaves())
			written[n] = make([]bool, tree.Leaves())
			for l := range sums[n] {
				switch f, ok := rehashed[l]; {
				case ok && f[n].hashed:
					sums[n][l], written[n][l] = f[n].sum, true
				case streamed != nil && streamed[l] && need(l, n):
					// streamed in the comparison (its stored sum may not exist)
				default:
					sums[n][l] = states[n].sums[l]
				}
			}
		}
	}
	fill()
	if sink != nil {
		var keyed map[int][]diff.Key
		if keyed, err = markedKeys(ctx, c, states, sums, dirty); err != nil {
			return nil, err
		}
		slog.Debug("mtree sync", "step", "marked keys listed", "leaves", len(keyed), "seconds", time.Since(started).Seconds())
		leaves := dirtyList
		if complete {
			leaves = nil // every leaf
		}
		rows := func() []int64 {
			rows := make([]int64, len(pools))
			for n, st := range states {
				if complete {
					for _, s := range sums[n] {
						rows[n] += s.Count
					}
					continue
				}
				rows[n] = st.root.rows
				for _, l := range dirtyList {
					rows[n] += sums[n][l].Count - st.sums[l].Count
				}
			}
			return rows
		}
		if res.Diff, res.Differing, err = compare(ctx, c, tree, sums, leaves, streams, streamed, rows, keyed, sink, started); err != nil {
			return nil, err
		}
		// the streamed leaves' sums, as if rehashed
		for _, sp := range streams {
			for l := sp.first; l <= sp.last; l++ {
				if rehashed[l] == nil {
					rehashed[l] = make([]fresh, len(pools))
				}
				for n, on := range sp.on {
					if on {
						rehashed[l][n] = fresh{sum: sums[n][l], hashed: true}
					}
				}
			}
		}
		fill()
	}
	res.Rehashed = len(rehashed)
	for n := range written {
		for _, w := range written[n] {
			if w {
				res.Hashed++
			}
		}
	}
	step("compared")
	relayout := false
	if !complete && mayRebalance(tree, sums, dirty, dirtyList) {
		if err := loadAll(); err != nil {
			return nil, err
		}
		complete = true
		fill()
	}
	if complete {
		if relayout, err = rebalance(ctx, c, tree, sums, dirty, &res.Splits, &res.Merges); err != nil {
			return nil, err
		}
	}
	res.Leaves = tree.Leaves()
	c.Close(ctx)
	stored := make([]bool, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			var err error
			stored[i], err = store(gctx, p, tree, pls[i].relid, states[i], sums[i], written[i], false, relayout, complete)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	step("stored")
	for i, p := range pools {
		if !stored[i] {
			res.Skipped = append(res.Skipped, p.Node.Name)
		}
	}
	return res, nil
}

// neighbourhood lists the leaves (sorted, of n) and each one's neighbours: what a re-check
// reads of a node's stored sums (rebalance looks at a dirty leaf's neighbours).
func neighbourhood(leaves []int, n int) []int32 {
	var out []int32
	for _, l := range leaves {
		for m := max(0, l-1); m <= min(n-1, l+1); m++ {
			if k := len(out); k == 0 || out[k-1] < int32(m) {
				out = append(out, int32(m))
			}
		}
	}
	return out
}

// mayRebalance reports whether rebalance could change the layout: a dirty leaf grew past twice
// the block size, or a dirty leaf and its neighbour are small enough to merge (the conditions
// rebalance needs, on the leaves a partial re-check read).
func mayRebalance(t *Tree, sums [][]diff.RangeSum, dirty []bool, dirtyList []int) bool {
	block := int64(t.BlockSize)
	rows := func(l int) int64 {
		var m int64
		for n := range sums {
			m = max(m, sums[n][l].Count)
		}
		return m
	}
	for _, l := range dirtyList {
		if rows(l) > 2*block {
			return true
		}
		for _, pair := range [][2]int{{l - 1, l}, {l, l + 1}} {
			a, b := pair[0], pair[1]
			if a < 0 || b >= t.Leaves() || !(dirty[a] || dirty[b]) {
				continue
			}
			if (rows(a) < block/4 || rows(b) < block/4) && rows(a)+rows(b) <= block {
				return true
			}
		}
	}
	return false
}

// prepare opens table-diff's comparer for the table.
func prepare(ctx context.Context, pools cluster.Pools, opts Options, blockSize int) (*diff.Comparer, error) {
	c, err := diff.Prepare(ctx, pools, diff.Options{
		Cluster: opts.Cluster, Schema: opts.Schema, Table: opts.Table,
		BlockSize: max(10, blockSize), Concurrency: max(1, opts.Concurrency), Tool: opts.Tool,
	})
	if err != nil {
		return nil, err
	}
	if c.Table().Table.KeyKind == catalog.KeyNone {
		return nil, fault.Input("%s has no usable key (no primary key and no unique index on NOT NULL columns): a tree needs one", c.Table().Table.Ident())
	}
	return c, nil
}

// keyable reports whether every node's marked keys are listed, so that markedKeys may look
// them up.
func keyable(states []*nodeState) bool {
	for _, st := range states {
		if !st.usable || st.all || st.keys == nil {
			return false
		}
	}
	return true
}

// markedKeys lists, in key order, the marked keys of every dirty leaf that now differs across
// nodes but matched on every node before its changes: every node's stored sum was usable and
// equal, and every change since is marked by key, so only those keys can differ and a lookup of
// them finds exactly what a drill-down would. The keys are sorted on the first node, with the
// range filters' ordering, on its first snapshot connection (idle between the rehash and the
// comparison; the sort reads literals only).
func markedKeys(ctx context.Context, c *diff.Comparer, states []*nodeState, sums [][]diff.RangeSum, dirty []bool) (map[int][]diff.Key, error) {
	if !keyable(states) {
		return nil, nil
	}
	var keys []diff.Key
	leafOf := map[string]int{}
	for l, d := range dirty {
		if !d {
			continue
		}
		same, before := true, true
		for n, st := range states {
			same = same && sums[n][l] == sums[0][l]
			before = before && st.sums[l] == states[0].sums[l]
		}
		if same || !before {
			continue
		}
		for _, st := range states {
			for _, k := range st.keys[l] {
				id := strings.Join(k, "\x00")
				if _, ok := leafOf[id]; !ok {
					leafOf[id] = l
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sql, args := newKeySQL(c.Table()).sortKeysSQL(keys)
	var order []int64
	err := c.OnNode(ctx, 0, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err == nil {
			order, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil {
			return fmt.Errorf("sort marked keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[int][]diff.Key{}
	for _, o := range order {
		k := keys[o-1]
		l := leafOf[strings.Join(k, "\x00")]
		out[l] = append(out[l], k)
	}
	return out, nil
}

// fewWorkers is how many snapshot connections per node a re-check with few change marks opens.
const fewWorkers = 2

// fewMarks reports whether every node holds its tree and at most maxKeyMarks change marks, none
// of them whole-table: a re-check that costs a few lookups, not a full pass. It is only a hint
// for how many connections to open (the snapshots decide what is rehashed).
func fewMarks(ctx context.Context, pools cluster.Pools, pls []placement) (bool, error) {
	for i, p := range pools {
		if !pls[i].stored {
			return false, nil
		}
		var n int64
		var whole bool
		err := p.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(k IS NULL), false) FROM (SELECT k FROM "+marks.Table(pls[i].relid)+" LIMIT $1) AS m",
			maxKeyMarks+1).Scan(&n, &whole)
		if err != nil {
			return false, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("count change marks: %w", err)}
		}
		if whole || n > maxKeyMarks {
			return false, nil
		}
	}
	return true, nil
}
