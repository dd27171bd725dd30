package history

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestDialectSQL(t *testing.T) {
	q := "SELECT a FROM @runs r JOIN @run_tables t ON t.run_id = r.id WHERE a = ? AND b IN (?, ?)"
	cases := []struct {
		d    dialect
		want string
	}{
		{dialect{}, `SELECT a FROM "runs" r JOIN "run_tables" t ON t.run_id = r.id WHERE a = ? AND b IN (?, ?)`},
		{dialect{postgres: true}, `SELECT a FROM "pgparity_history"."runs" r JOIN "pgparity_history"."run_tables" t ON t.run_id = r.id WHERE a = $1 AND b IN ($2, $3)`},
	}
	for _, c := range cases {
		if got := c.d.sql(q); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.d, got, c.want)
		}
	}
}

func TestDialectTime(t *testing.T) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 500, time.FixedZone("x", 3600))
	if got := (dialect{}).time(at); got != "2024-03-01T11:00:00.000000Z" {
		t.Errorf("SQLite time %v", got)
	}
	if got := (dialect{postgres: true}).time(at); got != time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC) {
		t.Errorf("PostgreSQL time %v", got)
	}
	// Text order is time order, whatever the fraction.
	a, b := (dialect{}).time(at.Add(500*time.Millisecond)).(string), (dialect{}).time(at.Add(450*time.Millisecond+time.Microsecond)).(string)
	if !(b < a) {
		t.Errorf("%s sorts after %s", b, a)
	}
	var got time.Time
	if err := (scanTime{&got}).Scan("2024-03-01T11:00:00.000001Z"); err != nil || !got.Equal(time.Date(2024, 3, 1, 11, 0, 0, 1000, time.UTC)) {
		t.Errorf("scan %v %v", got, err)
	}
}

func TestEncodeKey(t *testing.T) {
	cases := []struct {
		key  Key
		want string
	}{
		{Key{"1"}, `["1"]`},
		{Key{"a,b", "c"}, `["a,b","c"]`},
		{Key{"a", "b,c"}, `["a","b,c"]`},
		{Key{`q"b\`, "<&>"}, `["q\"b\\","<&>"]`},
		{Key{"tab\tnl\ncr\r\x01", "ünï ☃"}, `["tab\tnl\ncr\r\u0001","ünï ☃"]`},
		{Key{""}, `[""]`},
	}
	for _, c := range cases {
		got, err := encodeKey(c.key)
		if err != nil || got != c.want {
			t.Errorf("encodeKey(%q) = %s, %v; want %s", c.key, got, err, c.want)
			continue
		}
		var back Key
		if err := json.Unmarshal([]byte(got), &back); err != nil || !reflect.DeepEqual(back, c.key) {
			t.Errorf("%s decodes to %q, %v", got, back, err)
		}
	}
	for _, bad := range []Key{nil, {"ok", "\xff"}} {
		if _, err := encodeKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("encodeKey(%q): %v, want ErrInvalidKey", bad, err)
		}
	}
	if got, _ := encodeNodes([]string{"n3", "n1", "n3"}); got != `["n1","n3"]` {
		t.Errorf("encodeNodes: %s", got)
	}
}

func TestQueries(t *testing.T) {
	since := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	pg := dialect{postgres: true}
	q, args := runsQuery(RunFilter{Cluster: "c", Table: "public.t", Command: "verify", Since: since, Limit: 5}, pg)
	wantQ := `SELECT r.id, r.command, r.cluster, r.tables, r.options, r.started_at, r.finished_at, r.status,
 r.exit_code, r.differing_keys, r.transient_keys, r.rows_compared, r.coverage, r.diff_file, r.error
FROM "pgparity_history"."runs" r
WHERE r.cluster = $1 AND r.command = $2 AND EXISTS (SELECT 1 FROM "pgparity_history"."run_tables" t WHERE t.table_name = $3 AND t.run_id = r.id) AND r.started_at >= $4
ORDER BY r.started_at DESC, r.id DESC
LIMIT $5`
	if got := pg.sql(q); got != wantQ {
		t.Errorf("runs query:\n%s\nwant\n%s", got, wantQ)
	}
	if want := []any{"c", "verify", "public.t", since, 5}; !reflect.DeepEqual(args, want) {
		t.Errorf("runs args %v, want %v", args, want)
	}

	q, args = divergencesQuery(DivergenceFilter{Table: "public.t", Open: true, Since: since}, dialect{})
	wantQ = `SELECT id, cluster, table_name, key, nodes, first_seen_run, first_seen_at, last_seen_run, last_seen_at,
 last_repair_run, last_repair_at, resolved_run, resolved_at, resolved_by_repair_run
FROM "divergences"
WHERE table_name = ? AND resolved_run IS NULL AND last_seen_at >= ?
ORDER BY last_seen_at DESC, id DESC`
	if got := (dialect{}).sql(q); got != wantQ {
		t.Errorf("divergences query:\n%s\nwant\n%s", got, wantQ)
	}
	if want := []any{"public.t", "2024-01-02T03:04:05.000000Z"}; !reflect.DeepEqual(args, want) {
		t.Errorf("divergences args %v, want %v", args, want)
	}

	q, args = upsertQuery(7, "c", "public.t", map[string]string{`["b"]`: `["n1"]`, `["a"]`: `["n2"]`})
	wantQ = `INSERT INTO "pgparity_history"."divergences" AS d (cluster, table_name, key, nodes, first_seen_run, first_seen_at, last_seen_run, last_seen_at)
SELECT $1, $2, v.column1, v.column2, r.id, r.started_at, r.id, r.started_at
FROM (VALUES ($3, $4), ($5, $6)) AS v, "pgparity_history"."runs" r
WHERE r.id = $7
ON CONFLICT (cluster, table_name, key) WHERE resolved_run IS NULL DO UPDATE SET
 nodes = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.nodes ELSE d.nodes END,
 last_seen_run = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.last_seen_run ELSE d.last_seen_run END,
 last_seen_at = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.last_seen_at ELSE d.last_seen_at END,
 first_seen_run = CASE WHEN excluded.first_seen_at < d.first_seen_at THEN excluded.first_seen_run ELSE d.first_seen_run END,
 first_seen_at = CASE WHEN excluded.first_seen_at < d.first_seen_at THEN excluded.first_seen_at ELSE d.first_seen_at END`
	if got := pg.sql(q); got != wantQ {
		t.Errorf("upsert query:\n%s\nwant\n%s", got, wantQ)
	}
	if want := []any{"c", "public.t", `["a"]`, `["n2"]`, `["b"]`, `["n1"]`, int64(7)}; !reflect.DeepEqual(args, want) {
		t.Errorf("upsert args %v, want %v", args, want)
	}
}

func TestMigrationsNumbered(t *testing.T) {
	lite, err := dialect{}.migrations()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := dialect{postgres: true}.migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations: each schema version needs both", len(lite), len(pg))
	}
}
