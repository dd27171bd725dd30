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
	aliasN   = "pgparity_n" // rows to write (keyed: also the keys of rows to delete)
	aliasH   = "pgparity_h" // rows whose hash the diff did not record
	aliasS   = "pgparity_s" // whole-row mode: the state of each change after the guard
	aliasCur = "pgparity_c" // the current row (keyed), current copies per hash (whole-row)
)

// Temporary tables of one repair transaction (ON COMMIT DROP, in the session's own pg_temp),
// created once per node and emptied (TRUNCATE, in place: they were created in the transaction)
// between batches.
var (
	tempOps   = pgx.Identifier{"pg_temp", "pgparity_repair_ops"}.Sanitize()
	tempNew   = pgx.Identifier{"pg_temp", "pgparity_repair_new"}.Sanitize()
	tempHash  = pgx.Identifier{"pg_temp", "pgparity_repair_hash"}.Sanitize()
	tempState = pgx.Identifier{"pg_temp", "pgparity_repair_state"}.Sanitize()
)

// statements builds the SQL of one node's repair. Only catalog identifiers (quoted) and type
// names from format_type are spliced; values travel through COPY or bind parameters.
type statements struct {
	table  *catalog.Table
	cols   []catalog.Column // written columns, in diff order (key included)
	key    []catalog.Column // key columns in key order; empty in whole-row mode
	strict bool
	always []bool // per written column: GENERATED ALWAYS AS IDENTITY (no UPDATE may assign it)
	keyPos []int  // per written column, its position in the key, -1 for non-key columns
	ord    string // quoted name of the change number column of the temp tables
	kind   string // quoted name of the change kind column
	mask   string // quoted name of the column saying which columns an update sets
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
	keyPos := make([]int, len(cols))
	for i, c := range cols {
		keyPos[i] = -1
		for k, kc := range key {
			if kc.Name == c.Name {
				keyPos[i] = k
			}
		}
	}
	return &statements{table: t, cols: cols, key: key, strict: strict, keyPos: keyPos,
		ord: unique("pgparity_ord"), kind: unique("pgparity_kind"), mask: unique("pgparity_mask")}
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

// rowsTable creates a temp table of change number, kind, column mask and typed rows: the rows to
// write (tempNew) or the rows to hash (tempHash). The rows to write carry NULL in the columns an
// update does not set and a delete does not need, so their domain columns take the domain's base
// type (a NOT NULL domain would refuse them); the domain's constraints are checked when a value
// is written to the table. The rows to hash are whole rows, typed exactly as the table is.
func (s *statements) rowsTable(table string) string {
	cols := s.cols
	if table == tempNew {
		cols = make([]catalog.Column, len(s.cols))
		for i, c := range s.cols {
			if c.TypeOID != c.BaseOID && c.BaseType != "" {
				c.Type = c.BaseType
			}
			cols[i] = c
		}
	}
	return "CREATE TEMP TABLE " + table + " (" + s.ord + " int8 NOT NULL, " + s.kind + " text NOT NULL, " + s.mask + " varbit, " +
		colDefs(cols) + ") ON COMMIT DROP"
}

// copyRows fills a rowsTable.
func (s *statements) copyRows(table string) string {
	return "COPY " + table + " (" + s.ord + ", " + s.kind + ", " + s.mask + ", " + colList(s.cols) + ") FROM STDIN"
}

// Keyed mode.

// keyedOps creates the keyed change list: change number and key.
func (s *statements) keyedOps() string {
	return "CREATE TEMP TABLE " + tempOps + " (" + s.ord + " int8 NOT NULL, " + colDefs(s.key) + ") ON COMMIT DROP"
}

func (s *statements) copyKeyedOps() string {
	return "COPY " + tempOps + " (" + s.ord + ", " + colList(s.key) + ") FROM STDIN"
}

// hashes returns the hash of every row in tempHash (the expected and new rows whose hash the
// diff did not record), hashed exactly as the current rows are.
func (s *statements) hashes() string {
	return "SELECT " + aliasH + "." + s.ord + ", " + aliasH + "." + s.kind + ", " + encode.RowHash(aliasH, s.cols, s.strict) +
		" FROM " + tempHash + " AS " + aliasH
}

// current returns, for every change whose key the node holds, the change number and the row's
// columns as text (for the guard, the undo file and the columns an update sets), locking the row
// (lock) until the transaction ends: nothing changes it between this read and the writes. A key
// the node lacks returns nothing: FOR UPDATE cannot lock the nullable side of an outer join. The
// row is looked up per change in a LATERAL subquery that OFFSET 0 keeps from being flattened, so
// every change is one probe of the key index: without it the planner, which has no statistics
// on the temporary change list, prefers a merge join that reads the whole table in key order,
// twice as slow when the changes are a tenth of the table.
func (s *statements) current(lock bool) string {
	texts := make([]string, len(s.cols))
	for i, c := range s.cols {
		texts[i] = encode.TextExpr(aliasT, c)
	}
	sql := "SELECT " + aliasO + "." + s.ord + ", " + aliasCur + ".* FROM " + tempOps + " AS " + aliasO +
		" CROSS JOIN LATERAL (SELECT " + strings.Join(texts, ", ") +
		" FROM " + s.table.From() + " AS " + aliasT + " WHERE " + s.keyMatch(aliasT, aliasO)
	if lock {
		sql += " FOR UPDATE OF " + aliasT
	}
	return sql + " OFFSET 0) AS " + aliasCur
}

// currentHashes returns the row hash of the current rows of the changes numbered in $1 (int8[]):
// the rows whose text matched neither the expected nor the new row, already locked by current.
func (s *statements) currentHashes() string {
	return "SELECT " + aliasO + "." + s.ord + ", " + aliasCur + ".h FROM " + tempOps + " AS " + aliasO +
		" CROSS JOIN LATERAL (SELECT " + encode.RowHash(aliasT, s.cols, s.strict) + " AS h FROM " + s.table.From() + " AS " + aliasT +
		" WHERE " + s.keyMatch(aliasT, aliasO) + " OFFSET 0) AS " + aliasCur + " WHERE " + aliasO + "." + s.ord + " = ANY($1::int8[])"
}

// copyInto copies rows to insert straight into the table (a partitioned table routes them).
func (s *statements) copyInto() string {
	return "COPY " + s.table.Ident() + " (" + colList(s.cols) + ") FROM STDIN"
}

// update and remove write the updates and deletes that passed the guard (the rows of tempNew),
// one statement per kind.

// update sets the non-key columns whose bit in the row's mask is 1 (the columns whose text
// differs from the new row's; the others keep their value, which is the new one already). Only
// columns some row sets (used[i]) are named: a GENERATED ALWAYS identity column may not be
// assigned at all, not even its own value. When no non-key column is set, every one is named
// (as its own value); it returns "" when every column is part of the key (such rows can only be
// missing or extra, never different).
func (s *statements) update(used []bool) string {
	some := false
	for i, c := range s.cols {
		some = some || (used[i] && !s.isKey(c.Name))
	}
	var sets []string
	for i, c := range s.cols {
		if !s.isKey(c.Name) && (used[i] || !some) && !(i < len(s.always) && s.always[i]) {
			sets = append(sets, fmt.Sprintf("%s = CASE WHEN pg_catalog.get_bit(%s.%s, %d) = 1 THEN %s ELSE %s END",
				ident(c.Name), aliasN, s.mask, i, encode.ColumnRef(aliasN, c.Name), encode.ColumnRef(aliasT, c.Name)))
		}
	}
	if len(sets) == 0 {
		return ""
	}
	return "UPDATE " + s.table.From() + " AS " + aliasT + " SET " + strings.Join(sets, ", ") +
		" FROM " + tempNew + " AS " + aliasN + " WHERE " + aliasN + "." + s.kind + " = 'update' AND " + s.keyMatch(aliasT, aliasN)
}

func (s *statements) remove() string {
	return "DELETE FROM " + s.table.From() + " AS " + aliasT + " USING " + tempNew + " AS " + aliasN +
		" WHERE " + aliasN + "." + s.kind + " = 'delete' AND " + s.keyMatch(aliasT, aliasN)
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

// wholeOps creates the whole-row change list: change number, kind, row hash, copies and the
// copies the node held at diff time.
func (s *statements) wholeOps() string {
	return "CREATE TEMP TABLE " + tempOps + " (" + s.ord + " int8 PRIMARY KEY, " + s.kind + " text NOT NULL, " +
		"pgparity_hash int8 NOT NULL, pgparity_copies int8 NOT NULL, pgparity_expect int8 NOT NULL) ON COMMIT DROP"
}

func (s *statements) copyWholeOps() string {
	return "COPY " + tempOps + " (" + s.ord + ", " + s.kind + ", pgparity_hash, pgparity_copies, pgparity_expect) FROM STDIN"
}

func (s *statements) lockTable() string {
	return "LOCK TABLE " + s.table.From() + " IN EXCLUSIVE MODE"
}

// wholeState counts the current copies of every row hash in the change list and decides: the
// node must end with target = expect + copies (insert) or expect - copies (delete) copies; with
// the guard on, a count that is no longer the one the diff saw is stale. Without it a change
// still never turns around: copies to insert are never deleted (--insert-only promises no
// deletes) and copies to delete never inserted; such a count is stale too.
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
		" WHEN x.kind = 'insert' AND x.target > x.cur THEN 'insert'" +
		" WHEN x.kind = 'delete' AND x.target < x.cur THEN 'delete' ELSE 'stale' END AS action FROM (" + inner + ") AS x"
}

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
