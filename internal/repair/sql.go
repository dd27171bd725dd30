package repair

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
)

// Aliases of generated SQL. Every column reference is qualified, so no user column name can
// capture one.
const (
	aliasT   = "pgparity_t" // the repaired table
	aliasO   = "pgparity_o" // the change list
	aliasE   = "pgparity_e" // expected rows
	aliasN   = "pgparity_n" // new rows
	aliasS   = "pgparity_s" // the state of each change after the guard
	aliasCur = "pgparity_c" // the row's current hash
)

// Temporary tables of one repair transaction (ON COMMIT DROP, in the session's own pg_temp).
var (
	tempOps   = pgx.Identifier{"pg_temp", "pgparity_repair_ops"}.Sanitize()
	tempExp   = pgx.Identifier{"pg_temp", "pgparity_repair_exp"}.Sanitize()
	tempNew   = pgx.Identifier{"pg_temp", "pgparity_repair_new"}.Sanitize()
	tempState = pgx.Identifier{"pg_temp", "pgparity_repair_state"}.Sanitize()
)

// statements builds the SQL of one node's repair. Only catalog identifiers (quoted) and type
// names from format_type are spliced; values travel through COPY or bind parameters.
type statements struct {
	table  *catalog.Table
	cols   []catalog.Column // written columns, in diff order (key included)
	key    []catalog.Column // key columns in key order; empty in whole-row mode
	strict bool
	ord    string // quoted name of the change number column of the temp tables
	kind   string // quoted name of the change kind column
}

func newStatements(t *catalog.Table, cols, key []catalog.Column, strict bool) *statements {
	names := map[string]bool{}
	for _, c := range cols {
		names[c.Name] = true
	}
	unique := func(base string) string {
		for names[base] {
			base += "_"
		}
		names[base] = true
		return pgx.Identifier{base}.Sanitize()
	}
	return &statements{table: t, cols: cols, key: key, strict: strict,
		ord: unique("pgparity_ord"), kind: unique("pgparity_kind")}
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func colDefs(cols []catalog.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = ident(c.Name) + " " + c.Type
	}
	return strings.Join(parts, ", ")
}

func colList(cols []catalog.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = ident(c.Name)
	}
	return strings.Join(parts, ", ")
}

func colRefs(alias string, cols []catalog.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = encode.ColumnRef(alias, c.Name)
	}
	return strings.Join(parts, ", ")
}

// keyMatch is "(a.k1, a.k2) = (b.k1, b.k2)": a row-value equality the key index serves.
func (s *statements) keyMatch(a, b string) string {
	return "(" + colRefs(a, s.key) + ") = (" + colRefs(b, s.key) + ")"
}

// createTemps creates the change list (keyed: change number, kind and key; whole-row: change
// number, kind, row hash, copies and expected count) and the typed tables of expected and new
// rows.
func (s *statements) createTemps() []string {
	ops := "CREATE TEMP TABLE " + tempOps + " (" + s.ord + " int8 PRIMARY KEY, " + s.kind + " text NOT NULL, "
	if len(s.key) > 0 {
		ops += colDefs(s.key)
	} else {
		ops += "pgparity_hash int8 NOT NULL, pgparity_copies int8 NOT NULL, pgparity_expect int8 NOT NULL"
	}
	ops += ") ON COMMIT DROP"
	rows := " (" + s.ord + " int8 PRIMARY KEY, " + colDefs(s.cols) + ") ON COMMIT DROP"
	return []string{ops, "CREATE TEMP TABLE " + tempExp + rows, "CREATE TEMP TABLE " + tempNew + rows}
}

// copyOps, copyRows are the COPY statements filling the temp tables (text format).
func (s *statements) copyOps() string {
	cols := s.ord + ", " + s.kind + ", "
	if len(s.key) > 0 {
		cols += colList(s.key)
	} else {
		cols += "pgparity_hash, pgparity_copies, pgparity_expect"
	}
	return "COPY " + tempOps + " (" + cols + ") FROM STDIN"
}

func (s *statements) copyRows(table string) string {
	return "COPY " + table + " (" + s.ord + ", " + colList(s.cols) + ") FROM STDIN"
}

// lock locks every existing row of the table the change list names, so nothing changes them
// between the guard and the writes.
func (s *statements) lock() string {
	return "WITH pgparity_l AS (SELECT 1 FROM " + s.table.From() + " AS " + aliasT + " JOIN " + tempOps + " AS " + aliasO +
		" ON " + s.keyMatch(aliasT, aliasO) + " FOR UPDATE OF " + aliasT + ") SELECT count(*) FROM pgparity_l"
}

// state evaluates the stale guard for every change: the current row's hash against the hash of
// the row the diff recorded (expected) and of the row to write (new), all with the one row hash
// of encode.RowHash. A change whose row already holds the new version is in_sync; with the guard
// on, a row that holds neither is stale; without it, only a row that appeared (insert) or vanished
// (update, delete) since is. guard is spliced as a boolean literal (no user text).
func (s *statements) state(guard bool) string {
	hash := func(alias string) string { return encode.RowHash(alias, s.cols, s.strict) }
	inner := "SELECT " + aliasO + "." + s.ord + " AS ord, " + aliasO + "." + s.kind + " AS kind, " +
		aliasCur + ".h AS cur_h, " +
		"CASE WHEN " + aliasE + "." + s.ord + " IS NULL THEN NULL ELSE " + hash(aliasE) + " END AS exp_h, " +
		"CASE WHEN " + aliasN + "." + s.ord + " IS NULL THEN NULL ELSE " + hash(aliasN) + " END AS new_h" +
		" FROM " + tempOps + " AS " + aliasO +
		" LEFT JOIN " + tempExp + " AS " + aliasE + " ON " + aliasE + "." + s.ord + " = " + aliasO + "." + s.ord +
		" LEFT JOIN " + tempNew + " AS " + aliasN + " ON " + aliasN + "." + s.ord + " = " + aliasO + "." + s.ord +
		" LEFT JOIN LATERAL (SELECT " + hash(aliasT) + " AS h FROM " + s.table.From() + " AS " + aliasT +
		" WHERE " + s.keyMatch(aliasT, aliasO) + ") AS " + aliasCur + " ON true"
	return "CREATE TEMP TABLE " + tempState + " ON COMMIT DROP AS SELECT x.ord, x.kind, x.cur_h IS NULL AS absent, " +
		"x.exp_h IS NULL AS expected_absent, CASE" +
		" WHEN x.cur_h IS NOT DISTINCT FROM x.new_h THEN 'in_sync'" +
		" WHEN " + fmt.Sprint(guard) + " AND x.cur_h IS DISTINCT FROM x.exp_h THEN 'stale'" +
		" WHEN x.kind = 'insert' AND x.cur_h IS NOT NULL THEN 'stale'" +
		" WHEN x.kind <> 'insert' AND x.cur_h IS NULL THEN 'stale'" +
		" ELSE x.kind END AS action FROM (" + inner + ") AS x"
}

// states reads the outcome of the guard for every change.
const states = "SELECT ord, action, absent, expected_absent FROM pg_temp.pgparity_repair_state"

// before reads, under the row locks, the current text of every row an update or delete will
// change: the undo file holds exactly what was there.
func (s *statements) before() string {
	texts := make([]string, len(s.cols))
	for i, c := range s.cols {
		texts[i] = encode.TextExpr(aliasT, c)
	}
	return "SELECT " + aliasS + ".ord, " + strings.Join(texts, ", ") + " FROM " + tempState + " AS " + aliasS +
		" JOIN " + tempOps + " AS " + aliasO + " ON " + aliasO + "." + s.ord + " = " + aliasS + ".ord" +
		" JOIN " + s.table.From() + " AS " + aliasT + " ON " + s.keyMatch(aliasT, aliasO) +
		" WHERE " + aliasS + ".action IN ('update', 'delete')"
}

// insert, update and remove write every change that passed the guard, one statement per kind.
func (s *statements) insert() string {
	return "INSERT INTO " + s.table.Ident() + " AS " + aliasT + " (" + colList(s.cols) + ") OVERRIDING SYSTEM VALUE SELECT " +
		colRefs(aliasN, s.cols) + " FROM " + tempNew + " AS " + aliasN + " JOIN " + tempState + " AS " + aliasS +
		" ON " + aliasS + ".ord = " + aliasN + "." + s.ord + " WHERE " + aliasS + ".action = 'insert'"
}

// update sets the non-key columns; it returns "" when every column is part of the key (such rows
// can only be missing or extra, never different).
func (s *statements) update() string {
	var sets []string
	for _, c := range s.cols {
		if !s.isKey(c.Name) {
			sets = append(sets, ident(c.Name)+" = "+encode.ColumnRef(aliasN, c.Name))
		}
	}
	if len(sets) == 0 {
		return ""
	}
	return "UPDATE " + s.table.From() + " AS " + aliasT + " SET " + strings.Join(sets, ", ") +
		" FROM " + tempNew + " AS " + aliasN + " JOIN " + tempState + " AS " + aliasS + " ON " + aliasS + ".ord = " + aliasN + "." + s.ord +
		" WHERE " + aliasS + ".action = 'update' AND " + s.keyMatch(aliasT, aliasN)
}

func (s *statements) remove() string {
	return "DELETE FROM " + s.table.From() + " AS " + aliasT + " USING " + tempOps + " AS " + aliasO +
		" JOIN " + tempState + " AS " + aliasS + " ON " + aliasS + ".ord = " + aliasO + "." + s.ord +
		" WHERE " + aliasS + ".action = 'delete' AND " + s.keyMatch(aliasT, aliasO)
}

func (s *statements) isKey(name string) bool {
	for _, k := range s.key {
		if k.Name == name {
			return true
		}
	}
	return false
}

// Whole-row mode: rows have no key, so the table is locked against writes (reads go on) while
// copies are counted and inserted or deleted by row hash.

func (s *statements) lockTable() string {
	return "LOCK TABLE " + s.table.From() + " IN EXCLUSIVE MODE"
}

// wholeState counts the current copies of every row hash in the change list and decides: the
// node must end with target = expect + copies (insert) or expect - copies (delete) copies; with
// the guard on, a count that is no longer the one the diff saw is stale.
func (s *statements) wholeState(guard bool) string {
	hash := encode.RowHash(aliasT, s.cols, s.strict)
	o := func(c string) string { return aliasO + "." + c }
	target := "CASE WHEN " + o(s.kind) + " = 'insert' THEN " + o("pgparity_expect") + " + " + o("pgparity_copies") +
		" ELSE " + o("pgparity_expect") + " - " + o("pgparity_copies") + " END"
	inner := "SELECT " + o(s.ord) + " AS ord, " + o(s.kind) + " AS kind, " + o("pgparity_hash") + " AS hash, " +
		o("pgparity_expect") + " AS expect, " + target + " AS target, coalesce(" + aliasCur + ".n, 0) AS cur" +
		" FROM " + tempOps + " AS " + aliasO + " LEFT JOIN (SELECT h, count(*) AS n FROM (SELECT " + hash + " AS h FROM " +
		s.table.From() + " AS " + aliasT + ") AS pgparity_h WHERE h IN (SELECT pgparity_hash FROM " + tempOps +
		") GROUP BY h) AS " + aliasCur + " ON " + aliasCur + ".h = " + o("pgparity_hash")
	return "CREATE TEMP TABLE " + tempState + " ON COMMIT DROP AS SELECT x.ord, x.kind, x.hash, x.cur, abs(x.target - x.cur) AS n, CASE" +
		" WHEN x.cur = x.target THEN 'in_sync'" +
		" WHEN " + fmt.Sprint(guard) + " AND x.cur <> x.expect THEN 'stale'" +
		" WHEN x.target > x.cur THEN 'insert' ELSE 'delete' END AS action FROM (" + inner + ") AS x"
}

const wholeStates = "SELECT ord, action, cur, n FROM pg_temp.pgparity_repair_state"

// wholeInsert inserts n copies of each row to insert.
func (s *statements) wholeInsert() string {
	return "INSERT INTO " + s.table.Ident() + " AS " + aliasT + " (" + colList(s.cols) + ") OVERRIDING SYSTEM VALUE SELECT " +
		colRefs(aliasN, s.cols) + " FROM " + tempNew + " AS " + aliasN + " JOIN " + tempState + " AS " + aliasS +
		" ON " + aliasS + ".ord = " + aliasN + "." + s.ord + " CROSS JOIN LATERAL pg_catalog.generate_series(1, " + aliasS +
		".n) AS pgparity_g WHERE " + aliasS + ".action = 'insert'"
}

// wholeDelete deletes n copies of each row to delete, picked by physical position.
func (s *statements) wholeDelete() string {
	hash := encode.RowHash(aliasCur, s.cols, s.strict)
	return "DELETE FROM " + s.table.From() + " AS " + aliasT + " WHERE (" + aliasT + ".tableoid, " + aliasT + ".ctid) IN (" +
		"SELECT x.tableoid, x.ctid FROM (SELECT " + aliasCur + ".tableoid, " + aliasCur + ".ctid, " + hash + " AS h, " +
		"row_number() OVER (PARTITION BY " + hash + ") AS rn FROM " + s.table.From() + " AS " + aliasCur + ") AS x JOIN " +
		tempState + " AS " + aliasS + " ON " + aliasS + ".hash = x.h AND " + aliasS + ".action = 'delete' AND x.rn <= " + aliasS + ".n)"
}
