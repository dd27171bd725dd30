// Package schema compares whole schemas, publications and logical-replication topologies across
// nodes: it reads a catalog snapshot of a schema on every node, compares the objects N-way
// (tables with their columns, keys, constraints, indexes, triggers and policies; views,
// functions, sequences, enums, extensions), data-diffs every structurally comparable table with
// internal/diff under a bounded connection budget, checks sequences against the keys they feed,
// and inspects publications, subscriptions and replication slots.
package schema

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

var (
	//go:embed schema_exists.sql
	schemaExistsSQL string
	//go:embed relations.sql
	relationsSQL string
	//go:embed columns.sql
	columnsSQL string
	//go:embed constraints.sql
	constraintsSQL string
	//go:embed indexes.sql
	indexesSQL string
	//go:embed triggers.sql
	triggersSQL string
	//go:embed policies.sql
	policiesSQL string
	//go:embed functions.sql
	functionsSQL string
	//go:embed enums.sql
	enumsSQL string
	//go:embed extensions.sql
	extensionsSQL string
	//go:embed sequences.sql
	sequencesSQL string
)

// propertyQueries return (kind, name, property, value) rows for the schema named by $1.
var propertyQueries = []struct{ what, sql string }{
	{"relations", relationsSQL},
	{"constraints", constraintsSQL},
	{"indexes", indexesSQL},
	{"triggers", triggersSQL},
	{"policies", policiesSQL},
	{"functions", functionsSQL},
	{"enums", enumsSQL},
	{"extensions", extensionsSQL},
}

// Object kinds of a snapshot.
const (
	KindTable     = "table"
	KindView      = "view"
	KindSequence  = "sequence"
	KindFunction  = "function"
	KindEnum      = "enum"
	KindExtension = "extension"
)

// ObjectID identifies an object within a schema: its kind and its name (functions carry their
// argument types: "f(integer, text)").
type ObjectID struct {
	Kind string
	Name string
}

// Snapshot is the structure of one schema on one node: every object with its properties as
// canonical text, equal on two nodes exactly when the property is the same.
type Snapshot struct {
	Node          string
	ServerVersion int // server_version_num
	Objects       map[ObjectID]map[string]string
	// ColumnTypes maps table -> column -> type with typmod: the part of the structure that
	// decides whether rows can be compared.
	ColumnTypes map[string]map[string]string
}

// Querier is what Load needs: a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Load reads the structure of schema on one node. It returns ok=false (and no error) when the
// schema does not exist there. Run it inside one repeatable-read transaction to see one state.
func Load(ctx context.Context, q Querier, node, schema string) (snap *Snapshot, ok bool, err error) {
	s := &Snapshot{Node: node, Objects: map[ObjectID]map[string]string{}, ColumnTypes: map[string]map[string]string{}}
	var exists bool
	if err := q.QueryRow(ctx, schemaExistsSQL, schema).Scan(&exists, &s.ServerVersion); err != nil {
		return nil, false, fmt.Errorf("read schema %s: %w", schema, err)
	}
	if !exists {
		return nil, false, nil
	}
	for _, pq := range propertyQueries {
		sql := pq.sql
		if s.ServerVersion < 140000 { // no SQL-standard function bodies yet
			sql = strings.ReplaceAll(sql, "pg_catalog.pg_get_function_sqlbody(p.oid)", "NULL::text")
		}
		rows, err := q.Query(ctx, sql, schema)
		if err != nil {
			return nil, false, fmt.Errorf("read %s of schema %s: %w", pq.what, schema, err)
		}
		var kind, name, prop, value string
		_, err = pgx.ForEachRow(rows, []any{&kind, &name, &prop, &value}, func() error {
			s.set(ObjectID{kind, name}, prop, value)
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("read %s of schema %s: %w", pq.what, schema, err)
		}
	}
	rows, err := q.Query(ctx, columnsSQL, schema)
	if err != nil {
		return nil, false, fmt.Errorf("read columns of schema %s: %w", schema, err)
	}
	var table, column, quoted, typ, def string
	_, err = pgx.ForEachRow(rows, []any{&table, &column, &quoted, &typ, &def}, func() error {
		s.set(ObjectID{KindTable, table}, "column "+quoted, def)
		if s.ColumnTypes[table] == nil {
			s.ColumnTypes[table] = map[string]string{}
		}
		s.ColumnTypes[table][column] = typ
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read columns of schema %s: %w", schema, err)
	}
	return s, true, nil
}

func (s *Snapshot) set(id ObjectID, prop, value string) {
	if s.Objects[id] == nil {
		s.Objects[id] = map[string]string{}
	}
	s.Objects[id][prop] = value
}
