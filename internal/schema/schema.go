// Package schema compares whole schemas, publications and logical-replication topologies across
// nodes: it reads a catalog snapshot of a schema on every node, compares the objects N-way
// (tables with their columns, keys, constraints, indexes, triggers, policies, privileges and
// comments; views, functions, sequences, enums, domains, composite types, the publications of
// the schema's tables, extensions), data-diffs every structurally comparable table with
// internal/diff under a bounded connection budget, checks sequences against the keys they feed,
// and inspects publications, subscriptions and replication slots.
package schema

import (
	"context"
	"crypto/md5"
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
	//go:embed domains.sql
	domainsSQL string
	//go:embed types.sql
	typesSQL string
	//go:embed grants.sql
	grantsSQL string
	//go:embed comments.sql
	commentsSQL string
	//go:embed publications.sql
	publicationsSQL string
	//go:embed publications_pre15.sql
	publicationsPre15SQL string
	//go:embed extensions.sql
	extensionsSQL string
	//go:embed definitions.sql
	definitionsSQL string
	//go:embed sequences.sql
	sequencesSQL string
)

// What a structure query leaves out (its parameters after $1, the schema): the objects whose
// reading would wait for a lock another session holds (see probeLocks).
const (
	leaveOutNothing   = iota // ($1)
	leaveOutRelations        // ($1, $2 relations)
	leaveOutFunctions        // ($1, $2 functions)
	leaveOutBoth             // ($1, $2 relations, $3 functions)
)

// propertyQueries return (kind, name, property, value) rows for the schema named by $1.
var propertyQueries = []struct {
	what, sql string
	leaveOut  int
}{
	{"relations", relationsSQL, leaveOutRelations},
	{"constraints", constraintsSQL, leaveOutRelations},
	{"indexes", indexesSQL, leaveOutRelations},
	{"triggers", triggersSQL, leaveOutRelations},
	{"policies", policiesSQL, leaveOutRelations},
	{"functions", functionsSQL, leaveOutFunctions},
	{"enums", enumsSQL, leaveOutNothing},
	{"domains", domainsSQL, leaveOutNothing},
	{"composite types", typesSQL, leaveOutNothing},
	{"privileges", grantsSQL, leaveOutNothing},
	{"comments", commentsSQL, leaveOutNothing},
	{"publications", publicationsSQL, leaveOutRelations},
	{"extensions", extensionsSQL, leaveOutNothing},
}

// Object kinds of a snapshot.
const (
	KindTable     = "table"
	KindView      = "view"
	KindSequence  = "sequence"
	KindFunction  = "function"
	KindEnum      = "enum"
	KindDomain    = "domain"
	KindType      = "type" // composite type
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
	// Texts holds the long text behind some properties, shown as a unified diff where the
	// property differs: a view's query behind its "definition md5", a function's CREATE
	// statement behind its "body md5".
	Texts map[ObjectID]map[string]string
	// Failed holds the objects whose structure was not read on this node, with the reason:
	// another session holds a lock on a relation they need. They are in no other field.
	Failed map[ObjectID]string
	// ColumnTypes maps table -> column -> type with typmod: the part of the structure that
	// decides whether rows can be compared.
	ColumnTypes map[string]map[string]string
	// locks is what was left out because of locks, for loadSequences.
	locks *locks
}

// Querier is what Load needs: a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// Begin starts a savepoint in a transaction (a transaction on a connection).
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Load reads the structure of schema on one node. It returns ok=false (and no error) when the
// schema does not exist there. Run it inside one repeatable-read transaction to see one state.
// Objects whose reading would wait for a lock held by another session (longer than the
// session's lock_timeout) are not read but listed in Snapshot.Failed.
func Load(ctx context.Context, q Querier, node, schema string) (snap *Snapshot, ok bool, err error) {
	s := &Snapshot{Node: node, Objects: map[ObjectID]map[string]string{}, Texts: map[ObjectID]map[string]string{},
		ColumnTypes: map[string]map[string]string{}}
	var exists bool
	if err := q.QueryRow(ctx, schemaExistsSQL, schema).Scan(&exists, &s.ServerVersion); err != nil {
		return nil, false, fmt.Errorf("read schema %s: %w", schema, err)
	}
	if !exists {
		return nil, false, nil
	}
	if s.locks, err = probeLocks(ctx, q, schema, s.ServerVersion); err != nil {
		return nil, false, err
	}
	s.Failed = s.locks.failed
	for _, pq := range propertyQueries {
		sql := pq.sql
		if s.ServerVersion < 140000 { // no SQL-standard function bodies yet
			sql = strings.ReplaceAll(sql, "pg_catalog.pg_get_function_sqlbody(p.oid)", "NULL::text")
		}
		if pq.what == "publications" && s.ServerVersion < 150000 {
			sql = publicationsPre15SQL
		}
		var kind, name, prop, value string
		err := s.forEachRow(ctx, q, sql, schema, pq.leaveOut, []any{&kind, &name, &prop, &value}, func() {
			s.set(ObjectID{kind, name}, prop, value)
		})
		if err != nil {
			return nil, false, fmt.Errorf("read %s of schema %s: %w", pq.what, schema, err)
		}
	}
	var kind, name, prop, text string
	err = s.forEachRow(ctx, q, definitionsSQL, schema, leaveOutBoth, []any{&kind, &name, &prop, &text}, func() {
		id := ObjectID{kind, name}
		if kind == KindView {
			s.set(id, prop, fmt.Sprintf("%x", md5.Sum([]byte(text))))
		}
		if s.Texts[id] == nil {
			s.Texts[id] = map[string]string{}
		}
		s.Texts[id][prop] = text
	})
	if err != nil {
		return nil, false, fmt.Errorf("read definitions of schema %s: %w", schema, err)
	}
	var table, column, quoted, typ, def string
	err = s.forEachRow(ctx, q, columnsSQL, schema, leaveOutRelations, []any{&table, &column, &quoted, &typ, &def}, func() {
		s.set(ObjectID{KindTable, table}, "column "+quoted, def)
		if s.ColumnTypes[table] == nil {
			s.ColumnTypes[table] = map[string]string{}
		}
		s.ColumnTypes[table][column] = typ
	})
	if err != nil {
		return nil, false, fmt.Errorf("read columns of schema %s: %w", schema, err)
	}
	for id := range s.Failed { // what unlocked catalogs still told of them (privileges, comments)
		delete(s.Objects, id)
		delete(s.Texts, id)
		if id.Kind == KindTable {
			delete(s.ColumnTypes, id.Name)
		}
	}
	return s, true, nil
}

// forEachRow runs a structure query with the schema and what it leaves out, scanning each row
// into dest before calling fn.
func (s *Snapshot) forEachRow(ctx context.Context, q Querier, sql, schema string, leaveOut int, dest []any, fn func()) error {
	args := []any{schema}
	switch leaveOut {
	case leaveOutRelations:
		args = append(args, s.locks.relations)
	case leaveOutFunctions:
		args = append(args, s.locks.functions)
	case leaveOutBoth:
		args = append(args, s.locks.relations, s.locks.functions)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		fn()
		return nil
	})
	return err
}

func (s *Snapshot) set(id ObjectID, prop, value string) {
	if s.Objects[id] == nil {
		s.Objects[id] = map[string]string{}
	}
	s.Objects[id][prop] = value
}
