package schema

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// describe returns every structural difference as "kind object: property: values".
func describe(res *Result) []string {
	var out []string
	for _, d := range res.Structure {
		out = append(out, d.Kind+" "+d.Object+": "+d.Describe(res.Nodes))
	}
	return out
}

// Domains, composite types, privileges and comments are compared per node, each node's value
// shown.
func TestRunDomainsTypesPrivilegesComments(t *testing.T) {
	db := sandbox.NewDB(t)
	createRole(t, db, "app")
	db.Exec(t, `CREATE SCHEMA s;
		CREATE DOMAIN s.d AS int;
		CREATE TYPE s.c AS (a int, b text);
		CREATE TABLE s.t (id int PRIMARY KEY, v text);
		CREATE VIEW s.v AS SELECT id FROM s.t;
		CREATE FUNCTION s.f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';
		CREATE SEQUENCE s.q;`, "n1", "n2")
	db.Exec(t, `ALTER DOMAIN s.d ADD CONSTRAINT d_pos CHECK (VALUE > 0);
		GRANT SELECT ON s.t TO app;
		GRANT UPDATE (v) ON s.t TO app;
		GRANT SELECT ON s.v TO app;
		COMMENT ON COLUMN s.t.v IS 'the value';
		COMMENT ON SEQUENCE s.q IS 'ids';`, "n1")
	db.Exec(t, `ALTER DOMAIN s.d SET NOT NULL;
		ALTER DOMAIN s.d SET DEFAULT 7;
		ALTER TYPE s.c ALTER ATTRIBUTE b TYPE text COLLATE "C";
		GRANT SELECT ON s.v TO app WITH GRANT OPTION;
		COMMENT ON COLUMN s.t.v IS 'The value';
		COMMENT ON DOMAIN s.d IS 'positive';
		COMMENT ON TYPE s.c IS 'pair';
		COMMENT ON VIEW s.v IS 'ids';
		COMMENT ON FUNCTION s.f(int) IS 'adds one';`, "n2")
	pools := connect(t, db, 2, "n1", "n2")
	res, err := Run(testContext(t), pools, Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`domain d: comment: only on n2 ('positive'), not on n1`,
		`domain d: constraint d_pos: only on n1 (CHECK ((VALUE > 0))), not on n2`,
		`domain d: default: only on n2 (7), not on n1`,
		`domain d: not null: n1 = false; n2 = true`,
		`type c: attributes: n1 = a integer, b text; n2 = a integer, b text COLLATE pg_catalog."C"`,
		`type c: comment: only on n2 ('pair'), not on n1`,
		`table t: comment on column v: n1 = 'the value'; n2 = 'The value'`,
		`table t: privilege SELECT to app: only on n1 (granted), not on n2`,
		`table t: privilege UPDATE on column v to app: only on n1 (granted), not on n2`,
		`sequence q: comment: only on n1 ('ids'), not on n2`,
		`view v: comment: only on n2 ('ids'), not on n1`,
		`view v: privilege SELECT to app: n1 = granted; n2 = granted WITH GRANT OPTION`,
		`function f(a integer): comment: only on n2 ('adds one'), not on n1`,
	}
	if got := describe(res); !reflect.DeepEqual(got, want) {
		t.Errorf("structure:\n got %q\nwant %q", got, want)
	}
	if len(res.Failures) != 0 || res.Tables[0].Status != StatusDiffer {
		t.Errorf("failures %v, table %+v", res.Failures, res.Tables[0])
	}

	// The same objects on both nodes: nothing differs, the owner's default privileges included.
	db.Exec(t, `ALTER DOMAIN s.d DROP CONSTRAINT d_pos; REVOKE ALL ON s.t, s.v FROM app; REVOKE UPDATE (v) ON s.t FROM app;
		COMMENT ON COLUMN s.t.v IS NULL; COMMENT ON SEQUENCE s.q IS NULL`, "n1")
	db.Exec(t, `ALTER DOMAIN s.d DROP NOT NULL; ALTER DOMAIN s.d DROP DEFAULT; DROP TYPE s.c; CREATE TYPE s.c AS (a int, b text);
		REVOKE ALL ON s.v FROM app; COMMENT ON COLUMN s.t.v IS NULL; COMMENT ON DOMAIN s.d IS NULL;
		COMMENT ON VIEW s.v IS NULL; COMMENT ON FUNCTION s.f(int) IS NULL`, "n2")
	res, err = Run(testContext(t), pools, Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(res); len(got) != 0 || res.Differs() {
		t.Errorf("after aligning: %q", got)
	}
}

// A publication FOR TABLES IN SCHEMA and one FOR TABLE naming the same tables have the same
// members but are told apart, by schema-diff (compared among the nodes that have the
// publication) and by publication-diff.
func TestRunPublicationForTablesInSchema(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA s; CREATE TABLE s.a (id int PRIMARY KEY); CREATE TABLE s.b (id int PRIMARY KEY)`)
	db.Exec(t, `CREATE PUBLICATION p FOR TABLES IN SCHEMA s`, "n1")
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE s.a, s.b;
		CREATE PUBLICATION q FOR TABLE s.a (id) WHERE (id > 1)`, "n2")
	ctx := testContext(t)
	res, err := Run(ctx, connect(t, db, 2, "n1", "n2", "n3"), Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	// n3 has no publication: not a difference (a subscriber has none); nor is q, on n2 alone.
	want := []string{`publication p: publishes: n1 = FOR TABLES IN SCHEMA s; n2 = FOR TABLE a, b`}
	if got := describe(res); !reflect.DeepEqual(got, want) {
		t.Errorf("schema-diff structure:\n got %q\nwant %q", got, want)
	}
	// q as n2 publishes it, compared with itself once n1 has it differently.
	db.Exec(t, `CREATE PUBLICATION q FOR TABLE s.a (id)`, "n1")
	res, err = Run(ctx, connect(t, db, 2, "n1", "n2"), Options{Schema: "s", DDLOnly: true, Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		`publication p: publishes: n1 = FOR TABLES IN SCHEMA s; n2 = FOR TABLE a, b`,
		`publication q: publishes: n1 = FOR TABLE a (id); n2 = FOR TABLE a (id) WHERE (id > 1)`,
	}
	if got := describe(res); !reflect.DeepEqual(got, want) {
		t.Errorf("schema-diff structure:\n got %q\nwant %q", got, want)
	}

	// Before PostgreSQL 15 (no schemas, column lists or row filters) the query is another; it
	// runs on 15 too.
	rows, err := db.Connect(t, "n2").Query(ctx, publicationsPre15SQL+" ORDER BY 2", "s", []uint32{})
	if err != nil {
		t.Fatal(err)
	}
	pre15, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var kind, name, prop, value string
		err := r.Scan(&kind, &name, &prop, &value)
		return kind + " " + name + ": " + prop + ": " + value, err
	})
	if want := []string{"publication p: publishes: FOR TABLE a, b", "publication q: publishes: FOR TABLE a"}; err != nil || !reflect.DeepEqual(pre15, want) {
		t.Errorf("before 15: %q, %v; want %q", pre15, err, want)
	}

	pub, err := Publication(ctx, connect(t, db, 2, "n1", "n2"), PublicationOptions{Publication: "p", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var defs []string
	for _, d := range pub.Definition {
		defs = append(defs, d.Describe(pub.Nodes))
	}
	want = []string{
		"FOR TABLE: n1 = (none); n2 = s.a, s.b",
		"FOR TABLES IN SCHEMA: n1 = s; n2 = (none)",
	}
	if !reflect.DeepEqual(defs, want) {
		t.Errorf("publication-diff definition:\n got %q\nwant %q", defs, want)
	}
	var tables []string
	for _, tb := range pub.Tables {
		tables = append(tables, tb.Name+" "+tb.Status)
	}
	if want := []string{"s.a identical", "s.b identical"}; !reflect.DeepEqual(tables, want) {
		t.Errorf("publication-diff tables %q, want %q", tables, want)
	}
}
