package catalog

import (
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
)

func TestParseName(t *testing.T) {
	cases := []struct {
		in, schema, name string
	}{
		{"public.t", "public", "t"},
		{"T", "public", "t"},
		{"Sales.Orders", "sales", "orders"},
		{`public."MixedCase"`, "public", "MixedCase"},
		{`"My Schema"."T.x"`, "My Schema", "T.x"},
		{`"a""b".c`, `a"b`, "c"},
		{`s."select"`, "s", "select"},
	}
	for _, c := range cases {
		s, n, err := ParseName(c.in)
		if err != nil || s != c.schema || n != c.name {
			t.Errorf("ParseName(%q) = %q, %q, %v; want %q, %q", c.in, s, n, err, c.schema, c.name)
		}
	}
	for _, bad := range []string{"", "a.", ".b", "a.b.c", `"open`, `a."b"c`, "my table", "a;drop"} {
		if _, _, err := ParseName(bad); err == nil || !fault.IsInput(err) {
			t.Errorf("ParseName(%q) must be an input error, got %v", bad, err)
		}
	}
}

func TestCompareRequiresSameColumnsAndKey(t *testing.T) {
	col := func(name, typ string) Column { return Column{Name: name, Type: typ, NotNull: true} }
	a := &Table{Schema: "public", Name: "t", Key: []string{"id"}, KeyKind: KeyPrimary,
		Columns: []Column{col("id", "integer"), col("v", "text"), {Name: "g", Type: "integer", Generated: true}}}
	b := &Table{Schema: "public", Name: "t", Key: []string{"id"}, KeyKind: KeyPrimary,
		Columns: []Column{col("v", "text"), col("id", "integer"), {Name: "g", Type: "integer", Generated: true}}}
	cmp, err := Compare([]string{"n1", "n2"}, []*Table{a, b}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Columns) != 2 || cmp.Columns[0].Name != "id" || cmp.Columns[1].Name != "v" || len(cmp.Skipped) != 1 || cmp.Skipped[0].Name != "g" {
		t.Fatalf("columns %+v skipped %+v", cmp.Columns, cmp.Skipped)
	}
	c := &Table{Schema: "public", Name: "t", Key: []string{"id"}, KeyKind: KeyPrimary,
		Columns: []Column{col("id", "bigint"), col("v", "text"), col("extra", "text")}}
	_, err = Compare([]string{"n1", "n3"}, []*Table{a, c}, nil, nil)
	want := `"public"."t" differs between nodes: column "id" is integer on n1 but bigint on n3; column "g" is on n1 but not on n3; ` +
		`column "extra" is on n3 but not on n1; compare a common subset with --columns or --exclude-columns, or fix the schema (see schema-diff)`
	if err == nil || !fault.IsInput(err) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if _, err := Compare([]string{"n1", "n2"}, []*Table{a, b}, nil, []string{"id"}); err == nil {
		t.Fatal("excluding a key column must fail")
	}
}
