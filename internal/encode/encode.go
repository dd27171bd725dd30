// Package encode owns the canonical row encoding: the SQL expression of the row hash used by
// every comparison (range checksums, drill-down, whole-row multisets), the SQL that renders values
// as text, and the Go conversion of those texts to lossless JSON values.
package encode

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
)

// Built-in type OIDs (stable across PostgreSQL versions).
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidMacaddr8    = 774
	oidMacaddr     = 829
	oidCidr        = 650
	oidInet        = 869
	oidMoney       = 790
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidFloat4      = 700
	oidFloat8      = 701
	oidNumeric     = 1700
	oidUUID        = 2950
)

// typedHash lists base types whose own hash function implements exactly the equality pgparity
// compares with, is the same on every node, and never hashes a non-NULL value to the 0 that
// hash_record_extended uses for NULL. Everything else is hashed through its canonical text.
var typedHash = map[uint32]bool{
	oidBool: true, oidBytea: true, oidChar: true, oidName: true, oidInt2: true,
	oidInt4: true, oidText: true, oidOID: true, oidMacaddr8: true, oidMacaddr: true, oidCidr: true,
	oidInet: true, oidBpchar: true, oidVarchar: true, oidDate: true, oidUUID: true,
}

// sendHash lists types hashed through their binary send form (a bytea). For 64-bit types the own
// hash (hashint8extended, and the time and timestamp hashes built on it) folds the value into 32
// bits first, so that 1 and 4294967296 hash equal. interval's own hash makes '1 day' equal
// '24 hours'; its binary form keeps months, days and microseconds apart exactly as its text does,
// at half the cost of the text.
var sendHash = map[uint32]string{
	oidInt8: "int8send", oidTime: "time_send", oidTimestamp: "timestamp_send", oidTimestamptz: "timestamptz_send",
	oidInterval: "interval_send",
}

var collatable = map[uint32]bool{oidText: true, oidVarchar: true, oidBpchar: true, oidName: true}

// Seed is the seed of every row hash.
const Seed = 0

// RowHashVersion numbers the rule of row hashes and of the checksums built from them; it is
// recorded in diff files (and will be in persistent trees, which must not be compared across
// versions). Version 1 summed raw row hashes into range checksums; version 2 sums Mix of each row
// hash (see ChecksumRule). The per-row hash (RowHashRule) is the same in both, so a row hash
// recorded under version 1 is still valid for a repair's stale guard.
const RowHashVersion = 2

// ChecksumRule documents how row hashes combine into range and table checksums; it is recorded in
// every diff file next to RowHashRule.
const ChecksumRule = "count(*) and the exact numeric sum of hashint8extended(h, h) over the row hashes h"

// Mix returns the SQL expression (bigint) that a row hash contributes to a checksum sum. h must be
// a column reference or a parameter, never the row hash expression itself: it is evaluated twice.
//
// hash_record_extended combines column hashes linearly (result*31 + column hash, modulo 2^64), so
// the plain sum of row hashes over a range is a fixed linear combination of per-column sums of
// value hashes: values of one column permuted among rows, or keys exchanged between rows, leave it
// unchanged. hashint8extended(h, h) is not linear in h: its seed takes all 64 bits of h through
// lookup3's mix() before the folded 32-bit value is added and final() runs, and its result keeps
// 64 bits. A row's contribution thus depends on all of its columns together.
func Mix(h string) string {
	return "pg_catalog.hashint8extended(" + h + ", " + h + ")"
}

// RowHashRule documents the row hash's equality rule; it is recorded in every diff file.
const RowHashRule = "hash_record_extended(ROW(columns in name order), 0): smallint, integer, oid, " +
	"bool, bytea, text types (byte-wise, COLLATE \"C\"), date, uuid, inet/cidr, macaddr by their own " +
	"hash; bigint, time, timestamp[tz], interval, real/double (every NaN equal) by their binary form; " +
	"numeric by value (trim_scale text: 1.0 = 1.00) unless strict; money as numeric text; every other " +
	"type (json/jsonb, arrays, enums, composites, ranges, ...) by its text output under pinned session " +
	"settings"

// RowHash returns the SQL expression (type bigint) hashing the columns of one row of the table
// aliased as alias. Columns enter the hash in name order, so column order on disk never matters.
func RowHash(alias string, cols []catalog.Column, strict bool) string {
	sorted := append([]catalog.Column(nil), cols...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	parts := make([]string, len(sorted))
	for i, c := range sorted {
		parts[i] = hashElement(alias, c, strict)
	}
	return "pg_catalog.hash_record_extended(ROW(" + strings.Join(parts, ", ") + "), 0)"
}

// hashElement is one column's contribution to the ROW being hashed.
func hashElement(alias string, c catalog.Column, strict bool) string {
	ref := ColumnRef(alias, c.Name)
	isDomain := c.BaseOID != c.TypeOID
	switch {
	case c.BaseOID == oidNumeric && !strict:
		// numeric's own hash ignores the sign (5 = -5) and hashes NaN and ±Infinity as 0, like
		// NULL; the text of trim_scale is exact and equal for 1.0 and 1.00.
		return "(pg_catalog.trim_scale(" + castIfDomain(ref, "numeric", isDomain) + `)::text COLLATE "C")`
	case c.BaseOID == oidMoney:
		// money's text depends on lc_monetary; its numeric value (always scale 2) does not.
		return "(" + ref + `::numeric::text COLLATE "C")`
	case c.BaseOID == oidFloat4 || c.BaseOID == oidFloat8:
		// The exact bits (-0 differs from 0, as in the shortest-exact text), except that every
		// NaN is one value, as PostgreSQL's float comparison has it.
		typ, send := "float8", "float8send"
		if c.BaseOID == oidFloat4 {
			typ, send = "float4", "float4send"
		}
		v := castIfDomain(ref, typ, isDomain)
		return "pg_catalog." + send + "(CASE WHEN " + v + " = 'NaN'::" + typ + " THEN 'NaN'::" + typ + " ELSE " + v + " END)"
	case sendHash[c.BaseOID] != "":
		return "pg_catalog." + sendHash[c.BaseOID] + "(" + castIfDomain(ref, c.BaseType, isDomain) + ")"
	case typedHash[c.BaseOID] && collatable[c.BaseOID]:
		return "(" + castIfDomain(ref, c.BaseType, isDomain) + ` COLLATE "C")`
	case typedHash[c.BaseOID]:
		return castIfDomain(ref, c.BaseType, isDomain)
	default:
		return "(" + ref + `::text COLLATE "C")`
	}
}

func castIfDomain(ref, base string, isDomain bool) string {
	if !isDomain {
		return ref
	}
	return ref + "::" + base
}

// ColumnRef returns alias.column, both quoted.
func ColumnRef(alias, column string) string {
	return pgx.Identifier{alias}.Sanitize() + "." + pgx.Identifier{column}.Sanitize()
}

// TextExpr returns the SQL rendering a column as the text stored in diff files. money is
// rendered under the pinned lc_monetary=C, so its text is the same on every node.
func TextExpr(alias string, c catalog.Column) string {
	return ColumnRef(alias, c.Name) + "::text"
}

// KeyTextExpr renders a key column as text that is equal exactly when the keys are equal:
// numeric keys drop trailing zeros (2.0 and 2.00 are one key), other types use TextExpr.
func KeyTextExpr(alias string, c catalog.Column) string {
	if c.BaseOID == oidNumeric {
		return "pg_catalog.trim_scale(" + ColumnRef(alias, c.Name) + "::numeric)::text"
	}
	return TextExpr(alias, c)
}

// FromText returns the SQL turning a text parameter back into a value of c's type
// (lossless: it is PostgreSQL's own input function under the same session settings).
func FromText(param string, c catalog.Column) string {
	return "CAST(" + param + "::text AS " + c.Type + ")"
}

// Bucketable reports whether a key column's values can be placed among ascending boundaries by
// width_bucket(value, boundaries): a type without collation whose default btree operators, which
// both width_bucket and the range filters' comparisons use, are its only ordering (integers,
// numeric, date, timestamps, uuid).
func Bucketable(c catalog.Column) bool {
	if c.Collation != "" {
		return false
	}
	switch c.BaseOID {
	case oidInt2, oidInt4, oidInt8, oidNumeric, oidDate, oidTimestamp, oidTimestamptz, oidUUID:
		return true
	}
	return false
}

// FromTextArray is FromText for a text[] parameter holding many values.
func FromTextArray(param string, c catalog.Column) string {
	return "CAST(" + param + "::text[] AS " + c.Type + "[])"
}

// JSONValue converts a column's text (nil = NULL) into the diff file's JSON value: integers as
// exact JSON numbers, booleans as true/false, everything else as PostgreSQL's text.
func JSONValue(c catalog.Column, text *string) any {
	if text == nil {
		return nil
	}
	switch c.BaseOID {
	case oidInt2, oidInt4, oidInt8, oidOID:
		return json.Number(*text)
	case oidBool:
		return *text == "true"
	}
	return *text
}

// Text converts a diff file's JSON value back into the text PostgreSQL reads; ok is false for
// NULL.
func Text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case json.Number:
		return x.String(), true
	case string:
		return x, true
	}
	return "", false
}
