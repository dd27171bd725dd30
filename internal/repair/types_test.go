package repair

import (
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestValuesSurvive repairs rows of every kind of type under a quoted mixed-case table with a
// composite key and a generated column: after the repair every node holds byte-for-byte the
// source's rows, and the generated column was computed, not written.
func TestValuesSurvive(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE SCHEMA "My Schema";
		CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
		CREATE TYPE pair AS (a int, b text);
		CREATE DOMAIN posint AS int CHECK (VALUE > 0);
		CREATE TABLE "My Schema"."Wide Table" (
			"Region" text, "ID" bigint, big bigint, num numeric(30,10), bin bytea, ints int[], txts text[],
			doc jsonb, js json, ts timestamptz, f8 float8, f4 real, m mood, p pair, r int4range, tr tstzrange,
			iv interval, u uuid, cash money, ip inet, d date, tm time, b bool, c char(3), pi posint,
			"row" text, "t" text, total numeric GENERATED ALWAYS AS (num * 2) STORED,
			PRIMARY KEY ("Region", "ID"))`)
	row := func(id string, note string) string {
		return `INSERT INTO "My Schema"."Wide Table" VALUES ('eu', ` + id + `, 9007199254740993, 12345678901234567890.0123456789,
			'\x00ff5c0a', '{1,NULL,-3}', '{"a,b","c\"d",NULL,"tab	here"}', '{"k": [1, 2.50, null], "é": "\u00e9"}', '{"raw":  1}',
			'2026-01-02 03:04:05.123456+00', 'NaN', '-0', 'happy', ROW(1, 'x,y'), '[1,5)', '[2026-01-01 00:00:00+00,)',
			'1 day 02:03:04.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1234.56, '10.0.0.1/8', '2026-02-28', '23:59:59.999999',
			true, 'ab', 7, 'line1
line2\back', '` + note + `')`
	}
	db.Exec(t, row("1", "one")+"; "+row("2", "two")+"; "+row("3", "three"), "n1")
	db.Exec(t, row("1", "one")+"; "+row("2", "two"), "n2")
	db.Exec(t, row("2", "stale")+`; UPDATE "My Schema"."Wide Table" SET f8 = 'Infinity', doc = 'null', p = NULL, ints = '{}' WHERE "ID" = 2;`+
		row("4", "extra"), "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "My Schema", "Wide Table")
	if len(d.Rows) != 4 {
		t.Fatalf("diff has %d rows, want 4", len(d.Rows))
	}
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/0/0/0/0/true n3:2/1/1/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	q := `SELECT r::text FROM "My Schema"."Wide Table" AS r ORDER BY "Region", "ID"`
	want := dump(t, db, "n1", q)
	if len(want) != 3 {
		t.Fatalf("n1 has %d rows", len(want))
	}
	for _, n := range []string{"n2", "n3"} {
		wantRows(t, "rows on "+n, dump(t, db, n, q), want)
	}
	wantRows(t, "generated column on n3", dump(t, db, "n3", `SELECT total::text FROM "My Schema"."Wide Table" ORDER BY "ID"`),
		[]string{"24691357802469135780.0246913578", "24691357802469135780.0246913578", "24691357802469135780.0246913578"})
}
