package sandbox

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/fault"
)

// SampleTables lists the sample tables as schema-qualified names, e.g. "public.wide".
var SampleTables = []string{"public.wide", "public.order_lines", `public."MixedCase"`}

// MinDivergeRows is the smallest row count Diverge accepts: every key it touches must exist and the
// keys must be distinct.
const MinDivergeRows = 100

// sampleSettings are sent in the startup packet of every sample connection. The generated values
// do not depend on them (every timestamptz literal carries its offset), but pinning them keeps the
// load independent of server defaults; synchronous_commit=off and a large maintenance_work_mem
// make loading and building the primary keys fast.
var sampleSettings = map[string]string{
	"TimeZone":             "UTC",
	"DateStyle":            "ISO, YMD",
	"IntervalStyle":        "postgres",
	"search_path":          "",
	"synchronous_commit":   "off",
	"maintenance_work_mem": "256MB",
	"application_name":     "pgparity-sample",
}

// sampleSchema drops and recreates the sample tables without their primary keys, which are added
// after the rows are loaded (one sorted index build instead of a million insertions).
var sampleSchema = []string{
	`DROP TABLE IF EXISTS public.wide, public.order_lines, public."MixedCase"`,
	`DROP TYPE IF EXISTS public.mood`,
	`CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')`,
	`CREATE TABLE public.wide (
	id      bigint NOT NULL,
	small   smallint,
	num     integer,
	big     bigint,
	qty     integer,
	price   numeric(18,4),
	total   numeric GENERATED ALWAYS AS (qty * price) STORED,
	ratio   real,
	score   double precision,
	note    text,
	label   varchar(40),
	code    char(8),
	payload bytea,
	active  boolean,
	day     date,
	created timestamp,
	updated timestamptz,
	span    interval,
	uid     uuid,
	doc     jsonb,
	tags    text[],
	mood    public.mood,
	addr    inet
)`,
	`CREATE TABLE public.order_lines (
	order_no text NOT NULL,
	line     integer NOT NULL,
	sku      text NOT NULL,
	qty      integer NOT NULL,
	price    numeric(12,2) NOT NULL,
	note     text
)`,
	`CREATE TABLE public."MixedCase" (
	"Id"         integer NOT NULL,
	"Name"       text,
	"Value"      double precision,
	"select"     text,
	"Created At" timestamptz
)`,
}

// samplePrimaryKeys are added once the rows are in.
var samplePrimaryKeys = []string{
	`ALTER TABLE public.wide ADD PRIMARY KEY (id)`,
	`ALTER TABLE public.order_lines ADD PRIMARY KEY (order_no, line)`,
	`ALTER TABLE public."MixedCase" ADD PRIMARY KEY ("Id")`,
}

// insertWide inserts the rows with ids $1..$2 of public.wide. Every value is a function of the id
// alone (md5 of its text, modulo arithmetic), so the same id yields the same row on every node and
// every call; Diverge uses it for the rows it inserts. k = |id| keeps the modulo arithmetic within
// each column's range for the negative ids Diverge inserts. Special rows: NULL in every nullable
// column at some period, empty strings, arrays and bytea, JSON null, text with unicode, quotes, '|',
// ',', backslashes and line breaks, bigint beyond 2^53, NaN, ±Infinity and -0 in score, and an
// infinite date.
const insertWide = `INSERT INTO public.wide (id, small, num, big, qty, price, ratio, score, note, label,
	code, payload, active, day, created, updated, span, uid, doc, tags, mood, addr)
SELECT g.id,
	(x.k % 65536 - 32768)::smallint,
	CASE WHEN x.k % 13 = 0 THEN NULL ELSE ((x.k * 7919) % 2147483647 - 1073741823)::integer END,
	CASE x.k % 4
		WHEN 0 THEN 9007199254740993 + x.k * 1000003
		WHEN 1 THEN -9007199254740993 - x.k * 1000003
		WHEN 2 THEN 9223372036854775807 - x.k
		ELSE x.k END,
	CASE WHEN x.k % 17 = 0 THEN NULL ELSE (x.k % 50)::integer END,
	(x.k % 100000)::numeric / 100 + (x.k % 7)::numeric / 10000,
	((x.k % 1000)::numeric / 7)::real,
	CASE x.k % 1000
		WHEN 500 THEN 'NaN'::double precision
		WHEN 501 THEN 'Infinity'::double precision
		WHEN 502 THEN '-Infinity'::double precision
		WHEN 503 THEN '-0'::double precision
		ELSE CASE WHEN x.k % 19 = 0 THEN NULL ELSE x.k::double precision / 3 END END,
	CASE x.k % 10
		WHEN 0 THEN NULL
		WHEN 1 THEN ''
		WHEN 2 THEN 'Grüße, 世界 🌍 № ' || g.id
		WHEN 3 THEN 'it''s "quoted" | piped, comma; ' || g.id
		WHEN 4 THEN E'line one\nline two\r\n\ttabbed ' || g.id
		WHEN 5 THEN E'back\\slash C:\\dir\\ ' || g.id
		ELSE repeat(x.h, 1 + (x.k % 2)::integer) END,
	'label-' || substr(x.h, 1, 4 + (x.k % 20)::integer),
	upper(substr(x.h, 9, 1 + (x.k % 8)::integer)),
	CASE WHEN x.k % 23 = 0 THEN NULL ELSE decode(substr(x.h || x.h, 1, 2 * (x.k % 24)::integer), 'hex') END,
	CASE x.k % 3 WHEN 0 THEN true WHEN 1 THEN false END,
	CASE WHEN x.k % 1000 = 504 THEN 'infinity'::date ELSE date '2000-01-01' + (x.k % 10000)::integer END,
	timestamp '2020-01-01 00:00:00' + (g.id % 1000000000) * interval '37 seconds',
	timestamptz '2021-03-04 05:06:07.123456+00' + (g.id % 1000000000) * interval '1234567 microseconds',
	make_interval(months => (x.k % 14)::integer, days => (x.k % 40)::integer, hours => (x.k % 24)::integer,
		mins => (x.k % 60)::integer, secs => (x.k % 1000)::double precision / 1000),
	x.h::uuid,
	CASE
		WHEN x.k % 29 = 0 THEN NULL
		WHEN x.k % 31 = 0 THEN 'null'::jsonb
		ELSE jsonb_build_object('price', ((x.k % 100000)::numeric / 100)::numeric(12,2), 'ok', x.k % 2 = 0,
			'tags', jsonb_build_array('a' || x.k % 5, x.k % 7), 'nested', jsonb_build_object('z', x.k % 5, 'empty', NULL)) END,
	CASE x.k % 11
		WHEN 0 THEN NULL
		WHEN 1 THEN '{}'::text[]
		WHEN 2 THEN ARRAY['a', NULL, 'c,' || g.id]
		WHEN 3 THEN ARRAY['with "quote"', 'brace{}', '']
		ELSE ARRAY['tag' || x.k % 7, 'tag' || x.k % 13] END,
	CASE WHEN x.k % 37 = 0 THEN NULL ELSE ('{sad,ok,happy}'::public.mood[])[(1 + x.k % 3)::integer] END,
	CASE
		WHEN x.k % 7 = 0 THEN ('2001:db8:0:' || to_hex((x.k >> 32) & 65535) || ':0:0:'
			|| to_hex((x.k >> 16) & 65535) || ':' || to_hex(x.k & 65535))::inet
		ELSE ('10.' || (x.k >> 16) % 256 || '.' || (x.k >> 8) % 256 || '.' || x.k % 256
			|| CASE WHEN x.k % 5 = 0 THEN '/24' ELSE '' END)::inet END
FROM generate_series($1::bigint, $2::bigint) AS g(id)
	CROSS JOIN LATERAL (SELECT abs(g.id) AS k, md5(g.id::text) AS h) AS x`

// insertOrderLines inserts $1 order lines, three per order: order_no 'ord-000001' (zero-padded to
// six digits), line 1..3.
const insertOrderLines = `INSERT INTO public.order_lines (order_no, line, sku, qty, price, note)
SELECT 'ord-' || lpad(o::text, greatest(6, length(o::text)), '0'),
	(i % 3 + 1)::integer,
	'SKU-' || upper(substr(md5('sku' || i), 1, 6)),
	(1 + i % 9)::integer,
	(i % 5000)::numeric / 100 + 0.99,
	CASE i % 4 WHEN 0 THEN 'gift wrap' WHEN 1 THEN '' END
FROM generate_series(0, $1::bigint - 1) AS g(i)
	CROSS JOIN LATERAL (SELECT i / 3 + 1 AS o) AS x`

// insertMixedCase inserts $1 rows with "Id" 1..$1.
const insertMixedCase = `INSERT INTO public."MixedCase" ("Id", "Name", "Value", "select", "Created At")
SELECT i,
	CASE WHEN i % 5 = 0 THEN NULL ELSE 'Name ' || i END,
	i * 1.1::double precision,
	('{from,where,"group by"}'::text[])[1 + i % 3],
	timestamptz '2022-06-01 12:00:00+00' + i * interval '1 hour'
FROM generate_series(1, $1::integer) AS g(i)`

// LoadSample creates schema/types/tables on one database (given by a pgx connection string) and
// loads `rows` rows in the wide table (rows/2 in order_lines, rows/10 in "MixedCase"), deterministic
// (same content for same rows on every call/node), then ANALYZE. Idempotent: drops and recreates the
// sample tables (and the enum type public.mood) in one transaction.
func LoadSample(ctx context.Context, connString string, rows int) error {
	if rows < 0 {
		return fault.Input("sample rows must not be negative, got %d", rows)
	}
	conn, err := connectSample(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, sql := range sampleSchema {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("create sample schema: %w", err)
			}
		}
		loads := []struct {
			table string
			sql   string
			args  []any
		}{
			{"public.wide", insertWide, []any{1, rows}},
			{"public.order_lines", insertOrderLines, []any{rows / 2}},
			{`public."MixedCase"`, insertMixedCase, []any{rows / 10}},
		}
		for _, l := range loads {
			if _, err := tx.Exec(ctx, l.sql, l.args...); err != nil {
				return fmt.Errorf("load sample table %s: %w", l.table, err)
			}
		}
		for _, sql := range samplePrimaryKeys {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("add sample primary key: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `ANALYZE public.wide, public.order_lines, public."MixedCase"`); err != nil {
		return fmt.Errorf("analyze sample tables: %w", err)
	}
	return nil
}

func connectSample(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fault.Input("sample connection string: %w", err)
	}
	for k, v := range sampleSettings {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	return conn, nil
}

// Change describes one divergence applied by Diverge.
type Change struct {
	Node   string // node the change was made on
	Table  string // one of SampleTables
	Key    string // key value as text; composite keys joined with ","
	Kind   string // "update", "delete" or "insert"
	Column string // the column an update sets; empty for deletes and inserts
}

// divergeStep is one change and the statement that makes it; the statement affects exactly one row.
type divergeStep struct {
	Change
	sql  string
	args []any
}

// Diverge applies the documented divergences: connStrings maps node name -> connection string
// (nodes named n1..nN; n1 is left untouched as the reference; n2 and, if present, n3 get changes).
// rows is what LoadSample was called with (at least MinDivergeRows). Returns exactly the changes
// made, deterministic: n2's in the order below, then n3's. Each node's changes are one transaction,
// and each statement must affect exactly one row, so Diverge fails on a database it already
// diverged; on failure it returns the changes of the nodes already committed. Nodes other than n2
// and n3 are not touched.
//
// On n2 (20 changes):
//   - public.wide updates: 1 note (text, same new value as on n3), 2 price (numeric; the generated
//     total follows), 3 updated (timestamptz, +1 microsecond), 4 doc (jsonb, key added), 5 payload
//     (bytea), 6 tags (text[], second element set to NULL), 7 active (boolean, false -> true),
//     10 note (NULL -> value), 11 label (value -> NULL), 12 big (+1 on a value beyond 2^53, lost in
//     float64), 13 mood (enum, ok -> happy);
//   - public.wide deletes: 20, rows/2, rows (the largest key);
//   - public.wide inserts: -5 (below the smallest key) and rows+1000 (above the largest), generated
//     like the loaded rows;
//   - public.order_lines: update ord-000001,1 qty; delete ord-000002,2; insert ord-000003,4;
//   - public."MixedCase": update "Id" 3 column "select" (a reserved word).
//
// On n3 (4 changes, if present):
//   - public.wide update 1 note to the same value as on n2 (n2 and n3 agree, n1 differs);
//   - public.wide update 4 doc to a different value than on n2 (three versions of one row);
//   - public.wide update 31 span (interval, +1 day);
//   - public.wide delete 2 (which n2 updated: n1 original, n2 changed, n3 missing).
func Diverge(ctx context.Context, connStrings map[string]string, rows int) ([]Change, error) {
	if rows < MinDivergeRows {
		return nil, fault.Input("diverge needs a sample of at least %d rows, got %d", MinDivergeRows, rows)
	}
	if _, ok := connStrings["n2"]; !ok {
		return nil, fault.Input("diverge needs a node named n2")
	}
	var done []Change
	for _, node := range []string{"n2", "n3"} {
		cs, ok := connStrings[node]
		if !ok {
			continue
		}
		steps := divergeSteps(node, rows)
		if err := applySteps(ctx, node, cs, steps); err != nil {
			return done, err
		}
		for _, s := range steps {
			done = append(done, s.Change)
		}
	}
	return done, nil
}

// divergeSteps returns the changes Diverge makes on one node, in order (see Diverge).
func divergeSteps(node string, rows int) []divergeStep {
	wideUpdate := func(id int, column, set string, args ...any) divergeStep {
		return divergeStep{
			Change: Change{Node: node, Table: "public.wide", Key: strconv.Itoa(id), Kind: "update", Column: column},
			sql:    "UPDATE public.wide SET " + set + " WHERE id = $1",
			args:   append([]any{id}, args...),
		}
	}
	wideDelete := func(id int) divergeStep {
		return divergeStep{
			Change: Change{Node: node, Table: "public.wide", Key: strconv.Itoa(id), Kind: "delete"},
			sql:    "DELETE FROM public.wide WHERE id = $1",
			args:   []any{id},
		}
	}
	wideInsert := func(id int) divergeStep {
		return divergeStep{
			Change: Change{Node: node, Table: "public.wide", Key: strconv.Itoa(id), Kind: "insert"},
			sql:    insertWide,
			args:   []any{id, id},
		}
	}
	const sharedNote = "edited on n2 and n3" // the update n2 and n3 both make
	switch node {
	case "n2":
		return []divergeStep{
			wideUpdate(1, "note", "note = $2", sharedNote),
			wideUpdate(2, "price", "price = price + 1"),
			wideUpdate(3, "updated", "updated = updated + interval '1 microsecond'"),
			wideUpdate(4, "doc", `doc = doc || '{"edited": "n2"}'`),
			wideUpdate(5, "payload", `payload = '\xdeadbeef'::bytea`),
			wideUpdate(6, "tags", "tags[2] = NULL"),
			wideUpdate(7, "active", "active = NOT active"),
			wideUpdate(10, "note", "note = 'was NULL on n1'"),
			wideUpdate(11, "label", "label = NULL"),
			wideUpdate(12, "big", "big = big + 1"),
			wideUpdate(13, "mood", "mood = 'happy'"),
			wideDelete(20),
			wideDelete(rows / 2),
			wideDelete(rows),
			wideInsert(-5),
			wideInsert(rows + 1000),
			{
				Change: Change{Node: node, Table: "public.order_lines", Key: "ord-000001,1", Kind: "update", Column: "qty"},
				sql:    "UPDATE public.order_lines SET qty = qty + 1 WHERE order_no = $1 AND line = $2",
				args:   []any{"ord-000001", 1},
			},
			{
				Change: Change{Node: node, Table: "public.order_lines", Key: "ord-000002,2", Kind: "delete"},
				sql:    "DELETE FROM public.order_lines WHERE order_no = $1 AND line = $2",
				args:   []any{"ord-000002", 2},
			},
			{
				Change: Change{Node: node, Table: "public.order_lines", Key: "ord-000003,4", Kind: "insert"},
				sql:    "INSERT INTO public.order_lines (order_no, line, sku, qty, price, note) VALUES ($1, $2, 'SKU-N2', 1, 9.99, 'added on n2')",
				args:   []any{"ord-000003", 4},
			},
			{
				Change: Change{Node: node, Table: `public."MixedCase"`, Key: "3", Kind: "update", Column: "select"},
				sql:    `UPDATE public."MixedCase" SET "select" = 'into' WHERE "Id" = $1`,
				args:   []any{3},
			},
		}
	case "n3":
		return []divergeStep{
			wideUpdate(1, "note", "note = $2", sharedNote),
			wideUpdate(4, "doc", `doc = doc || '{"edited": "n3"}'`),
			wideUpdate(31, "span", "span = span + interval '1 day'"),
			wideDelete(2),
		}
	}
	return nil
}

// applySteps makes one node's changes in one transaction.
func applySteps(ctx context.Context, node, connString string, steps []divergeStep) error {
	conn, err := connectSample(ctx, connString)
	if err != nil {
		return fmt.Errorf("diverge %s: %w", node, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for i, s := range steps {
			tag, err := tx.Exec(ctx, s.sql, s.args...)
			if err != nil {
				return fmt.Errorf("diverge %s: change %d (%s of %s): %w", node, i+1, s.Kind, s.Table, err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("diverge %s: change %d (%s of %s) affected %d rows, want 1: is the sample loaded and not yet diverged?",
					node, i+1, s.Kind, s.Table, tag.RowsAffected())
			}
		}
		return nil
	})
}
