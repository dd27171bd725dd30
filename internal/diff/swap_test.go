package diff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// The tests of this file change a table so that the multiset of every column's values stays the
// same: values of a column exchanged or rotated between rows, keys exchanged. Row hashes combine
// column hashes linearly modulo 2^64, so such a change keeps the sum of raw row hashes of a
// sub-range the same modulo 2^64: a checksum summing them exactly sees it only when that sum
// happens to move by a multiple of 2^64, and misses about a third of the permutation test's
// rounds. Checksums must sum a non-linear mix of each row hash (encode.Mix).

// swapBlockSizes are the block sizes every swap test runs with: 10 puts each row in a sub-range
// of its own, 200 makes sub-ranges of 10 adjacent rows, and the default puts a whole test table
// in one range without sub-ranges.
var swapBlockSizes = []int{10, 200, defaultBlockSize}

// defaultBlockSize is the block size of pgparity's built-in settings.
var defaultBlockSize = cluster.DefaultSettings().BlockSize

// swapKey is a key type of the swap tests' tables.
type swapKey struct {
	name      string
	cols      string             // key column definitions
	names     string             // key column names, in key order
	expr      string             // SQL of the key values of the row whose seq is %[1]s
	text      func(i int) string // the key of row seq i as diffKeys prints it
	collation string             // a collation the key needs, "" for none
}

var swapKeys = []swapKey{
	{name: "int", cols: "id int", names: "id", expr: "%[1]s",
		text: strconv.Itoa},
	{name: "bigint", cols: "id bigint", names: "id", expr: "(%[1]s)::bigint * 4294967296",
		text: func(i int) string { return strconv.FormatInt(int64(i)<<32, 10) }},
	// Upper and lower case alternate: "k0001" < "K0002" < "k0003" in ICU order, whereas byte order
	// puts every "K" first.
	{name: "text_icu", cols: `id text COLLATE "und-x-icu"`, names: "id", collation: "und-x-icu",
		expr: `CASE WHEN (%[1]s) %% 2 = 0 THEN 'K' ELSE 'k' END || lpad((%[1]s)::text, 4, '0')`,
		text: func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf(`"K%04d"`, i)
			}
			return fmt.Sprintf(`"k%04d"`, i)
		}},
	{name: "uuid", cols: "id uuid", names: "id", expr: `('00000000-0000-4000-8000-' || lpad(to_hex(%[1]s), 12, '0'))::uuid`,
		text: func(i int) string { return fmt.Sprintf(`"00000000-0000-4000-8000-%012x"`, i) }},
	// Rows of adjacent seq are not adjacent in this key's order.
	{name: "composite", cols: "g int, name text", names: "g, name", expr: `(%[1]s) %% 7, 'n' || lpad((%[1]s)::text, 4, '0')`,
		text: func(i int) string { return fmt.Sprintf(`%d,"n%04d"`, i%7, i) }},
	// Numeric keys print without trailing zeros (12.50 as 12.5): trim_scale makes equal keys equal
	// texts.
	{name: "numeric", cols: "id numeric", names: "id", expr: "(%[1]s) * 1.25",
		text: func(i int) string { return `"` + strings.TrimRight(strings.TrimRight(cents(i*125), "0"), ".") + `"` }},
}

func (k swapKey) table() string { return "swap_" + k.name }

// key returns the SQL of the key values of the row whose seq is the SQL seq.
func (k swapKey) key(seq string) string { return fmt.Sprintf(k.expr, seq) }

// cents prints a number of hundredths as numeric(_, 2) prints it.
func cents(n int) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

// swapRow is columns seq, email, balance and note of row seq i, as render prints them, with the
// email of row e, the balance of row b and the note of row n.
func swapRow(i, e, b, n int) string {
	return fmt.Sprintf(`%d|"email%d@x.org"|"%s"|"note %d"`, i, e, cents(b*325), n)
}

// swapLine is a report line of row seq i where each node holds the given row.
func swapLine(k swapKey, i int, n1, n2, n3 string) string {
	return fmt.Sprintf("%s n1=%s n2=%s n3=%s", k.text(i), n1, n2, n3)
}

// runSwapCases creates, for every key type, a table of 1000 rows on n1..n3, applies the changes
// (node -> SQL) and checks the diff of each table at each block size.
func runSwapCases(t *testing.T, changes func(k swapKey) map[string]string, check func(t *testing.T, k swapKey, d *report.Diff)) {
	t.Helper()
	db := sandbox.NewDB(t)
	conn := db.Connect(t, "n1")
	var keys []swapKey
	for _, k := range swapKeys {
		if k.collation != "" {
			var n int
			err := conn.QueryRow(testContext(t), `SELECT count(*) FROM pg_catalog.pg_collation WHERE collname = $1`, k.collation).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Logf("key %s skipped: no collation %s on this server", k.name, k.collation)
				continue
			}
		}
		keys = append(keys, k)
		db.Exec(t, fmt.Sprintf(`CREATE TABLE %[1]s (%[2]s, seq int NOT NULL, email text, balance numeric(12,2), note text,
				PRIMARY KEY (%[3]s));
			INSERT INTO %[1]s SELECT %[4]s, i, 'email' || i || '@x.org', i * 3.25, 'note ' || i FROM generate_series(1, 1000) AS i;
			ANALYZE %[1]s`, k.table(), k.cols, k.names, k.key("i")), nodeNames(3)...)
		for node, sql := range changes(k) {
			db.Exec(t, sql, node)
		}
	}
	pools := connectK(t, db, 3)
	for _, k := range keys {
		for _, bs := range swapBlockSizes {
			t.Run(fmt.Sprintf("%s/block=%d", k.name, bs), func(t *testing.T) {
				o := opts(k.table())
				o.BlockSize = bs
				check(t, k, mustRun(t, pools, o))
			})
		}
	}
}

// TestSwappedColumnValuesAreFound exchanges the emails of rows seq 1 and 2 on n2 and the balances
// of rows seq 500 and 501 on n3: each table keeps the same values per column.
func TestSwappedColumnValuesAreFound(t *testing.T) {
	runSwapCases(t, func(k swapKey) map[string]string {
		return map[string]string{
			"n2": fmt.Sprintf(`UPDATE %s SET email = CASE seq WHEN 1 THEN 'email2@x.org' ELSE 'email1@x.org' END
				WHERE seq IN (1, 2)`, k.table()),
			"n3": fmt.Sprintf(`UPDATE %s SET balance = CASE seq WHEN 500 THEN 501 * 3.25 ELSE 500 * 3.25 END
				WHERE seq IN (500, 501)`, k.table()),
		}
	}, func(t *testing.T, k swapKey, d *report.Diff) {
		wantLines(t, "keys", diffKeys(d), []string{k.text(1), k.text(2), k.text(500), k.text(501)})
		wantLines(t, "rows", render(t, d, "seq", "email", "balance", "note"), []string{
			swapLine(k, 1, swapRow(1, 1, 1, 1), swapRow(1, 2, 1, 1), swapRow(1, 1, 1, 1)),
			swapLine(k, 2, swapRow(2, 2, 2, 2), swapRow(2, 1, 2, 2), swapRow(2, 2, 2, 2)),
			swapLine(k, 500, swapRow(500, 500, 500, 500), swapRow(500, 500, 500, 500), swapRow(500, 500, 501, 500)),
			swapLine(k, 501, swapRow(501, 501, 501, 501), swapRow(501, 501, 501, 501), swapRow(501, 501, 500, 501)),
		})
		wantSummary(t, d, report.StatusDiffer, 4, "n1/n2=2 n1/n3=2 n2/n3=4", each(3, 0), each(3, 1000))
	})
}

// TestRotatedColumnValuesAreFound rotates the notes of rows seq 300, 301 and 302 on n2.
func TestRotatedColumnValuesAreFound(t *testing.T) {
	runSwapCases(t, func(k swapKey) map[string]string {
		return map[string]string{"n2": fmt.Sprintf(`UPDATE %s
			SET note = CASE seq WHEN 300 THEN 'note 301' WHEN 301 THEN 'note 302' ELSE 'note 300' END
			WHERE seq IN (300, 301, 302)`, k.table())}
	}, func(t *testing.T, k swapKey, d *report.Diff) {
		wantLines(t, "keys", diffKeys(d), []string{k.text(300), k.text(301), k.text(302)})
		wantLines(t, "rows", render(t, d, "seq", "email", "balance", "note"), []string{
			swapLine(k, 300, swapRow(300, 300, 300, 300), swapRow(300, 300, 300, 301), swapRow(300, 300, 300, 300)),
			swapLine(k, 301, swapRow(301, 301, 301, 301), swapRow(301, 301, 301, 302), swapRow(301, 301, 301, 301)),
			swapLine(k, 302, swapRow(302, 302, 302, 302), swapRow(302, 302, 302, 300), swapRow(302, 302, 302, 302)),
		})
		wantSummary(t, d, report.StatusDiffer, 3, "n1/n2=3 n1/n3=0 n2/n3=3", each(3, 0), each(3, 1000))
	})
}

// TestExchangedKeysAreFound gives the rows of seq 10 and 11 each other's key on n3, through a
// temporary key (a unique index is checked row by row, so one UPDATE cannot exchange them).
func TestExchangedKeysAreFound(t *testing.T) {
	runSwapCases(t, func(k swapKey) map[string]string {
		set := func(key string, seq int) string {
			return fmt.Sprintf("UPDATE %s SET (%s) = ROW(%s) WHERE seq = %d;\n", k.table(), k.names, k.key(key), seq)
		}
		return map[string]string{"n3": set("-1", 10) + set("10", 11) + set("11", 10)}
	}, func(t *testing.T, k swapKey, d *report.Diff) {
		wantLines(t, "keys", diffKeys(d), []string{k.text(10), k.text(11)})
		row := func(i int) string { return swapRow(i, i, i, i) }
		wantLines(t, "rows", render(t, d, "seq", "email", "balance", "note"), []string{
			swapLine(k, 10, row(10), row(10), row(11)),
			swapLine(k, 11, row(11), row(11), row(10)),
		})
		wantSummary(t, d, report.StatusDiffer, 2, "n1/n2=0 n1/n3=2 n2/n3=2", each(3, 0), each(3, 1000))
	})
}

// TestSwappedValuesWithoutKeyAreFound exchanges b between two rows of a table without a key on
// n2: (1, v1), (2, v2) become (1, v2), (2, v1). Rows 1..3 have two copies on every node and n2
// changes one copy of each, so the four row versions differ in their copy counts, not only in
// presence.
func TestSwappedValuesWithoutKeyAreFound(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE m (a int, b text, c numeric);
		INSERT INTO m SELECT i, 'v' || i, i * 0.5 FROM generate_series(1, 1000) AS i;
		INSERT INTO m SELECT i, 'v' || i, i * 0.5 FROM generate_series(1, 3) AS i;
		ANALYZE m`, nodeNames(3)...)
	db.Exec(t, `UPDATE m SET b = CASE a WHEN 1 THEN 'v2' ELSE 'v1' END
		WHERE ctid IN (SELECT DISTINCT ON (a) ctid FROM m WHERE a IN (1, 2) ORDER BY a, ctid)`, "n2")
	pools := connectK(t, db, 3)

	// The expected keys: the row hashes of the four versions, by the rule the engine hashes with.
	ctx := testContext(t)
	tbl, err := catalog.Load(ctx, pools[0], "public", "m")
	if err != nil {
		t.Fatal(err)
	}
	hash := func(a int, b string, c string) string {
		t.Helper()
		var h string
		sql := "SELECT (" + encode.RowHash("v", tbl.Columns, false) + ")::text FROM (VALUES ($1::int, $2::text, $3::numeric)) AS v(a, b, c)"
		if err := pools[0].QueryRow(ctx, sql, a, b, c).Scan(&h); err != nil {
			t.Fatalf("hash of (%d, %s, %s): %v", a, b, c, err)
		}
		return h
	}
	h11, h22, h12, h21 := hash(1, "v1", "0.5"), hash(2, "v2", "1.0"), hash(1, "v2", "0.5"), hash(2, "v1", "1.0")
	for _, bs := range swapBlockSizes {
		t.Run(fmt.Sprintf("block=%d", bs), func(t *testing.T) {
			o := opts("m")
			o.BlockSize = bs
			d := mustRun(t, pools, o)
			if d.KeySource != "whole row" {
				t.Fatalf("key source %q, want whole row", d.KeySource)
			}
			wantLines(t, "keys", diffKeys(d), []string{h11, h22, h12, h21})
			var got []string
			for _, r := range d.Rows {
				one := &report.Diff{Nodes: d.Nodes, Rows: []report.Row{r}}
				got = append(got, keyText(r)+" "+renderValues(t, one, "a", "b", "c")[0])
			}
			sort.Strings(got)
			wantLines(t, "row versions", got, []string{
				h11 + ` n1=1|"v1"|"0.5" n2=1|"v1"|"0.5" n3=1|"v1"|"0.5" counts n1=2 n2=1 n3=2`,
				h22 + ` n1=2|"v2"|"1.0" n2=2|"v2"|"1.0" n3=2|"v2"|"1.0" counts n1=2 n2=1 n3=2`,
				h12 + ` n1=- n2=1|"v2"|"0.5" n3=- counts n1=0 n2=1 n3=0`,
				h21 + ` n1=- n2=2|"v1"|"1.0" n3=- counts n1=0 n2=1 n3=0`,
			})
			wantSummary(t, d, report.StatusDiffer, 4, "n1/n2=4 n1/n3=0 n2/n3=4", "n1=2 n2=0 n3=2", each(3, 1003))
		})
	}
}
