package repair

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// WriteSQL prints, instead of applying it, the plan a repair with these options would carry out,
// as plain SQL a DBA can review and run by hand: per node with changes a "-- node NAME" line and
// one BEGIN ... COMMIT block of INSERT ... ON CONFLICT DO UPDATE, UPDATE and DELETE statements,
// every value a quoted literal cast to its column's type. It changes nothing and writes no file.
// The diff is read batch by batch and planned as Repair plans it (pools answer the lookups a plan
// may need: commit times, rows outside a --where filter), once per node so that each node's block
// is printed as it is planned: memory stays bounded by a batch. The statements carry no stale
// guard: they write the diff's versions whatever the rows hold when they run. A whole-row diff
// (no key) cannot be expressed without a key: a comment says so and the error is an input error.
func WriteSQL(ctx context.Context, pools cluster.Pools, in Input, o Options, batchSize int, out io.Writer) error {
	src, done, err := in()
	if err != nil {
		return err
	}
	d := src.Header()
	done()
	if err := o.validate(d); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	if len(d.Key) == 0 {
		fmt.Fprintf(w, "-- %s has no key (whole-row diff): its changes cannot be expressed as plain SQL without a key; "+
			"repair it with table-repair --source-of-truth\n", d.Table)
		if err := w.Flush(); err != nil {
			return err
		}
		return fault.Input("--sql: %s has no key (whole-row diff): its changes cannot be expressed as plain SQL", d.Table)
	}
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	lk := newLookups(pools, d)
	times := o.Mode == ModePlan && o.Rules.needsCommitTimes()
	if times {
		if _, err := lk.checkCommitTimes(ctx, o.Rules.Fallback != nil); err != nil {
			return err
		}
	}
	sw := newSQLWriter(d, w)
	for _, node := range d.Nodes {
		if err := sw.node(ctx, in, node, func(src report.Source) batches {
			keys := 0
			_, next := planBatches(src, d, o, lk, times, nil, batchSize, &keys)
			return next
		}); err != nil {
			return err
		}
	}
	if !sw.any {
		fmt.Fprintf(w, "-- %s: nothing to change\n", d.Table)
	}
	return w.Flush()
}

// sqlWriter renders planned changes as SQL text.
type sqlWriter struct {
	w       *bufio.Writer
	table   string
	cols    []report.Column
	names   []string // quoted column names, in diff order
	keyCols []report.Column
	isKey   []bool // per column
	keyList string // quoted key column names, comma-separated
	any     bool   // some node had a block
}

func newSQLWriter(d *report.Diff, w *bufio.Writer) *sqlWriter {
	s := &sqlWriter{w: w, table: pgx.Identifier{d.Table.Schema, d.Table.Name}.Sanitize(), cols: d.Columns,
		isKey: make([]bool, len(d.Columns))}
	var keys []string
	for _, k := range d.Key {
		keys = append(keys, ident(k))
		col := report.Column{Name: k}
		if j := column(d.Columns, k); j >= 0 {
			col = d.Columns[j]
			s.isKey[j] = true
		}
		s.keyCols = append(s.keyCols, col)
	}
	for _, c := range d.Columns {
		s.names = append(s.names, ident(c.Name))
	}
	s.keyList = strings.Join(keys, ", ")
	return s
}

// node prints one node's block: it plans the whole diff again and prints that node's changes
// (and, as comments, what the plan holds back on it) batch by batch.
func (s *sqlWriter) node(ctx context.Context, in Input, node string, plan func(report.Source) batches) error {
	src, done, err := in()
	if err != nil {
		return err
	}
	defer done()
	next := plan(src)
	open := false
	begin := func() {
		if !open {
			fmt.Fprintf(s.w, "-- node %s\nBEGIN;\n", node)
			// The literals are PostgreSQL's text output under these settings (see cluster.Pool).
			s.w.WriteString("SET LOCAL DateStyle = 'ISO, YMD';\nSET LOCAL IntervalStyle = 'postgres';\n")
			open, s.any = true, true
		}
	}
	for {
		p, err := next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for _, h := range p.Held {
			if h.Node == "" || h.Node == node {
				begin()
				fmt.Fprintf(s.w, "-- held back (%s): %s\n", describe(p.keyRecord(h.key)), commentLine(h.Reason))
			}
		}
		for _, c := range p.Conflicts {
			begin()
			fmt.Fprintf(s.w, "-- conflict (%s): %s\n", describe(p.keyRecord(c.key)), commentLine(c.Reason))
		}
		for i := range p.Changes[node] {
			begin()
			if err := s.change(&p.Changes[node][i]); err != nil {
				return err
			}
		}
		if err := s.w.Flush(); err != nil {
			return err
		}
	}
	if open {
		s.w.WriteString("COMMIT;\n\n")
	}
	return s.w.Flush()
}

// commentLine keeps a comment on its line.
func commentLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// change prints the statement of one change.
func (s *sqlWriter) change(c *Change) error {
	if c.Kind != Delete && len(c.New) < len(s.cols) {
		return fault.Input("diff entry %d: %d values, the diff has %d columns", c.Row+1, len(c.New), len(s.cols))
	}
	switch c.Kind {
	case Insert:
		s.insert(c.New)
	case Update:
		var set []int
		for j := range s.cols {
			if !s.isKey[j] && !sameStr(at(c.Expected, j), c.New[j]) {
				set = append(set, j)
			}
		}
		if len(set) == 0 { // equal texts, different values (a rule's row): write every column
			for j := range s.cols {
				if !s.isKey[j] {
					set = append(set, j)
				}
			}
		}
		if len(set) == 0 {
			return nil
		}
		fmt.Fprintf(s.w, "UPDATE %s SET ", s.table)
		for i, j := range set {
			if i > 0 {
				s.w.WriteString(", ")
			}
			fmt.Fprintf(s.w, "%s = %s", s.names[j], literal(c.New[j], s.cols[j].Type))
		}
		s.where(c.Key)
	case Delete:
		fmt.Fprintf(s.w, "DELETE FROM %s", s.table)
		s.where(c.Key)
	}
	return nil
}

// insert prints an upsert of a row: the row's key may have appeared since the diff.
func (s *sqlWriter) insert(vals []*string) {
	fmt.Fprintf(s.w, "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE VALUES (", s.table, strings.Join(s.names, ", "))
	for j, c := range s.cols {
		if j > 0 {
			s.w.WriteString(", ")
		}
		s.w.WriteString(literal(vals[j], c.Type))
	}
	fmt.Fprintf(s.w, ") ON CONFLICT (%s) DO ", s.keyList)
	first := true
	for j := range s.cols {
		if s.isKey[j] {
			continue
		}
		if first {
			s.w.WriteString("UPDATE SET ")
			first = false
		} else {
			s.w.WriteString(", ")
		}
		fmt.Fprintf(s.w, "%s = EXCLUDED.%s", s.names[j], s.names[j])
	}
	if first {
		s.w.WriteString("NOTHING")
	}
	s.w.WriteString(";\n")
}

// where ends a statement with the condition on a key.
func (s *sqlWriter) where(key []string) {
	s.w.WriteString(" WHERE (" + s.keyList + ") = (")
	for i, c := range s.keyCols {
		if i > 0 {
			s.w.WriteString(", ")
		}
		var v *string
		if i < len(key) {
			v = &key[i]
		}
		s.w.WriteString(literal(v, c.Type))
	}
	s.w.WriteString(");\n")
}

func sameStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// literal renders a value as a string constant cast to its type (NULL cast too). Under
// standard_conforming_strings (on since PostgreSQL 9.1) only the quote needs doubling; the type
// is format_type's output, already quoted where it needs to be.
func literal(v *string, typ string) string {
	if v == nil {
		return "NULL::" + typ
	}
	return "'" + strings.ReplaceAll(*v, "'", "''") + "'::" + typ
}
