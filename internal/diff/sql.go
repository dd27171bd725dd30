package diff

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
)

// alias is the table alias of generated SQL. Every column reference is qualified with it, so
// user column names (t, row, key, hash, count ...) can never capture a reference.
const alias = "pgparity_t"

// keyAlias names the unnest() of key lists joined in fetch queries.
const keyAlias = "pgparity_k"

// queries builds the SQL of one comparison. Only catalog-derived identifiers (quoted) and the
// validated --where expression are spliced; every value is a bind parameter.
type queries struct {
	from    string           // FROM target with alias
	key     []catalog.Column // key columns in key order
	cols    []catalog.Column // compared columns in canonical order
	hash    string           // row hash expression
	where   string           // validated user filter, "" for none
	orderBy string           // key columns, for sampling
	until   bool             // rows carry a "committed after --until" flag (the last parameter)
}

func newQueries(cmp *catalog.Comparison, strict bool, where string) *queries {
	q := &queries{
		from:  cmp.Table.From() + " AS " + alias,
		key:   cmp.KeyColumns(),
		cols:  cmp.Columns,
		hash:  encode.RowHash(alias, cmp.Columns, strict),
		where: where,
	}
	refs := make([]string, len(q.key))
	for i, k := range q.key {
		refs[i] = encode.ColumnRef(alias, k.Name)
		if cmp.KeyBytewise && k.Collation != "" {
			refs[i] = "(" + refs[i] + ` COLLATE "C")`
		}
	}
	q.orderBy = strings.Join(refs, ", ")
	return q
}

// keyTuple is "(k1, k2)" for row-value comparisons.
func (q *queries) keyTuple() string { return "(" + q.orderBy + ")" }

// keyTexts is "k1::text, k2::text": one text per key value, equal for equal keys.
func (q *queries) keyTexts() string {
	parts := make([]string, len(q.key))
	for i, k := range q.key {
		parts[i] = encode.KeyTextExpr(alias, k)
	}
	return strings.Join(parts, ", ")
}

// bound returns "(CAST($n::text AS t1), ...)" for a key bound starting at parameter n.
func (q *queries) bound(n int) string {
	parts := make([]string, len(q.key))
	for i, k := range q.key {
		parts[i] = encode.FromText(fmt.Sprintf("$%d", n+i), k)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// rangeFilter returns the WHERE clause selecting rows of r (half-open [lo, hi), open ends) and
// the user filter, with its arguments.
func (q *queries) rangeFilter(r Range) (string, []any) {
	var conds []string
	var args []any
	if r.Lo != nil {
		conds = append(conds, q.keyTuple()+" >= "+q.bound(len(args)+1))
		args = append(args, toArgs(r.Lo)...)
	}
	if r.Hi != nil {
		conds = append(conds, q.keyTuple()+" < "+q.bound(len(args)+1))
		args = append(args, toArgs(r.Hi)...)
	}
	if q.where != "" {
		conds = append(conds, "("+q.where+")")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func toArgs(k Key) []any {
	out := make([]any, len(k))
	for i, v := range k {
		out[i] = v
	}
	return out
}

// rangeHash counts and sums the mixed row hashes of one range, per sub-range: rows of
// (sub-range, count, sum). The sum is exact (numeric), order independent, cannot cancel like XOR,
// and sums encode.Mix of each row hash: a plain sum would miss values exchanged between rows.
func (q *queries) rangeHash(r Range) (string, []any) {
	w, args := q.rangeFilter(r)
	bucket := "0"
	if len(r.Subs) > 0 {
		bucket, args = q.bucket(r.Subs, 0, len(r.Subs), args)
	}
	// OFFSET 0 keeps the subquery: the hash is computed below the aggregation, so grouping sorts
	// (sub-range, hash) pairs instead of whole rows.
	return "SELECT s.b, count(*), coalesce(sum(" + encode.Mix("s.h") + "), 0)::text FROM (SELECT " + bucket + " AS b, " + q.hash +
		" AS h FROM " + q.from + w + " OFFSET 0) AS s GROUP BY s.b", args
}

// bucketKey reports whether rangeHashBuckets may be used: one key column, Bucketable.
func (q *queries) bucketKey() bool { return len(q.key) == 1 && encode.Bucketable(q.key[0]) }

// rangeHashBuckets is rangeHash with the sub-range numbered by width_bucket over the boundaries
// passed as one array: the number of boundaries at or below the key, as bucket's binary search
// numbers it, but without a parameter per boundary, so a range may have thousands of
// sub-ranges. Only when bucketKey.
func (q *queries) rangeHashBuckets(r Range) (string, []any) {
	w, args := q.rangeFilter(r)
	bucket := "0"
	if len(r.Subs) > 0 {
		subs := make([]string, len(r.Subs))
		for i, k := range r.Subs {
			subs[i] = k[0]
		}
		args = append(args, subs)
		bucket = "pg_catalog.width_bucket(" + encode.ColumnRef(alias, q.key[0].Name) + ", " +
			encode.FromTextArray(fmt.Sprintf("$%d", len(args)), q.key[0]) + ")"
	}
	return "SELECT s.b, count(*), coalesce(sum(" + encode.Mix("s.h") + "), 0)::text FROM (SELECT " + bucket + " AS b, " + q.hash +
		" AS h FROM " + q.from + w + " OFFSET 0) AS s GROUP BY s.b", args
}

// bucket returns a CASE expression numbering the sub-range (lo..hi) a row's key falls in, by
// binary search over the boundaries subs[lo:hi], with the same row-value comparisons as the range
// filters (so a key lands in the same sub-range everywhere).
func (q *queries) bucket(subs []Key, lo, hi int, args []any) (string, []any) {
	if lo == hi {
		return strconv.Itoa(lo), args
	}
	mid := (lo + hi) / 2
	cond := q.keyTuple() + " < " + q.bound(len(args)+1)
	args = append(args, toArgs(subs[mid])...)
	left, args := q.bucket(subs, lo, mid, args)
	right, args := q.bucket(subs, mid+1, hi, args)
	return "CASE WHEN " + cond + " THEN " + left + " ELSE " + right + " END", args
}

// rangeRows streams (key texts..., row hash) of one range, or (key texts..., column texts...,
// row hash) when whole; with --until, then a flag "committed after it" (until is its value).
func (q *queries) rangeRows(r Range, whole bool, until any) (string, []any) {
	w, args := q.rangeFilter(r)
	cols := ""
	if whole {
		cols = ", " + q.colTexts()
	}
	recent := ""
	if q.until {
		args = append(args, until)
		recent = ", " + q.recent(len(args))
	}
	return "SELECT " + q.keyTexts() + cols + ", " + q.hash + recent + " FROM " + q.from + w, args
}

// rangeRowsBySub streams (key texts..., row hash, sub-range) of one range: the sub-range by the
// same bucketing as rangeHash, so a row counts in the same sub-range either way.
func (q *queries) rangeRowsBySub(r Range) (string, []any) {
	w, args := q.rangeFilter(r)
	bucket := "0"
	if len(r.Subs) > 0 {
		bucket, args = q.bucket(r.Subs, 0, len(r.Subs), args)
	}
	return "SELECT " + q.keyTexts() + ", " + q.hash + ", " + bucket + " FROM " + q.from + w, args
}

// recent is true for a row whose last writing transaction committed after the --until time
// (parameter n). A row without a known commit time (committed before track_commit_timestamp
// was on, or frozen) is old enough.
func (q *queries) recent(n int) string { return q.recentOf(alias+".xmin", n) }

func (q *queries) recentOf(xmin string, n int) string {
	return fmt.Sprintf("coalesce(pg_catalog.pg_xact_commit_timestamp(%s) > $%d::timestamptz, false)", xmin, n)
}

// colTexts is every compared column as text, in q.cols order.
func (q *queries) colTexts() string {
	cols := make([]string, len(q.cols))
	for i, c := range q.cols {
		cols[i] = encode.TextExpr(alias, c)
	}
	return strings.Join(cols, ", ")
}

// fetchRows reads every compared column as text plus the row hash for a list of keys, given as
// one text[] parameter per key column.
func (q *queries) fetchRows(hashOnly bool) string {
	unnest := make([]string, len(q.key))
	names := make([]string, len(q.key))
	on := make([]string, len(q.key))
	for i, k := range q.key {
		unnest[i] = encode.FromTextArray(fmt.Sprintf("$%d", i+1), k)
		names[i] = fmt.Sprintf("k%d", i+1)
		on[i] = encode.ColumnRef(keyAlias, names[i])
	}
	from := q.from
	xmin := alias + ".xmin"
	if q.where != "" {
		// The filter sees the table alone, as validateWhere checked it: beside the unnest, its
		// column names could clash with k1.., ord ("column reference is ambiguous").
		extra := ""
		if q.until {
			extra, xmin = ", xmin AS pgparity_xmin", alias+".pgparity_xmin"
		}
		from = "(SELECT *" + extra + " FROM " + q.from + " WHERE (" + q.where + ")) AS " + alias
	}
	recent := ""
	if q.until {
		recent = ", " + q.recentOf(xmin, len(q.key)+1)
	}
	cols := q.colTexts() + ", "
	if hashOnly {
		cols = ""
	}
	return "SELECT " + keyAlias + ".ord, " + cols + q.hash + recent +
		" FROM " + from + " JOIN unnest(" + strings.Join(unnest, ", ") + ") WITH ORDINALITY AS " +
		keyAlias + "(" + strings.Join(names, ", ") + ", ord) ON " + q.keyTuple() + " = (" + strings.Join(on, ", ") + ")"
}

// sampleKeys reads the keys of a sample of pages (TABLESAMPLE SYSTEM, percent as $1), sorted.
func (q *queries) sampleKeys() string {
	w := ""
	if q.where != "" {
		w = " WHERE (" + q.where + ")"
	}
	return "SELECT " + q.keyTexts() + " FROM " + q.from + " TABLESAMPLE SYSTEM ($1::float8)" + w + " ORDER BY " + q.orderBy
}

// everyNthKey reads every $1-th key in key order: exact boundaries for small tables.
func (q *queries) everyNthKey() string {
	w := ""
	if q.where != "" {
		w = " WHERE (" + q.where + ")"
	}
	inner := make([]string, len(q.key))
	outer := make([]string, len(q.key))
	for i, k := range q.key {
		inner[i] = encode.KeyTextExpr(alias, k) + fmt.Sprintf(" AS k%d", i+1)
		outer[i] = fmt.Sprintf("s.k%d", i+1)
	}
	return "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(inner, ", ") +
		", row_number() OVER (ORDER BY " + q.orderBy + ") AS rn FROM " + q.from + w + ") AS s WHERE s.rn % $1 = 0 ORDER BY s.rn"
}

// tableHash is the whole-table count and sum of mixed row hashes (multiset mode, first pass).
// OFFSET 0 keeps the subquery, so the row hash is computed once per row although Mix reads it
// twice.
func (q *queries) tableHash() string {
	w := ""
	if q.where != "" {
		w = " WHERE (" + q.where + ")"
	}
	return "SELECT count(*), coalesce(sum(" + encode.Mix("s.h") + "), 0)::text FROM (SELECT " + q.hash +
		" AS h FROM " + q.from + w + " OFFSET 0) AS s"
}

// hashCounts streams (row hash, copies) in hash order (multiset mode, drill-down).
func (q *queries) hashCounts() string {
	w := ""
	if q.where != "" {
		w = " WHERE (" + q.where + ")"
	}
	return "SELECT h, count(*) FROM (SELECT " + q.hash + " AS h FROM " + q.from + w + ") AS s GROUP BY h ORDER BY h"
}

// rowsByHash reads one copy of each row whose hash is in $1 (multiset mode).
func (q *queries) rowsByHash() string {
	w := ""
	if q.where != "" {
		w = " AND (" + q.where + ")"
	}
	return "SELECT DISTINCT ON (1) " + q.hash + ", " + q.colTexts() + " FROM " + q.from +
		" WHERE " + q.hash + " = ANY($1::int8[])" + w + " ORDER BY 1"
}
