package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sampleKeys renders each sample table's key as Diverge's Change.Key does, and orders by it.
var sampleKeys = map[string]struct{ text, order string }{
	"public.wide":        {"id::text", "id"},
	"public.order_lines": {"order_no || ',' || line", "order_no, line"},
	`public."MixedCase"`: {`"Id"::text`, `"Id"`},
}

func TestLoadSampleIsIdenticalOnEveryNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := NewDB(t)
	// n1 is loaded twice: LoadSample must replace, not add to, what is there.
	for _, node := range []string{"n1", "n1", "n2"} {
		if err := LoadSample(ctx, db.ConnString(node), 1000); err != nil {
			t.Fatalf("load %s: %v", node, err)
		}
	}
	want := map[string]int{"public.wide": 1000, "public.order_lines": 500, `public."MixedCase"`: 100}
	fingerprints := map[string]string{}
	for _, node := range []string{"n1", "n2"} {
		conn := db.Connect(t, node)
		for _, table := range SampleTables {
			var n int
			var fp string
			q := "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY " + sampleKeys[table].order + ")) FROM " + table + " t"
			if err := conn.QueryRow(ctx, q).Scan(&n, &fp); err != nil {
				t.Fatalf("%s %s: %v", node, table, err)
			}
			if n != want[table] {
				t.Errorf("%s %s: %d rows, want %d", node, table, n, want[table])
			}
			if prev, ok := fingerprints[table]; ok && prev != fp {
				t.Errorf("%s %s: content differs from n1", node, table)
			}
			fingerprints[table] = fp
		}
	}

	conn := db.Connect(t, "n1")
	var big int64
	var avgRow float64
	var pks int
	if err := conn.QueryRow(ctx, `SELECT (SELECT big FROM public.wide WHERE id = 12),
		(SELECT avg(pg_column_size(t.*)) FROM public.wide t),
		(SELECT count(*) FROM pg_catalog.pg_constraint WHERE contype = 'p'
			AND conrelid IN ('public.wide'::regclass, 'public.order_lines'::regclass, 'public."MixedCase"'::regclass))`,
	).Scan(&big, &avgRow, &pks); err != nil {
		t.Fatal(err)
	}
	if big != 9007199266741029 {
		t.Errorf("wide 12 big = %d, want 9007199266741029 (beyond 2^53)", big)
	}
	if avgRow < 250 || avgRow > 400 {
		t.Errorf("wide rows average %.0f bytes, want 250-400", avgRow)
	}
	if pks != 3 {
		t.Errorf("%d primary keys on the sample tables, want 3", pks)
	}

	// Every id yields a valid row, not only those of a small sample: negative ids, ids past 16 and
	// 32 bits (inet groups, smallint and integer ranges, timestamps). The rows are rolled back.
	for _, ids := range [][2]int64{{-70000, -69990}, {65530, 65545}, {1<<32 - 5, 1<<32 + 5}, {1 << 40, 1<<40 + 5}} {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, insertWide, ids[0], ids[1]); err != nil {
			t.Errorf("generate wide ids %d..%d: %v", ids[0], ids[1], err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDivergeChangesExactlyTheDocumentedRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := NewDB(t)
	// The package's sandbox has two nodes; a second database on n1 stands in for n3.
	n3 := db.Name + "_n3"
	db.execDB(t, db.Nodes()[0], "postgres", "CREATE DATABASE "+n3)
	t.Cleanup(func() {
		db.execDB(t, db.Nodes()[0], "postgres", "DROP DATABASE IF EXISTS "+n3+" WITH (FORCE)")
	})
	conns := map[string]string{
		"n1": db.ConnString("n1"),
		"n2": db.ConnString("n2"),
		"n3": db.Sandbox.ConnString(db.Nodes()[0], n3),
	}
	for _, node := range []string{"n1", "n2", "n3"} {
		if err := LoadSample(ctx, conns[node], 1000); err != nil {
			t.Fatalf("load %s: %v", node, err)
		}
	}
	before := readSample(ctx, t, conns)

	got, err := Diverge(ctx, conns, 1000)
	if err != nil {
		t.Fatal(err)
	}
	w, ol, mc := "public.wide", "public.order_lines", `public."MixedCase"`
	want := []Change{
		{"n2", w, "1", "update", "note"},
		{"n2", w, "2", "update", "price"},
		{"n2", w, "3", "update", "updated"},
		{"n2", w, "4", "update", "doc"},
		{"n2", w, "5", "update", "payload"},
		{"n2", w, "6", "update", "tags"},
		{"n2", w, "7", "update", "active"},
		{"n2", w, "10", "update", "note"},
		{"n2", w, "11", "update", "label"},
		{"n2", w, "12", "update", "big"},
		{"n2", w, "13", "update", "mood"},
		{"n2", w, "20", "delete", ""},
		{"n2", w, "500", "delete", ""},
		{"n2", w, "1000", "delete", ""},
		{"n2", w, "-5", "insert", ""},
		{"n2", w, "2000", "insert", ""},
		{"n2", ol, "ord-000001,1", "update", "qty"},
		{"n2", ol, "ord-000002,2", "delete", ""},
		{"n2", ol, "ord-000003,4", "insert", ""},
		{"n2", mc, "3", "update", "select"},
		{"n3", w, "1", "update", "note"},
		{"n3", w, "4", "update", "doc"},
		{"n3", w, "31", "update", "span"},
		{"n3", w, "2", "delete", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diverge returned\n%v\nwant\n%v", got, want)
	}

	after := readSample(ctx, t, conns)
	if !reflect.DeepEqual(after["n1"], before["n1"]) {
		t.Error("Diverge changed n1, the reference")
	}
	// Every row of n2 and n3 equals n1's except exactly as the returned changes say.
	for _, node := range []string{"n2", "n3"} {
		for _, table := range SampleTables {
			changed := map[string]Change{}
			for _, c := range got {
				if c.Node == node && c.Table == table {
					changed[c.Key] = c
				}
			}
			ref, rows := after["n1"][table], after[node][table]
			for key, row := range ref {
				if _, ok := changed[key]; !ok && !bytes.Equal(row, rows[key]) {
					t.Errorf("%s %s key %s differs from n1 but no change says so", node, table, key)
				}
			}
			for key := range rows {
				if _, ok := ref[key]; !ok && changed[key].Kind != "insert" {
					t.Errorf("%s %s key %s exists only on %s but no insert says so", node, table, key, node)
				}
			}
			for key, c := range changed {
				checkChange(t, c, ref[key], rows[key])
			}
		}
	}
	if n2, n3, n1 := after["n2"][w]["1"], after["n3"][w]["1"], after["n1"][w]["1"]; !bytes.Equal(n2, n3) || bytes.Equal(n2, n1) {
		t.Errorf("wide 1 must agree on n2 and n3 and differ on n1:\nn1 %s\nn2 %s\nn3 %s", n1, n2, n3)
	}
	if n1, n2, n3 := after["n1"][w]["4"], after["n2"][w]["4"], after["n3"][w]["4"]; bytes.Equal(n1, n2) || bytes.Equal(n2, n3) || bytes.Equal(n1, n3) {
		t.Errorf("wide 4 must have three versions:\nn1 %s\nn2 %s\nn3 %s", n1, n2, n3)
	}
	for node, n := range map[string]int{"n1": 1000, "n2": 999, "n3": 999} {
		if got := len(after[node][w]); got != n {
			t.Errorf("%s has %d wide rows, want %d", node, got, n)
		}
	}

	if _, err := Diverge(ctx, conns, 1000); err == nil {
		t.Error("a second Diverge on the same databases must fail: its deletes find no row")
	}
	if _, err := Diverge(ctx, conns, MinDivergeRows-1); err == nil {
		t.Errorf("Diverge must refuse a sample of fewer than %d rows", MinDivergeRows)
	}
}

// checkChange asserts that one change is exactly what happened between n1's row ref and the
// changed node's row (nil when absent): an update changes its column (and the generated total
// follows price) and nothing else.
func checkChange(t *testing.T, c Change, ref, row json.RawMessage) {
	t.Helper()
	switch c.Kind {
	case "delete":
		if ref == nil || row != nil {
			t.Errorf("%+v: on n1 %v, on %s %v; want present on n1 only", c, ref != nil, c.Node, row != nil)
		}
	case "insert":
		if ref != nil || row == nil {
			t.Errorf("%+v: on n1 %v, on %s %v; want present on %s only", c, ref != nil, c.Node, row != nil, c.Node)
		}
	case "update":
		if ref == nil || row == nil {
			t.Fatalf("%+v: updated row missing (n1 %v, %s %v)", c, ref != nil, c.Node, row != nil)
		}
		var a, b map[string]json.RawMessage
		if err := json.Unmarshal(ref, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(row, &b); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a[c.Column], b[c.Column]) {
			t.Errorf("%+v: column unchanged: %s", c, a[c.Column])
		}
		delete(a, c.Column)
		delete(b, c.Column)
		if c.Column == "price" {
			delete(a, "total")
			delete(b, "total")
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%+v: columns other than %s changed:\nn1 %s\n%s %s", c, c.Column, ref, c.Node, row)
		}
	default:
		t.Errorf("%+v: unknown kind", c)
	}
}

// readSample returns every row of every sample table on every node as JSON, by node, table and key.
func readSample(ctx context.Context, t *testing.T, conns map[string]string) map[string]map[string]map[string]json.RawMessage {
	t.Helper()
	out := map[string]map[string]map[string]json.RawMessage{}
	for node, cs := range conns {
		conn, err := pgx.Connect(ctx, cs)
		if err != nil {
			t.Fatalf("connect %s: %v", node, err)
		}
		out[node] = map[string]map[string]json.RawMessage{}
		for _, table := range SampleTables {
			rows, err := conn.Query(ctx, "SELECT "+sampleKeys[table].text+", to_jsonb(t)::text FROM "+table+" t")
			if err != nil {
				t.Fatalf("%s %s: %v", node, table, err)
			}
			byKey := map[string]json.RawMessage{}
			for rows.Next() {
				var key, row string
				if err := rows.Scan(&key, &row); err != nil {
					t.Fatalf("%s %s: %v", node, table, err)
				}
				byKey[key] = json.RawMessage(row)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s %s: %v", node, table, err)
			}
			out[node][table] = byKey
		}
		conn.Close(ctx)
	}
	return out
}
