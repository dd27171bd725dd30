// Package catalog reads table metadata from pg_catalog (columns, types, the key used to match
// rows) and decides whether a table is comparable across nodes.
package catalog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/fault"
)

// ErrTableMissing is returned (wrapped in an input error) when a node lacks the table.
var ErrTableMissing = errors.New("table does not exist")

// KeyKind says how rows are matched across nodes.
type KeyKind int

const (
	// KeyPrimary matches rows by the primary key.
	KeyPrimary KeyKind = iota
	// KeyUnique matches rows by a unique index on NOT NULL columns.
	KeyUnique
	// KeyNone compares the table as a multiset of whole rows.
	KeyNone
)

// Column is one column of a table.
type Column struct {
	Name          string
	Type          string // format_type(atttypid, atttypmod), schema-qualified when not in pg_catalog
	TypeOID       uint32
	BaseType      string // for domains the underlying base type (format_type without typmod), else Type without typmod
	BaseOID       uint32 // base type OID after resolving domains
	TypType       string // pg_type.typtype of the base type: b, c, e, r, m, p, d
	Category      string // pg_type.typcategory of the base type (A = array, N = numeric ...)
	NotNull       bool
	Generated     bool
	Deterministic bool   // collation is deterministic (or the type is not collatable)
	Num           int    // attnum on the node the metadata was read from
	Collation     string // provider:locale ordering the column; "" when not collatable
}

// Table is the metadata of one table on one node.
type Table struct {
	Schema    string
	Name      string
	OID       uint32
	Kind      string // relkind: r (table), p (partitioned), f (foreign), m (matview)
	Columns   []Column
	Key       []string // key column names in key order; empty for KeyNone
	KeyKind   KeyKind
	KeyIndex  string // index name for KeyUnique
	EstRows   float64
	HasParent bool
}

// Ident returns the schema-qualified, quoted name.
func (t *Table) Ident() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// From returns the FROM target: ONLY for plain tables (inheritance children hold rows that are
// not the parent's), the whole tree for partitioned tables.
func (t *Table) From() string {
	if t.Kind == "p" {
		return t.Ident()
	}
	return "ONLY " + t.Ident()
}

// Column returns the named column.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// KeySource describes the key for reports: "primary key", "unique index NAME" or "whole row".
func (t *Table) KeySource() string {
	switch t.KeyKind {
	case KeyPrimary:
		return "primary key"
	case KeyUnique:
		return "unique index " + t.KeyIndex
	default:
		return "whole row"
	}
}

//go:embed columns.sql
var columnsSQL string

//go:embed key.sql
var keySQL string

//go:embed table.sql
var tableSQL string

// Querier is what Load needs from a connection or pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Load reads the metadata of schema.name on one node.
func Load(ctx context.Context, q Querier, schema, name string) (*Table, error) {
	t := &Table{Schema: schema, Name: name}
	err := q.QueryRow(ctx, tableSQL, schema, name).Scan(&t.OID, &t.Kind, &t.EstRows, &t.HasParent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrTableMissing
	}
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", t.Ident(), err)
	}
	rows, err := q.Query(ctx, columnsSQL, t.OID)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", t.Ident(), err)
	}
	t.Columns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Name, &c.Type, &c.TypeOID, &c.BaseType, &c.BaseOID, &c.TypType, &c.Category,
			&c.NotNull, &c.Generated, &c.Deterministic, &c.Num, &c.Collation)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", t.Ident(), err)
	}
	rows, err = q.Query(ctx, keySQL, t.OID)
	if err != nil {
		return nil, fmt.Errorf("read keys of %s: %w", t.Ident(), err)
	}
	type index struct {
		name    string
		primary bool
		cols    []string
	}
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		err := r.Scan(&i.name, &i.primary, &i.cols)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("read keys of %s: %w", t.Ident(), err)
	}
	t.KeyKind = KeyNone
	for _, i := range idx { // key.sql orders: primary key first, then fewest columns, then name
		if i.primary {
			t.Key, t.KeyKind = i.cols, KeyPrimary
			break
		}
		if t.usableUnique(i.cols) {
			t.Key, t.KeyKind, t.KeyIndex = i.cols, KeyUnique, i.name
			break
		}
	}
	return t, nil
}

// usableUnique reports whether a unique index's columns are all NOT NULL (NULLs are never
// equal, so a nullable unique column does not identify a row).
func (t *Table) usableUnique(cols []string) bool {
	for _, name := range cols {
		c, ok := t.Column(name)
		if !ok || !c.NotNull {
			return false
		}
	}
	return true
}

// ParseName splits a user-written table name "schema.table" into its parts, following SQL
// identifier rules: unquoted parts fold to lower case, quoted parts keep case and may contain
// dots, "" escapes a quote. A name without schema gets "public".
func ParseName(s string) (schema, name string, err error) {
	var parts []string
	i := 0
	for {
		if i >= len(s) {
			return "", "", fault.Input("table name %q is incomplete: write SCHEMA.TABLE", s)
		}
		var part strings.Builder
		if s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						part.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				part.WriteByte(s[i])
				i++
			}
			if !closed {
				return "", "", fault.Input("table name %q has an unclosed quote", s)
			}
		} else {
			for i < len(s) && s[i] != '.' && s[i] != '"' {
				part.WriteByte(s[i])
				i++
			}
			if strings.ContainsAny(part.String(), " \t\n;") {
				return "", "", fault.Input("table name %q: quote names that contain spaces or symbols (e.g. '\"My Table\"')", s)
			}
			lower := strings.ToLower(part.String())
			part.Reset()
			part.WriteString(lower)
		}
		if part.Len() == 0 {
			return "", "", fault.Input("table name %q has an empty part: write SCHEMA.TABLE", s)
		}
		parts = append(parts, part.String())
		if i == len(s) {
			break
		}
		if s[i] != '.' {
			return "", "", fault.Input("table name %q: unexpected %q after a name part", s, s[i])
		}
		i++
	}
	switch len(parts) {
	case 1:
		return "public", parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	default:
		return "", "", fault.Input("table name %q has %d parts: write SCHEMA.TABLE", s, len(parts))
	}
}

// SortedNames returns the names of cols in byte order: the canonical column order of row
// hashes, so that column order on disk never matters.
func SortedNames(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	sort.Strings(out)
	return out
}
