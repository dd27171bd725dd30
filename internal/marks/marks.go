// Package marks names the change marks of a tracked table on a node: one UNLOGGED table per
// tree, pgparity."marks_<relid>", holding the changed keys (text[]; NULL = the whole table) and
// the top-level transaction that wrote each mark. It has no index and holds only its tree's
// marks: a writer's mark is one heap insert into a table that the writers of other tracked
// tables do not touch (one table shared by every tree, indexed on the tree, cost two pgbench
// clients about 7 % of their tracked throughput), and a re-check reads the table whole.
package marks

import (
	"strconv"

	"github.com/jackc/pgx/v5"
)

// prefix starts the name of every marks table (the tree's relid follows).
const prefix = "marks_"

// Table is the marks table of the tree of relid, quoted.
func Table(relid uint32) string {
	return pgx.Identifier{"pgparity", Name(relid)}.Sanitize()
}

// Name is the unqualified name of the marks table of relid.
func Name(relid uint32) string {
	return prefix + strconv.FormatUint(uint64(relid), 10)
}

// Create returns the statements creating the marks table of relid when missing. Every writer may
// add marks (key only: the transaction id is always the writer's own top-level one, which
// pg_visible_in_snapshot needs; a row's xmin may be a subtransaction's).
func Create(relid uint32) []string {
	return []string{
		"CREATE UNLOGGED TABLE IF NOT EXISTS " + Table(relid) + " (k text[], xid xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id())",
		"GRANT INSERT (k) ON " + Table(relid) + " TO PUBLIC",
	}
}

// Drop is the statement dropping the marks table of relid, if present.
func Drop(relid uint32) string {
	return "DROP TABLE IF EXISTS " + Table(relid)
}

// Exists is the SQL expression (over an oid expression relid) telling whether the marks table
// of relid exists.
func Exists(relid string) string {
	return "pg_catalog.to_regclass('pgparity." + prefix + "' || (" + relid + ")::text) IS NOT NULL"
}
