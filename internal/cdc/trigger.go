// Package cdc tracks changes of tables with a tree (package merkle): it records the keys of
// changed rows as marks in the unlogged marks table of the table's tree (package marks), either
// from statement-level triggers (trigger tracker) or from a logical replication slot decoded
// with pgoutput (cdc tracker). A mark with a NULL key means "the whole table changed" (TRUNCATE,
// or more changed rows in one statement or transaction than are worth recording one by one).
package cdc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/marks"
)

// MaxKeys is how many changed keys of one table are recorded per statement (trigger) or per
// transaction (cdc); past it one whole-table mark is recorded instead, so memory stays bounded.
const MaxKeys = 10000

// triggerNames are the tracker's triggers on a tracked table, per event.
var triggerNames = map[string]string{
	"INSERT":   "pgparity_track_insert",
	"UPDATE":   "pgparity_track_update",
	"DELETE":   "pgparity_track_delete",
	"TRUNCATE": "pgparity_track_truncate",
}

// appliedTrigger is the row-level trigger that records the keys of rows inserted, updated or
// deleted by logical replication: the built-in apply worker fires row triggers only, never
// statement triggers. It is ENABLE REPLICA, so it fires only in sessions with
// session_replication_role = replica (apply workers); in every other session PostgreSQL skips it
// before any per-row work (measured: no cost on pgbench's updates).
const appliedTrigger = "pgparity_track_applied"

// rekeyTrigger is the row-level UPDATE trigger marking the old and new keys of an UPDATE that
// changed a row's key (ENABLE ALWAYS). It is declared UPDATE OF the key columns, so PostgreSQL
// skips it for every UPDATE whose SET list names no key column without evaluating its WHEN
// clause (a WHEN clause is prepared again for every statement: evaluated on each of pgbench's
// updates it cost more than the statement trigger). A key changed by a BEFORE UPDATE row trigger
// is not in the SET list: on a table with such a trigger the rekey trigger is declared for every
// UPDATE instead (see TrackTrigger and Check).
const rekeyTrigger = "pgparity_track_rekey"

// userBeforeUpdate is true for a pg_trigger row that is a table's own BEFORE UPDATE row
// trigger, which could change a key column behind the SET list's back (tgtype bits: ROW 1,
// BEFORE 2, UPDATE 16).
const userBeforeUpdate = `NOT tgisinternal AND tgname NOT LIKE 'pgparity\_track\_%' AND tgtype::int & 19 = 19`

// functionName is the statement trigger function of the table relid, in schema pgparity.
func functionName(relid uint32) string {
	return pgx.Identifier{"pgparity", "track_" + strconv.FormatUint(uint64(relid), 10)}.Sanitize()
}

// rowFunctionName is the row trigger function of the table relid.
func rowFunctionName(relid uint32) string {
	return pgx.Identifier{"pgparity", "track_row_" + strconv.FormatUint(uint64(relid), 10)}.Sanitize()
}

// TrackTrigger installs the trigger tracker on table t of node p: statement-level AFTER triggers
// (ENABLE ALWAYS) with transition tables recording the keys of inserted, updated and deleted
// rows and a whole-table mark for TRUNCATE; the row trigger rekeyTrigger for the old key of a
// key-changing UPDATE; the row trigger appliedTrigger for rows applied by logical replication,
// which fires no statement trigger. It replaces an earlier installation.
func TrackTrigger(ctx context.Context, p *cluster.Pool, t *catalog.Table) error {
	if t.Kind == "p" {
		return fault.Input("%s is partitioned: the trigger tracker does not see writes aimed at its partitions; use --tracker cdc", t.Ident())
	}
	var relid uint32
	if err := p.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1)::oid", t.Ident()).Scan(&relid); err != nil {
		return nodeErr(p, "look up "+t.Ident(), err)
	}
	fn := functionName(relid)
	keyArray := func(alias string) string {
		parts := make([]string, len(t.Key))
		for i, k := range t.Key {
			c, _ := t.Column(k)
			parts[i] = encode.KeyTextExpr(alias, c)
		}
		return "ARRAY[" + strings.Join(parts, ", ") + "]"
	}
	keys := func(rel string) string {
		return "SELECT " + keyArray("pgparity_r") + " AS k FROM " + rel + " AS pgparity_r"
	}
	mt := marks.Table(relid)
	whole := "INSERT INTO " + mt + " (k) VALUES (NULL); RETURN NULL;"
	// One statement per event: the keys are inserted up to MaxKeys+1 and the row count decides
	// whether a whole-table mark is added (no separate count of the transition table).
	insert := func(sel string) string {
		return "INSERT INTO " + mt + " (k) SELECT s.k FROM (" + sel + " LIMIT " + strconv.Itoa(MaxKeys+1) + ") AS s;\n" +
			"GET DIAGNOSTICS pgparity_n = ROW_COUNT;\nIF pgparity_n > " + strconv.Itoa(MaxKeys) + " THEN " + whole + " END IF;"
	}
	rowBody := "BEGIN\n" +
		"IF TG_OP <> 'INSERT' THEN INSERT INTO " + mt + " (k) VALUES (" + keyArray("old") + "); END IF;\n" +
		"IF TG_OP <> 'DELETE' THEN INSERT INTO " + mt + " (k) VALUES (" + keyArray("new") + "); END IF;\n" +
		"RETURN NULL;\nEND"
	// An UPDATE marks its new keys here; the old key of an UPDATE that changed it is marked by
	// the row trigger rekeyTrigger, which fires only then (its WHEN clause): a statement trigger
	// with the old rows as well (a second transition table, and a UNION to mark an unchanged key
	// once) cost pgbench twice as much per statement.
	body := "DECLARE pgparity_n bigint;\nBEGIN\n" +
		"IF TG_OP = 'TRUNCATE' THEN " + whole + " END IF;\n" +
		"IF TG_OP = 'DELETE' THEN " + insert(keys("pgparity_old")) + "\n" +
		"ELSE " + insert(keys("pgparity_new")) + "\n" +
		"END IF;\nRETURN NULL;\nEND"
	var changed []string
	for _, k := range t.Key {
		c, _ := t.Column(k)
		changed = append(changed, encode.KeyTextExpr("old", c)+" IS DISTINCT FROM "+encode.KeyTextExpr("new", c))
	}
	tag := "$pgparity_track$"
	if strings.Contains(body+rowBody, tag) {
		return fault.Input("%s: a key column name contains %s", t.Ident(), tag)
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		return nodeErr(p, "begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The functions run with the rights of whoever writes the table (SECURITY INVOKER), who may
	// add marks (tree and key only: the transaction id is always the writer's own). A
	// SECURITY DEFINER function would need its own search_path (SET search_path), and setting a
	// parameter on every call cost pgbench a quarter of its throughput; everything the bodies
	// name is schema-qualified, and a writer's own search_path can only mislead the marks of
	// its own writes, which it may add anyway.
	stmts := append(marks.Create(relid),
		"GRANT USAGE ON SCHEMA pgparity TO PUBLIC",
		"CREATE OR REPLACE FUNCTION "+fn+"() RETURNS trigger LANGUAGE plpgsql SECURITY INVOKER AS "+tag+body+tag,
		"CREATE OR REPLACE FUNCTION "+rowFunctionName(relid)+"() RETURNS trigger LANGUAGE plpgsql SECURITY INVOKER AS "+tag+rowBody+tag,
	)
	stmts = append(stmts, dropTriggers(t.Ident())...)
	for _, ev := range []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE"} {
		ref := ""
		switch ev {
		case "INSERT":
			ref = " REFERENCING NEW TABLE AS pgparity_new"
		case "UPDATE":
			ref = " REFERENCING NEW TABLE AS pgparity_new"
		case "DELETE":
			ref = " REFERENCING OLD TABLE AS pgparity_old"
		}
		name := pgx.Identifier{triggerNames[ev]}.Sanitize()
		stmts = append(stmts,
			"CREATE TRIGGER "+name+" AFTER "+ev+" ON "+t.Ident()+ref+" FOR EACH STATEMENT EXECUTE FUNCTION "+fn+"()",
			"ALTER TABLE "+t.Ident()+" ENABLE ALWAYS TRIGGER "+name)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nodeErr(p, "install the trigger tracker on "+t.Ident(), err)
		}
	}
	// The triggers are dropped: the table is locked against new triggers until commit.
	var before bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND "+userBeforeUpdate+")", relid).Scan(&before); err != nil {
		return nodeErr(p, "read the triggers of "+t.Ident(), err)
	}
	of := ""
	if !before {
		cols := make([]string, len(t.Key))
		for i, k := range t.Key {
			cols[i] = pgx.Identifier{k}.Sanitize()
		}
		of = " OF " + strings.Join(cols, ", ")
	}
	applied, rekey := pgx.Identifier{appliedTrigger}.Sanitize(), pgx.Identifier{rekeyTrigger}.Sanitize()
	stmts = append(stmts[:0],
		"CREATE TRIGGER "+applied+" AFTER INSERT OR UPDATE OR DELETE ON "+t.Ident()+" FOR EACH ROW EXECUTE FUNCTION "+rowFunctionName(relid)+"()",
		"ALTER TABLE "+t.Ident()+" ENABLE REPLICA TRIGGER "+applied,
		"CREATE TRIGGER "+rekey+" AFTER UPDATE"+of+" ON "+t.Ident()+" FOR EACH ROW WHEN ("+strings.Join(changed, " OR ")+") EXECUTE FUNCTION "+rowFunctionName(relid)+"()",
		"ALTER TABLE "+t.Ident()+" ENABLE ALWAYS TRIGGER "+rekey)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nodeErr(p, "install the trigger tracker on "+t.Ident(), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nodeErr(p, "install the trigger tracker on "+t.Ident(), err)
	}
	return nil
}

func dropTriggers(ident string) []string {
	out := []string{"DROP TRIGGER IF EXISTS " + pgx.Identifier{appliedTrigger}.Sanitize() + " ON " + ident,
		"DROP TRIGGER IF EXISTS " + pgx.Identifier{rekeyTrigger}.Sanitize() + " ON " + ident}
	for _, ev := range []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE"} {
		out = append(out, "DROP TRIGGER IF EXISTS "+pgx.Identifier{triggerNames[ev]}.Sanitize()+" ON "+ident)
	}
	return out
}

// UntrackTrigger removes the trigger tracker from the table (schema.table) on node p, if present.
func UntrackTrigger(ctx context.Context, p *cluster.Pool, schema, table string) error {
	ident := pgx.Identifier{schema, table}.Sanitize()
	var relid *uint32
	if err := p.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1)::oid", ident).Scan(&relid); err != nil {
		return nodeErr(p, "look up "+ident, err)
	}
	if relid == nil {
		return nil
	}
	drops := append(dropTriggers(ident), "DROP FUNCTION IF EXISTS "+functionName(*relid)+"()", "DROP FUNCTION IF EXISTS "+rowFunctionName(*relid)+"()")
	for _, s := range drops {
		if _, err := p.Exec(ctx, s); err != nil {
			return nodeErr(p, "remove the trigger tracker from "+ident, err)
		}
	}
	return nil
}

func nodeErr(p *cluster.Pool, what string, err error) error {
	return &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("%s: %w", what, err)}
}
