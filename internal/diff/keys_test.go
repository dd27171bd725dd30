package diff

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// keyCase is a table, its content on every node, per-node changes, and the exact outcome.
type keyCase struct {
	name    string
	schema  string // default public
	table   string
	nodes   int // default 2
	create  string
	fill    string            // run on every node
	changes map[string]string // node -> SQL
	source  string            // KeySource
	key     string            // fmt.Sprint(d.Key)
	cols    []string          // columns rendered
	rows    []string
	compare string // rows_compared, "" = not checked
}

// runKeyCase creates the case's table in db (shared by the cases: table names differ) and checks
// the outcome.
func runKeyCase(t *testing.T, db *sandbox.DB, c keyCase) *report.Diff {
	t.Helper()
	if c.nodes == 0 {
		c.nodes = 2
	}
	names := nodeNames(c.nodes)
	db.Exec(t, c.create, names...)
	if c.fill != "" {
		db.Exec(t, c.fill, names...)
	}
	for n, sql := range c.changes {
		db.Exec(t, sql, n)
	}
	o := opts(c.table)
	if c.schema != "" {
		o.Schema = c.schema
	}
	d := mustRun(t, connectK(t, db, c.nodes), o)
	if d.KeySource != c.source || fmt.Sprint(d.Key) != c.key {
		t.Errorf("key %v from %q, want %s from %q", d.Key, d.KeySource, c.key, c.source)
	}
	wantLines(t, "rows", render(t, d, c.cols...), c.rows)
	if c.compare != "" && mapText(d.Summary.RowsCompared) != c.compare {
		t.Errorf("rows_compared %s, want %s", mapText(d.Summary.RowsCompared), c.compare)
	}
	return d
}

func md5UUID(s string) string {
	h := md5.Sum([]byte(s))
	x := hex.EncodeToString(h[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func TestKeys(t *testing.T) {
	cases := []keyCase{{
		name: "bigint beyond 2^53", table: "kb",
		create: `CREATE TABLE kb (id bigint PRIMARY KEY, v text)`,
		fill: `INSERT INTO kb SELECT 9007199254740900 + i, 'v' FROM generate_series(1, 200) i;
			INSERT INTO kb VALUES (1, 'v'), (4294967296, 'v'), (-9223372036854775808, 'v'), (9223372036854775807, 'v')`,
		changes: map[string]string{
			"n2": `UPDATE kb SET v = 'x' WHERE id IN (9007199254740993, 9223372036854775807);
				DELETE FROM kb WHERE id = 4294967296`,
			"n1": `INSERT INTO kb VALUES (-9223372036854775807, 'n1')`,
		},
		source: "primary key", key: "[id]", cols: []string{"v"},
		rows: []string{
			`-9223372036854775807 n1="n1" n2=-`,
			`4294967296 n1="v" n2=-`,
			`9007199254740993 n1="v" n2="x"`,
			`9223372036854775807 n1="v" n2="x"`,
		},
		compare: "n1=205 n2=203",
	}, {
		name: "text with non-ASCII and mixed case", table: "kt",
		create: `CREATE TABLE kt (k text PRIMARY KEY, v int)`,
		fill: `INSERT INTO kt SELECT 'k' || lpad(i::text, 4, '0'), i FROM generate_series(1, 150) i;
			INSERT INTO kt VALUES ('Ä', 1), ('ä', 2), ('a', 3), ('B', 4), ('b', 5), ('日本', 6), ('z z', 7),
				('quote''s', 8), ('x|y', 9), ('', 10), (E'a\nb', 11), ('ÿ', 12), ('"dq"', 13), ('\', 14)`,
		changes: map[string]string{
			"n2": `UPDATE kt SET v = -v WHERE k IN ('Ä', '日本', '', E'a\nb', '\', 'k0077');
				DELETE FROM kt WHERE k IN ('B', 'quote''s'); INSERT INTO kt VALUES ('ZZZ', 0), ('ħ', 0), (' ', 0)`,
		},
		source: "primary key", key: "[k]", cols: []string{"v"},
		rows: []string{
			`" " n1=- n2=0`,
			`"" n1=10 n2=-10`,
			`"B" n1=4 n2=-`,
			`"ZZZ" n1=- n2=0`,
			`"\\" n1=14 n2=-14`,
			`"a\nb" n1=11 n2=-11`,
			`"k0077" n1=77 n2=-77`,
			`"quote's" n1=8 n2=-`,
			`"Ä" n1=1 n2=-1`,
			`"ħ" n1=- n2=0`,
			`"日本" n1=6 n2=-6`,
		},
		compare: "n1=164 n2=165",
	}, {
		name: "uuid", table: "ku",
		create: `CREATE TABLE ku (id uuid PRIMARY KEY, v int)`,
		fill:   `INSERT INTO ku SELECT md5(i::text)::uuid, i FROM generate_series(1, 200) i`,
		changes: map[string]string{
			"n1": `UPDATE ku SET v = 0 WHERE id = md5('17')::uuid`,
			"n2": `DELETE FROM ku WHERE id = md5('200')::uuid`,
		},
		source: "primary key", key: "[id]", cols: []string{"v"},
		rows: []string{
			fmt.Sprintf(`"%s" n1=0 n2=17`, md5UUID("17")),
			fmt.Sprintf(`"%s" n1=200 n2=-`, md5UUID("200")),
		},
	}, {
		name: "numeric", table: "kn",
		create: `CREATE TABLE kn (id numeric PRIMARY KEY, v int)`,
		fill: `INSERT INTO kn SELECT i * 1.5, i FROM generate_series(1, 200) i;
			INSERT INTO kn VALUES (12345678901234567890.123456789, 0), (-0.000000001, 0), ('NaN', 0)`,
		changes: map[string]string{
			"n2": `UPDATE kn SET v = 1 WHERE id IN (12345678901234567890.123456789, 'NaN', -0.000000001);
				DELETE FROM kn WHERE id = 3`,
		},
		source: "primary key", key: "[id]", cols: []string{"v"},
		rows: []string{
			`"-0.000000001" n1=0 n2=1`,
			`"12345678901234567890.123456789" n1=0 n2=1`,
			`"3" n1=2 n2=-`,
			`"NaN" n1=0 n2=1`,
		},
	}, {
		name: "composite text, int", table: "kc",
		create: `CREATE TABLE kc (t text, n int, v text, PRIMARY KEY (t, n))`,
		fill:   `INSERT INTO kc SELECT c, i, 'v' FROM unnest(ARRAY['a', 'b', 'é', 'B']) c, generate_series(1, 50) i`,
		changes: map[string]string{
			"n2": `UPDATE kc SET v = 'x' WHERE (t, n) IN (('b', 7), ('é', 50), ('B', 1));
				DELETE FROM kc WHERE (t, n) = ('a', 50); INSERT INTO kc VALUES ('c', 0, 'new'), ('a', -1, 'new')`,
		},
		source: "primary key", key: "[t n]", cols: []string{"v"},
		rows: []string{
			`"B",1 n1="v" n2="x"`,
			`"a",-1 n1=- n2="new"`,
			`"a",50 n1="v" n2=-`,
			`"b",7 n1="v" n2="x"`,
			`"c",0 n1=- n2="new"`,
			`"é",50 n1="v" n2="x"`,
		},
	}, {
		name: "key column order differs from column order", table: "ko",
		create: `CREATE TABLE ko (a int, b text, c int, PRIMARY KEY (c, b))`,
		fill:   `INSERT INTO ko SELECT i, 'b' || (i % 3), i / 3 FROM generate_series(1, 90) i`,
		changes: map[string]string{
			"n2": `UPDATE ko SET a = 0 WHERE c = 10 AND b = 'b1'`,
		},
		source: "primary key", key: "[c b]", cols: []string{"a"},
		rows: []string{`10,"b1" n1=31 n2=0`},
	}, {
		name: "quoted mixed-case names and reserved words", schema: "Sales Data", table: "Order Items",
		create: `CREATE SCHEMA "Sales Data";
			CREATE TABLE "Sales Data"."Order Items" ("Order-ID" int PRIMARY KEY, "select" text, t text, "row" int,
				key text, hash bigint, count int, "Quote""d" text, pgparity_t int, "ord" int, h int, "a b" text)`,
		fill: `INSERT INTO "Sales Data"."Order Items"
			SELECT i, 's', 't', i, 'k', i, i, 'q', i, i, i, 'ab' FROM generate_series(1, 100) i`,
		changes: map[string]string{
			"n2": `UPDATE "Sales Data"."Order Items" SET "select" = 'S', count = -1 WHERE "Order-ID" = 5;
				UPDATE "Sales Data"."Order Items" SET "Quote""d" = 'Q', pgparity_t = 0, "a b" = NULL WHERE "Order-ID" = 50;
				DELETE FROM "Sales Data"."Order Items" WHERE "Order-ID" = 100`,
		},
		source: "primary key", key: "[Order-ID]", cols: []string{"select", "count", `Quote"d`, "pgparity_t", "a b"},
		rows: []string{
			`100 n1="s"|100|"q"|100|"ab" n2=-`,
			`5 n1="s"|5|"q"|5|"ab" n2="S"|-1|"q"|5|"ab"`,
			`50 n1="s"|50|"q"|50|"ab" n2="s"|50|"Q"|0|null`,
		},
	}, {
		name: "63-byte identifiers", table: strings.Repeat("t", 60) + "end",
		create: fmt.Sprintf(`CREATE TABLE %s (%s int PRIMARY KEY, "%s" text)`,
			strings.Repeat("t", 60)+"end", strings.Repeat("k", 63), strings.Repeat("é", 31)+"x"),
		fill: fmt.Sprintf(`INSERT INTO %s SELECT i, 'v' FROM generate_series(1, 40) i`, strings.Repeat("t", 60)+"end"),
		changes: map[string]string{
			"n2": fmt.Sprintf(`UPDATE %s SET "%s" = 'w' WHERE %s = 33`, strings.Repeat("t", 60)+"end",
				strings.Repeat("é", 31)+"x", strings.Repeat("k", 63)),
		},
		source: "primary key", key: "[" + strings.Repeat("k", 63) + "]", cols: []string{strings.Repeat("é", 31) + "x"},
		rows: []string{`33 n1="v" n2="w"`},
	}, {
		name: "unique index on NOT NULL columns", table: "ui",
		create: `CREATE TABLE ui (a int NOT NULL, b text NOT NULL, v text, w int);
			CREATE UNIQUE INDEX ui_v ON ui (v);                 -- nullable: not a key
			CREATE UNIQUE INDEX ui_w_partial ON ui (w) WHERE w > 0; -- partial: not a key
			CREATE UNIQUE INDEX ui_ab ON ui (a, b)`,
		fill: `INSERT INTO ui SELECT i, 'b', 'v' || i, i FROM generate_series(1, 60) i`,
		changes: map[string]string{
			"n2": `UPDATE ui SET v = 'x' WHERE a = 3; DELETE FROM ui WHERE a = 60`,
		},
		source: "unique index ui_ab", key: "[a b]", cols: []string{"v"},
		rows: []string{`3,"b" n1="v3" n2="x"`, `60,"b" n1="v60" n2=-`},
	}, {
		name: "partitioned table", table: "p", nodes: 3,
		create: `CREATE TABLE p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
			CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
			CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200);
			CREATE TABLE pd PARTITION OF p DEFAULT`,
		fill: `INSERT INTO p SELECT i, 'v' FROM generate_series(0, 299) i; ANALYZE p`,
		changes: map[string]string{
			"n2": `UPDATE p SET v = 'x' WHERE id IN (5, 150, 250); DELETE FROM p WHERE id = 199`,
			"n3": `INSERT INTO p VALUES (-5, 'd'), (1000, 'd')`,
		},
		source: "primary key", key: "[id]", cols: []string{"v"},
		rows: []string{
			`-5 n1=- n2=- n3="d"`,
			`1000 n1=- n2=- n3="d"`,
			`150 n1="v" n2="x" n3="v"`,
			`199 n1="v" n2=- n3="v"`,
			`250 n1="v" n2="x" n3="v"`,
			`5 n1="v" n2="x" n3="v"`,
		},
		compare: "n1=300 n2=299 n3=302",
	}, {
		name: "inheritance children are not the parent's rows", table: "ih",
		create: `CREATE TABLE ih (id int PRIMARY KEY, v text); CREATE TABLE ih_child (extra int) INHERITS (ih)`,
		fill:   `INSERT INTO ih SELECT i, 'v' FROM generate_series(1, 50) i`,
		changes: map[string]string{
			"n1": `INSERT INTO ih_child VALUES (1, 'child', 0), (1000, 'child', 0)`,
			"n2": `UPDATE ONLY ih SET v = 'x' WHERE id = 20`,
		},
		source: "primary key", key: "[id]", cols: []string{"v"},
		rows:    []string{`20 n1="v" n2="x"`},
		compare: "n1=50 n2=50",
	}, {
		name: "date, timestamptz and enum keys", table: "kd",
		create: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
			CREATE TABLE kd (d date, ts timestamptz, m mood, v int, PRIMARY KEY (d, ts, m))`,
		fill: `INSERT INTO kd SELECT date '2024-01-01' + i % 7, timestamptz '2024-01-01 00:00:00.5+00' + i * interval '1 minute',
			(ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::mood, i FROM generate_series(1, 100) i`,
		changes: map[string]string{
			"n2": `UPDATE kd SET v = 0 WHERE v = 42`,
		},
		source: "primary key", key: "[d ts m]", cols: []string{"v"},
		rows: []string{`"2024-01-01","2024-01-01 00:42:00.5+00","sad" n1=42 n2=0`},
	}}
	db := sandbox.NewDB(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := runKeyCase(t, db, c)
			if c.table == "kb" {
				for _, r := range d.Rows {
					if n, ok := r.Key[0].Value.(json.Number); !ok || n.String() != keyText(r) {
						t.Errorf("key %#v is not an exact json.Number", r.Key[0].Value)
					}
				}
			}
		})
	}
}

// TestNumericKeyScale: keys 2.0 and 2.00 are the same key (numeric equality); a node holding
// 2.00 where another holds 2.0 must yield one report row, not two, keyed by the canonical text
// (trailing zeros dropped) while each node's row keeps its own text.
func TestNumericKeyScale(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE ns (id numeric PRIMARY KEY, v text)`, "n1", "n2")
	db.Exec(t, `INSERT INTO ns VALUES (1.0, 'a'), (2.0, 'a'), (3, 'a')`, "n1")
	db.Exec(t, `INSERT INTO ns VALUES (1.00, 'a'), (2.00, 'b'), (3, 'a')`, "n2")
	pools := connectK(t, db, 2)
	d := mustRun(t, pools, opts("ns"))
	wantLines(t, "rows", render(t, d, "v"), []string{`"2" n1="a" n2="b"`})
	wantSummary(t, d, report.StatusDiffer, 1, "n1/n2=1", "n1=0 n2=0", "n1=3 n2=3")

	o := opts("ns")
	o.Strict = true
	d = mustRun(t, pools, o)
	wantLines(t, "strict rows", render(t, d, "id", "v"), []string{
		`"1" n1="1.0"|"a" n2="1.00"|"a"`, `"2" n1="2.0"|"a" n2="2.00"|"b"`,
	})
}

// TestWholeRowMultiset: without a usable key, rows are compared as a multiset with copy counts.
func TestWholeRowMultiset(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE m (a int UNIQUE, b text)`, nodeNames(3)...) // nullable unique: not a key
	db.Exec(t, `INSERT INTO m SELECT i, 'v' FROM generate_series(1, 100) i;
		INSERT INTO m VALUES (NULL, 'dup'), (NULL, 'dup'), (NULL, NULL)`, nodeNames(3)...)
	db.Exec(t, `DELETE FROM m WHERE b = 'dup'; INSERT INTO m VALUES (NULL, 'dup')`, "n2") // once
	db.Exec(t, `INSERT INTO m VALUES (NULL, 'dup'); DELETE FROM m WHERE a = 7; INSERT INTO m VALUES (NULL, '')`, "n3")
	pools := connectK(t, db, 3)
	d := mustRun(t, pools, opts("m"))
	if d.KeySource != "whole row" || len(d.Key) != 0 {
		t.Errorf("key %v from %q, want whole row", d.Key, d.KeySource)
	}
	wantLines(t, "rows", renderValues(t, d, "a", "b"), []string{
		`n1=7|"v" n2=7|"v" n3=- counts n1=1 n2=1 n3=0`,
		`n1=- n2=- n3=null|"" counts n1=0 n2=0 n3=1`,
		`n1=null|"dup" n2=null|"dup" n3=null|"dup" counts n1=2 n2=1 n3=3`,
	})
	wantSummary(t, d, report.StatusDiffer, 3, "n1/n2=1 n1/n3=3 n2/n3=3", "n1=1 n2=1 n3=1", "n1=103 n2=102 n3=104")
	for _, r := range d.Rows {
		if len(r.Key) != 1 || r.Key[0].Name != "row_hash" {
			t.Errorf("whole-row key %v", r.Key)
		}
	}

	// Two nodes, a plain table without any index: the same row twice on n1, once on n2.
	db.Exec(t, `CREATE TABLE plain (x int, y text); INSERT INTO plain VALUES (1, 'a'), (1, 'a'), (2, 'b')`, "n1")
	db.Exec(t, `CREATE TABLE plain (y text, x int); INSERT INTO plain VALUES ('a', 1), ('b', 2)`, "n2")
	d = mustRun(t, connectK(t, db, 2), opts("plain"))
	wantLines(t, "plain rows", renderValues(t, d, "x", "y"), []string{`n1=1|"a" n2=1|"a" counts n1=2 n2=1`})
	wantSummary(t, d, report.StatusDiffer, 1, "n1/n2=1", "n1=0 n2=0", "n1=3 n2=2")
}

// TestTextKeyCollationDiffersBetweenNodes: n1 sorts the text key with an ICU collation, n2 byte-wise.
// Ranges planned on n1 must still find exactly the differing rows on n2.
func TestTextKeyCollationDiffersBetweenNodes(t *testing.T) {
	db := sandbox.NewDB(t)
	var n int
	if err := db.Connect(t, "n1").QueryRow(testContext(t), `SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Scan(&n); err != nil || n == 0 {
		t.Skip("no ICU collation und-x-icu on this server")
	}
	db.Exec(t, `CREATE TABLE tc (k text COLLATE "und-x-icu" PRIMARY KEY, v int)`, "n1")
	db.Exec(t, `CREATE TABLE tc (k text COLLATE "C" PRIMARY KEY, v int)`, "n2")
	fill := `INSERT INTO tc SELECT chr(97 + i % 26) || i, i FROM generate_series(1, 300) i;
		INSERT INTO tc SELECT upper(chr(97 + i % 26)) || i, -i FROM generate_series(1, 300) i`
	db.Exec(t, fill, "n1", "n2")
	db.Exec(t, `INSERT INTO tc SELECT 'extra' || i, 0 FROM generate_series(1, 50) i; ANALYZE tc`, "n1") // n1 plans
	db.Exec(t, `UPDATE tc SET v = 0 WHERE k IN ('a26', 'B27', 'z25', 'Z25')`, "n2")
	d := mustRun(t, connectK(t, db, 2), opts("tc"))
	want := []string{`"B27" n1=-27 n2=0`, `"Z25" n1=-25 n2=0`, `"a26" n1=26 n2=0`, `"z25" n1=25 n2=0`}
	for i := 1; i <= 50; i++ {
		want = append(want, fmt.Sprintf(`"extra%d" n1=0 n2=-`, i))
	}
	wantLines(t, "rows", render(t, d, "v"), want)
	wantSummary(t, d, report.StatusDiffer, 54, "n1/n2=54", "n1=0 n2=50", "n1=650 n2=600")
}

// TestTextKeyCollationRowsOnlyOnOtherNode: rows that only the byte-wise node has, with keys the
// planner's ICU order sorts elsewhere, must all be found.
func TestTextKeyCollationRowsOnlyOnOtherNode(t *testing.T) {
	db := sandbox.NewDB(t)
	var n int
	if err := db.Connect(t, "n1").QueryRow(testContext(t), `SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Scan(&n); err != nil || n == 0 {
		t.Skip("no ICU collation und-x-icu on this server")
	}
	db.Exec(t, `CREATE TABLE tc (k text COLLATE "und-x-icu" PRIMARY KEY, v int)`, "n1")
	db.Exec(t, `CREATE TABLE tc (k text COLLATE "C" PRIMARY KEY, v int)`, "n2")
	// Shared keys of both cases: the planner's boundaries are not in byte order.
	db.Exec(t, `INSERT INTO tc SELECT chr(97 + i % 26) || i, i FROM generate_series(1, 400) i;
		INSERT INTO tc SELECT upper(chr(97 + i % 26)) || i, i FROM generate_series(1, 400) i`, "n1", "n2")
	db.Exec(t, `INSERT INTO tc SELECT 'extra' || i, 0 FROM generate_series(1, 100) i; ANALYZE tc`, "n1") // n1 plans
	db.Exec(t, `INSERT INTO tc SELECT chr(97 + i % 26) || '-' || i, -i FROM generate_series(1, 200) i;
		INSERT INTO tc SELECT upper(chr(97 + i % 26)) || '_' || i, -i FROM generate_series(1, 200) i`, "n2")
	pools := connectK(t, db, 2)
	for _, bs := range []int{10, 40, 100, 1000} {
		o := opts("tc")
		o.BlockSize = bs
		d := mustRun(t, pools, o)
		if d.Summary.MissingOn["n1"] != 400 || d.Summary.MissingOn["n2"] != 100 || len(d.Rows) != 500 {
			t.Errorf("block size %d: found %d rows, missing_on %v; want 500 rows: 400 only on n2, 100 only on n1",
				bs, len(d.Rows), d.Summary.MissingOn)
		}
	}
}
