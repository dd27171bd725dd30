package merkle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/marks"
)

// TreeStatus is one table's tree on one node.
type TreeStatus struct {
	Node        string    `json:"node"`
	Table       string    `json:"table"`
	Leaves      int       `json:"leaves"`
	DirtyLeaves int       `json:"dirty_leaves"` // leaves the pending marks fall in (all when AllDirty)
	AllDirty    bool      `json:"all_dirty"`    // a TRUNCATE or bulk change marks the whole tree
	Marks       int64     `json:"pending_marks"`
	Rows        int64     `json:"rows"` // as of the last update
	BlockSize   int       `json:"block_size"`
	RuleVersion int       `json:"rule_version"`
	BuiltAt     time.Time `json:"built_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Status lists the trees stored on node p with their pending changes.
func Status(ctx context.Context, p *cluster.Pool) ([]TreeStatus, error) {
	ok, err := Initialized(ctx, p)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT t.relid, t.schema_name, t.table_name, t.block_size, t.rule_version, t.built_at, t.updated_at,
  (SELECT count(*) FROM pgparity.leaves l WHERE l.tree = t.relid), (SELECT coalesce(sum(cnt), 0) FROM pgparity.leaves l WHERE l.tree = t.relid),
  `+marks.Exists("t.relid")+`
FROM pgparity.trees t ORDER BY t.schema_name, t.table_name`)
	if err != nil {
		return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read trees: %w", err)}
	}
	var out []TreeStatus
	var relids []uint32
	var schemas, names []string
	var haveMarks []bool
	for rows.Next() {
		s := TreeStatus{Node: p.Node.Name}
		var relid uint32
		var schema, name string
		var tracked bool
		if err := rows.Scan(&relid, &schema, &name, &s.BlockSize, &s.RuleVersion, &s.BuiltAt, &s.UpdatedAt, &s.Leaves, &s.Rows, &tracked); err != nil {
			rows.Close()
			return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read trees: %w", err)}
		}
		s.Table = pgx.Identifier{schema, name}.Sanitize()
		out = append(out, s)
		relids, schemas, names = append(relids, relid), append(schemas, schema), append(names, name)
		haveMarks = append(haveMarks, tracked)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read trees: %w", err)}
	}
	for i := range out {
		s := &out[i]
		// a tree without its marks table was built by an earlier pgparity (a re-check says so)
		s.AllDirty = !haveMarks[i]
		if haveMarks[i] {
			err := p.QueryRow(ctx, "SELECT count(*), coalesce(bool_or(k IS NULL), false) FROM "+marks.Table(relids[i])).Scan(&s.Marks, &s.AllDirty)
			if err != nil {
				return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("count change marks: %w", err)}
			}
		}
		if s.AllDirty || s.Marks > maxMarks {
			s.AllDirty, s.DirtyLeaves = true, s.Leaves
			continue
		}
		if s.Marks == 0 {
			continue
		}
		n, err := dirtyLeaves(ctx, p, relids[i], schemas[i], names[i])
		if errors.Is(err, catalog.ErrTableMissing) {
			continue // dropped since build: a re-check says so
		}
		if err != nil {
			return nil, err
		}
		s.DirtyLeaves = n
	}
	return out, nil
}

// dirtyLeaves counts the leaves the pending marks of a tree fall in.
func dirtyLeaves(ctx context.Context, p *cluster.Pool, relid uint32, schema, name string) (int, error) {
	t, err := catalog.Load(ctx, p, schema, name)
	if err != nil {
		return 0, &cluster.NodeError{Node: p.Node.Name, Err: err}
	}
	cmp, err := catalog.Compare([]string{p.Node.Name}, []*catalog.Table{t}, nil, nil)
	if err != nil {
		return 0, err
	}
	sql, args := newKeySQL(cmp).markedLeavesSQL(relid) // the node's own boundaries
	var n int
	if err := p.QueryRow(ctx, "SELECT count(DISTINCT d.leaf) FROM ("+sql+") AS d", args...).Scan(&n); err != nil {
		return 0, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("place marks in leaves: %w", err)}
	}
	return n, nil
}
