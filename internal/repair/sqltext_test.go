package repair

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestLiteralSQL(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		v    *string
		typ  string
		want string
	}{
		{s("O'Brien"), "text", `'O''Brien'::text`},
		{nil, "integer", `NULL::integer`},
		{s(`\x0102`), "bytea", `'\x0102'::bytea`},
		{s(`a\'b`), "character varying(5)", `'a\''b'::character varying(5)`},
		{s(""), `"My Type"`, `''::"My Type"`},
	} {
		if got := literal(c.v, c.typ); got != c.want {
			t.Errorf("literal(%v, %s) = %s, want %s", c.v, c.typ, got, c.want)
		}
	}
}

// TestDryRunSQLRunsToConvergence prints the plan as SQL, checks that printing changed nothing,
// runs each node's block on its node and checks that the nodes then agree with the source.
func TestDryRunSQLRunsToConvergence(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE "Odd ""T""" (id int, k text, v text, n numeric(12,3), b bytea, ts timestamptz, i integer,
			PRIMARY KEY (id, k));
		INSERT INTO "Odd ""T""" SELECT g, 'k' || g, 'v' || g, g * 1.5, '\x0102'::bytea, '2024-01-02 03:04:05.123456+00', g
			FROM generate_series(1, 6) g;
		UPDATE "Odd ""T""" SET v = 'O''Brien \ back', n = 12345.678, b = '\x00ff27'::bytea, ts = '1999-12-31 23:59:59.5+05', i = NULL
			WHERE id = 2`)
	// n2: row 2 differs in every column, row 3 is missing, row 7 is extra; n3: row 4 has NULLs.
	db.Exec(t, `UPDATE "Odd ""T""" SET v = 'old', n = 1, b = NULL, ts = now(), i = 7 WHERE id = 2;
		DELETE FROM "Odd ""T""" WHERE id = 3; INSERT INTO "Odd ""T""" VALUES (7, 'k7', 'extra', 0, NULL, NULL, NULL)`, "n2")
	db.Exec(t, `UPDATE "Odd ""T""" SET v = NULL, ts = NULL WHERE id = 4`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", `Odd "T"`)
	ident := `public."Odd ""T"""`
	before := map[string][]string{}
	for _, n := range all {
		before[n] = table(t, db, n, ident, "id")
	}

	var out bytes.Buffer
	if err := WriteSQL(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, 2, &out); err != nil {
		t.Fatalf("write SQL: %v", err)
	}
	text := out.String()
	for _, n := range all {
		wantRows(t, "unchanged "+n, table(t, db, n, ident, "id"), before[n])
	}
	for _, want := range []string{
		"-- node n2\nBEGIN;\n",
		`UPDATE "public"."Odd ""T""" SET "v" = 'O''Brien \ back'::text, "n" = '12345.678'::numeric(12,3), "b" = '\x00ff27'::bytea, ` +
			`"ts" = '1999-12-31 18:59:59.5+00'::timestamp with time zone, "i" = NULL::integer WHERE ("id", "k") = ('2'::integer, 'k2'::text);`,
		`INSERT INTO "public"."Odd ""T""" ("id", "k", "v", "n", "b", "ts", "i") OVERRIDING SYSTEM VALUE VALUES ('3'::integer, 'k3'::text, ` +
			`'v3'::text, '4.500'::numeric(12,3), '\x0102'::bytea, '2024-01-02 03:04:05.123456+00'::timestamp with time zone, '3'::integer) ` +
			`ON CONFLICT ("id", "k") DO UPDATE SET "v" = EXCLUDED."v", "n" = EXCLUDED."n", "b" = EXCLUDED."b", "ts" = EXCLUDED."ts", "i" = EXCLUDED."i";`,
		`DELETE FROM "public"."Odd ""T""" WHERE ("id", "k") = ('7'::integer, 'k7'::text);`,
		"-- node n3\nBEGIN;\n",
		`UPDATE "public"."Odd ""T""" SET "v" = 'v4'::text, "ts" = '2024-01-02 03:04:05.123456+00'::timestamp with time zone WHERE ("id", "k") = ('4'::integer, 'k4'::text);`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("SQL lacks %s\nSQL:\n%s", want, text)
		}
	}
	if strings.Contains(text, "-- node n1") {
		t.Errorf("the source has a block:\n%s", text)
	}

	// Run each node's block on that node, then nothing differs.
	blocks := strings.Split(text, "-- node ")
	ran := 0
	for _, b := range blocks[1:] {
		node, body, _ := strings.Cut(b, "\n")
		conn := db.Connect(t, node)
		if _, err := conn.Exec(testContext(t), body); err != nil {
			t.Fatalf("run block of %s: %v\n%s", node, err, body)
		}
		ran++
	}
	if ran != 2 {
		t.Errorf("%d blocks, want 2 (n2, n3):\n%s", ran, text)
	}
	for _, n := range all {
		wantRows(t, "converged "+n, table(t, db, n, ident, "id"), before["n1"])
	}
	c := &report.Collector{}
	if _, err := diff.Rerun(testContext(t), pools, report.FromDiff(d), "test", c); err != nil || len(c.Diff.Rows) != 0 {
		t.Fatalf("rerun after the SQL: %v, %+v", err, c.Diff)
	}
}

func TestDryRunSQLWholeRowIsInputError(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (v text); INSERT INTO w VALUES ('a'), ('b')`)
	db.Exec(t, `INSERT INTO w VALUES ('c')`, "n2")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "w")
	var out bytes.Buffer
	err := WriteSQL(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, 2, &out)
	if !fault.IsInput(err) {
		t.Fatalf("want input error, got %v", err)
	}
	if !strings.HasPrefix(out.String(), "-- public.w has no key") || strings.Contains(out.String(), "BEGIN") {
		t.Errorf("output %q", out.String())
	}
	wantRows(t, "n2 unchanged", table(t, db, "n2", "public.w", "v"), []string{"(a)", "(b)", "(c)"})
}
