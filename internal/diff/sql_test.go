package diff

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sqlFixture is a comparison built by hand (no database), as catalog.Compare would return it.
type sqlFixture struct {
	name   string
	create string // DDL creating the same table, to check the SQL on a real server
	cmp    *catalog.Comparison
	strict bool
	where  string
}

func col(name, typ string, oid uint32, cat string) catalog.Column {
	return catalog.Column{Name: name, Type: typ, TypeOID: oid, BaseType: typ, BaseOID: oid, TypType: "b",
		Category: cat, Deterministic: true}
}

func comparison(schema, table, kind string, key []string, cols ...catalog.Column) *catalog.Comparison {
	t := &catalog.Table{Schema: schema, Name: table, Kind: kind, Columns: cols, Key: key, KeyKind: catalog.KeyPrimary}
	if len(key) == 0 {
		t.KeyKind = catalog.KeyNone
	}
	return &catalog.Comparison{Table: t, Columns: cols}
}

func sqlFixtures() []sqlFixture {
	return []sqlFixture{{
		name:   "int_key",
		create: `CREATE TABLE public.t (id int PRIMARY KEY, v text, n numeric, ts timestamptz, f float8, b bigint)`,
		cmp: comparison("public", "t", "r", []string{"id"},
			col("id", "integer", 23, "N"), col("v", "text", 25, "S"), col("n", "numeric", 1700, "N"),
			col("ts", "timestamp with time zone", 1184, "D"), col("f", "double precision", 701, "N"),
			col("b", "bigint", 20, "N")),
	}, {
		name: "composite_quoted_strict_where",
		create: `CREATE SCHEMA "Sales Data";
			CREATE TABLE "Sales Data"."Order Items" ("Order-ID" int, t text, "select" text, count bigint,
				"Quote""d" jsonb, m money, PRIMARY KEY (t, "Order-ID")) PARTITION BY LIST (t)`,
		cmp: comparison("Sales Data", "Order Items", "p", []string{"t", "Order-ID"},
			col("Order-ID", "integer", 23, "N"), col("t", "text", 25, "S"), col("select", "text", 25, "S"),
			col("count", "bigint", 20, "N"), col(`Quote"d`, "jsonb", 3802, "U"), col("m", "money", 790, "N")),
		strict: true,
		where:  `"select" <> 'x' AND count > 0`,
	}, {
		name:   "whole_row",
		create: `CREATE TABLE public.m (a int, "row" text, hash numeric)`,
		cmp: comparison("public", "m", "r", nil,
			col("a", "integer", 23, "N"), col("row", "text", 25, "S"), col("hash", "numeric", 1700, "N")),
		where: "a > 0",
	}}
}

// sqlCase is one generated statement of a fixture.
type sqlCase struct {
	label string
	sql   string
	args  []any
}

func sqlCases(f sqlFixture) []sqlCase {
	q := newQueries(f.cmp, f.strict, f.where)
	var out []sqlCase
	add := func(label, sql string, args ...any) { out = append(out, sqlCase{label, sql, args}) }
	out = append(out, sqlCase{"tableHash", q.tableHash(), nil}, sqlCase{"hashCounts", q.hashCounts(), nil},
		sqlCase{"rowsByHash", q.rowsByHash(), nil})
	if len(q.key) == 0 {
		return out
	}
	lo := make(Key, len(q.key))
	hi := make(Key, len(q.key))
	mid := make(Key, len(q.key))
	for i, k := range q.key {
		if k.Category == "N" {
			lo[i], mid[i], hi[i] = "10", "15", "20"
		} else {
			lo[i], mid[i], hi[i] = "a", "ab", "b"
		}
	}
	for _, r := range []struct {
		label string
		r     Range
	}{
		{"open", Range{Index: 0}},
		{"lo", Range{Index: 3, Lo: lo}},
		{"hi", Range{Index: 0, Hi: hi}},
		{"lo-hi", Range{Index: 1, Lo: lo, Hi: hi}},
	} {
		sql, args := q.rangeHash(r.r)
		add("rangeHash "+r.label, sql, args...)
		sql, args = q.rangeRows(r.r, false, nil)
		add("rangeRows "+r.label, sql, args...)
		sql, args = q.rangeRowsBySub(r.r)
		add("rangeRowsBySub "+r.label, sql, args...)
	}
	// two sub-ranges, split at the key between lo and hi
	split := Range{Index: 2, Lo: lo, Hi: hi, Subs: []Key{mid}}
	sql, args := q.rangeHash(split)
	add("rangeHash lo-hi with a sub-range", sql, args...)
	sql, args = q.rangeRowsBySub(split)
	add("rangeRowsBySub lo-hi with a sub-range", sql, args...)
	if q.bucketKey() {
		sql, args = q.rangeHashBuckets(split)
		add("rangeHashBuckets lo-hi with a sub-range", sql, args...)
	}
	add("fetchRows", q.fetchRows(false))
	add("sampleKeys", q.sampleKeys())
	add("everyNthKey", q.everyNthKey())
	return out
}

// TestSQLGolden compares the generated SQL with testdata/sql_<fixture>.golden (go test -update
// rewrites them).
func TestSQLGolden(t *testing.T) {
	for _, f := range sqlFixtures() {
		t.Run(f.name, func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "# strict=%v where=%q\n", f.strict, f.where)
			for _, c := range sqlCases(f) {
				fmt.Fprintf(&b, "\n-- %s\n%s\n", c.label, c.sql)
				if len(c.args) > 0 {
					fmt.Fprintf(&b, "-- args: %q\n", c.args)
				}
			}
			path := filepath.Join("testdata", "sql_"+f.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("generated SQL differs from %s (go test -update rewrites it):\n%s", path, lineDiff(string(want), b.String()))
			}
		})
	}
}

// lineDiff shows the first differing line of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n want %s\n got  %s", i+1, a, b)
		}
	}
	return ""
}

// TestSQLRunsOnPostgreSQL prepares every generated statement on a real server holding the
// fixtures' tables: the SQL parses, names resolve, and parameter types are inferred.
func TestSQLRunsOnPostgreSQL(t *testing.T) {
	db := sandbox.NewDB(t)
	conn := db.Connect(t, "n1")
	ctx := testContext(t)
	for _, f := range sqlFixtures() {
		if _, err := conn.Exec(ctx, f.create); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		for i, c := range sqlCases(f) {
			if _, err := conn.Prepare(ctx, fmt.Sprintf("%s_%d", f.name, i), c.sql); err != nil {
				t.Errorf("%s %s: %v\n%s", f.name, c.label, err, c.sql)
			}
		}
	}
}

func TestCompareKeys(t *testing.T) {
	num := col("n", "numeric", 1700, "N")
	i8 := col("i", "bigint", 20, "N")
	txt := col("t", "text", 25, "S")
	uid := col("u", "uuid", 2950, "U")
	cases := []struct {
		a, b Key
		cols []catalog.Column
		want int
	}{
		{Key{"9"}, Key{"10"}, []catalog.Column{i8}, -1},
		{Key{"-10"}, Key{"-9"}, []catalog.Column{i8}, -1},
		{Key{"9223372036854775807"}, Key{"9223372036854775806"}, []catalog.Column{i8}, 1},
		{Key{"9007199254740993"}, Key{"9007199254740992"}, []catalog.Column{i8}, 1}, // beyond float64
		{Key{"1.0"}, Key{"1.00"}, []catalog.Column{num}, 0},
		{Key{"12345678901234567890.123456789"}, Key{"12345678901234567890.123456788"}, []catalog.Column{num}, 1},
		{Key{"-0.5"}, Key{"0.25"}, []catalog.Column{num}, -1},
		{Key{"NaN"}, Key{"NaN"}, []catalog.Column{num}, 0},
		{Key{"10"}, Key{"9"}, []catalog.Column{txt}, -1}, // text compares bytes
		{Key{"B"}, Key{"a"}, []catalog.Column{txt}, -1},
		{Key{"ä"}, Key{"z"}, []catalog.Column{txt}, 1},
		{Key{"a", "10"}, Key{"a", "9"}, []catalog.Column{txt, i8}, 1},
		{Key{"a", "10"}, Key{"b", "1"}, []catalog.Column{txt, i8}, -1},
		{Key{"x", "5"}, Key{"x", "5"}, []catalog.Column{txt, i8}, 0},
		{Key{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, Key{"b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, []catalog.Column{uid}, -1},
	}
	for _, c := range cases {
		if got := compareKeys(c.a, c.b, c.cols); got != c.want {
			t.Errorf("compareKeys(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareKeys(c.b, c.a, c.cols); got != -c.want {
			t.Errorf("compareKeys(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
