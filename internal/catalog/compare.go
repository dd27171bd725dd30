package catalog

import (
	"fmt"
	"strings"

	"github.com/pgparity/pgparity/internal/fault"
)

// Skipped is a column left out of the comparison, with the reason.
type Skipped struct {
	Name   string
	Reason string
}

// Comparison is what a multi-node comparison of one table works with: the reference metadata,
// the key, and the columns compared (in canonical name order).
type Comparison struct {
	Table   *Table   // metadata from the first node
	Columns []Column // compared columns, key columns included, in the first node's column order
	Skipped []Skipped
	// KeyBytewise says key comparisons must use COLLATE "C": a text key column is ordered by
	// different (or nondeterministic) collations on different nodes, so native order could put
	// one key in different ranges on different nodes.
	KeyBytewise bool
}

// Compare checks that the table has the same columns (names and types) and the same key on every
// node, and selects the columns to compare: include (all when empty) minus exclude; generated
// columns are never compared (they follow from the others). Errors are input errors listing every
// difference.
func Compare(nodes []string, tables []*Table, include, exclude []string) (*Comparison, error) {
	ref := tables[0]
	selected := map[string]bool{}
	for _, c := range include {
		selected[c] = true
	}
	excluded := map[string]bool{}
	for _, c := range exclude {
		excluded[c] = true
	}
	for _, name := range include {
		for i, t := range tables {
			if _, ok := t.Column(name); !ok {
				return nil, fault.Input("column %q (named in --columns) does not exist in %s on node %s", name, t.Ident(), nodes[i])
			}
		}
	}
	// An excluded column need only exist somewhere: excluding a column that some nodes lack is
	// how a common subset is compared.
	for _, name := range exclude {
		found := false
		for _, t := range tables {
			_, ok := t.Column(name)
			found = found || ok
		}
		if !found {
			return nil, fault.Input("column %q (named in --exclude-columns) does not exist in %s on any node", name, ref.Ident())
		}
	}
	inScope := func(name string) bool {
		if excluded[name] {
			return false
		}
		return len(selected) == 0 || selected[name]
	}

	var problems []string
	for i := 1; i < len(tables); i++ {
		t := tables[i]
		for _, c := range ref.Columns {
			o, ok := t.Column(c.Name)
			switch {
			case !ok && inScope(c.Name):
				problems = append(problems, fmt.Sprintf("column %s is on %s but not on %s", quote(c.Name), nodes[0], nodes[i]))
			case ok && inScope(c.Name) && o.Type != c.Type:
				problems = append(problems, fmt.Sprintf("column %s is %s on %s but %s on %s", quote(c.Name), c.Type, nodes[0], o.Type, nodes[i]))
			}
		}
		for _, o := range t.Columns {
			if _, ok := ref.Column(o.Name); !ok && inScope(o.Name) {
				problems = append(problems, fmt.Sprintf("column %s is on %s but not on %s", quote(o.Name), nodes[i], nodes[0]))
			}
		}
		if strings.Join(t.Key, ",") != strings.Join(ref.Key, ",") || t.KeyKind != ref.KeyKind {
			problems = append(problems, fmt.Sprintf("key is %s (%s) on %s but %s (%s) on %s",
				t.describeKey(), t.KeySource(), nodes[i], ref.describeKey(), ref.KeySource(), nodes[0]))
		}
	}
	if len(problems) > 0 {
		return nil, fault.Input("%s differs between nodes: %s; compare a common subset with --columns or --exclude-columns, or fix the schema (see schema-diff)",
			ref.Ident(), strings.Join(problems, "; "))
	}

	cmp := &Comparison{Table: ref}
	for _, c := range ref.Columns {
		isKey := false
		for _, k := range ref.Key {
			isKey = isKey || k == c.Name
		}
		switch {
		case c.Generated:
			cmp.Skipped = append(cmp.Skipped, Skipped{c.Name, "generated column (derived from compared columns)"})
		case isKey:
			cmp.Columns = append(cmp.Columns, c)
		case !inScope(c.Name):
			cmp.Skipped = append(cmp.Skipped, Skipped{c.Name, "excluded by --columns/--exclude-columns"})
		default:
			cmp.Columns = append(cmp.Columns, c)
		}
	}
	for _, k := range ref.Key {
		if excluded[k] {
			return nil, fault.Input("column %q is part of the key (%s) and cannot be excluded", k, ref.KeySource())
		}
	}
	if len(cmp.Columns) == 0 {
		return nil, fault.Input("no column of %s left to compare", ref.Ident())
	}
	cmp.KeyBytewise = keyCollationsDiffer(ref.Key, tables)
	return cmp, nil
}

func (t *Table) describeKey() string {
	if len(t.Key) == 0 {
		return "none"
	}
	q := make([]string, len(t.Key))
	for i, k := range t.Key {
		q[i] = quote(k)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// KeyColumns returns the key columns of the comparison, in key order.
func (c *Comparison) KeyColumns() []Column {
	out := make([]Column, 0, len(c.Table.Key))
	for _, k := range c.Table.Key {
		col, _ := c.Table.Column(k)
		out = append(out, col)
	}
	return out
}

// keyCollationsDiffer reports whether any collatable key column is ordered differently on some
// node (another provider or locale) or by a nondeterministic collation.
func keyCollationsDiffer(key []string, tables []*Table) bool {
	for _, k := range key {
		first, _ := tables[0].Column(k)
		for _, t := range tables {
			c, _ := t.Column(k)
			if c.Collation != first.Collation || (c.Collation != "" && !c.Deterministic) {
				return true
			}
		}
	}
	return false
}
