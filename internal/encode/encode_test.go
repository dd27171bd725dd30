package encode

import (
	"encoding/json"
	"testing"

	"github.com/pgparity/pgparity/internal/catalog"
)

func col(name, typ string, oid uint32) catalog.Column {
	return catalog.Column{Name: name, Type: typ, TypeOID: oid, BaseType: typ, BaseOID: oid}
}

// TestHashElement pins how each kind of type enters the row hash: the equality rule of
// docs/diff-format.md. Changing a line here changes which rows compare equal.
func TestHashElement(t *testing.T) {
	domain := catalog.Column{Name: "d", Type: "public.posint", TypeOID: 16500, BaseType: "integer", BaseOID: oidInt4}
	cases := []struct {
		c      catalog.Column
		strict bool
		want   string
	}{
		{col("i", "integer", oidInt4), false, `"a"."i"`},
		{col("b", "bigint", oidInt8), false, `pg_catalog.int8send("a"."b")`},
		{col("t", "text", oidText), false, `("a"."t" COLLATE "C")`},
		{col("n", "numeric", oidNumeric), false, `(pg_catalog.trim_scale("a"."n")::text COLLATE "C")`},
		{col("n", "numeric", oidNumeric), true, `("a"."n"::text COLLATE "C")`},
		{col("m", "money", oidMoney), false, `("a"."m"::numeric::text COLLATE "C")`},
		{col("f", "double precision", oidFloat8), false, `pg_catalog.float8send(CASE WHEN "a"."f" = 'NaN'::float8 THEN 'NaN'::float8 ELSE "a"."f" END)`},
		{col("r", "real", oidFloat4), false, `pg_catalog.float4send(CASE WHEN "a"."r" = 'NaN'::float4 THEN 'NaN'::float4 ELSE "a"."r" END)`},
		{col("iv", "interval", oidInterval), false, `pg_catalog.interval_send("a"."iv")`},
		{col("ts", "timestamp with time zone", oidTimestamptz), false, `pg_catalog.timestamptz_send("a"."ts")`},
		{col("j", "jsonb", 3802), false, `("a"."j"::text COLLATE "C")`},
		{col("e", "public.mood", 16400), false, `("a"."e"::text COLLATE "C")`},
		{domain, false, `"a"."d"::integer`},
		{col(`Odd "name"`, "uuid", oidUUID), false, `"a"."Odd ""name"""`},
	}
	for _, c := range cases {
		if got := hashElement("a", c.c, c.strict); got != c.want {
			t.Errorf("%s (%s, strict=%v):\n got %s\nwant %s", c.c.Name, c.c.Type, c.strict, got, c.want)
		}
	}
	// Columns enter in name order whatever their order on disk.
	ab := RowHash("a", []catalog.Column{col("b", "integer", oidInt4), col("a", "integer", oidInt4)}, false)
	if ab != `pg_catalog.hash_record_extended(ROW("a"."a", "a"."b"), 0)` {
		t.Errorf("RowHash order: %s", ab)
	}
}

func TestJSONValueRoundTrip(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		c    catalog.Column
		text *string
		want any
	}{
		{col("b", "bigint", oidInt8), s("9007199254740993"), json.Number("9007199254740993")},
		{col("ok", "boolean", oidBool), s("false"), false},
		{col("n", "numeric", oidNumeric), s("1.50"), "1.50"},
		{col("t", "text", oidText), s(""), ""},
		{col("t", "text", oidText), nil, nil},
	}
	for _, c := range cases {
		got := JSONValue(c.c, c.text)
		if got != c.want {
			t.Errorf("JSONValue(%s, %v) = %#v, want %#v", c.c.Type, c.text, got, c.want)
		}
		back, ok := Text(got)
		if (c.text == nil) != !ok || (c.text != nil && back != *c.text) {
			t.Errorf("Text(%#v) = %q, %v; want the original text back", got, back, ok)
		}
	}
}
