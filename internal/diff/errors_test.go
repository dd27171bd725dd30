package diff

import (
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// wantInput checks that err is an input error whose message contains every part.
func wantInput(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want an input error containing %q", parts)
	}
	if !fault.IsInput(err) {
		t.Errorf("error %T is not an input error: %v", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestTableMissingOnANode(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY)`, "n1", "n3")
	db.Exec(t, `CREATE VIEW t AS SELECT 1 AS id`, "n4") // a view is not a table
	pools := connectK(t, db, 4)
	d, err := collect(testContext(t), pools, opts("t"))
	wantInput(t, err, `"public"."t"`, "n2, n4")
	if d != nil {
		t.Error("a diff was returned with the error")
	}
	if strings.Contains(err.Error(), "n1") || strings.Contains(err.Error(), "n3") {
		t.Errorf("error %q names nodes that have the table", err)
	}
	_, err = collect(testContext(t), pools, Options{Schema: "nope", Table: "t", BlockSize: 10, MaxDiffRows: 1})
	wantInput(t, err, `"nope"."t"`, "n1, n2, n3, n4")
}

func TestColumnsDifferBetweenNodes(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, a int, b text, c text)`, "n1")
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, a bigint, b text, d text)`, "n2")
	db.Exec(t, `INSERT INTO t (id, a, b) SELECT i, i, 'b' FROM generate_series(1, 30) i`, "n1", "n2")
	db.Exec(t, `UPDATE t SET b = 'x' WHERE id = 4`, "n2")
	pools := connectK(t, db, 2)
	_, err := collect(testContext(t), pools, opts("t"))
	wantInput(t, err, `column "a" is integer on n1 but bigint on n2`, `column "c" is on n1 but not on n2`,
		`column "d" is on n2 but not on n1`)

	o := opts("t")
	o.Columns = []string{"id", "b"}
	d := mustRun(t, pools, o)
	wantLines(t, "rows", render(t, d), []string{`4 n1=4|"b" n2=4|"x"`})
	if got := columnsText(d); got != "id:integer b:text" {
		t.Errorf("columns %s", got)
	}
	if len(d.Skipped) != 2 || d.Skipped[0].Name != "a" || d.Skipped[1].Name != "c" {
		t.Errorf("skipped %+v", d.Skipped)
	}

	o = opts("t")
	o.ExcludeColumns = []string{"a", "c", "d"}
	d = mustRun(t, pools, o)
	wantLines(t, "rows with exclusions", diffKeys(d), []string{"4"})
	if got := columnsText(d); got != "id:integer b:text" {
		t.Errorf("columns with exclusions %s", got)
	}

	o = opts("t")
	o.Columns = []string{"b", "c"} // c is not on n2
	_, err = collect(testContext(t), pools, o)
	wantInput(t, err, `column "c"`, "n2")

	o = opts("t")
	o.ExcludeColumns = []string{"id"}
	o.Columns = []string{"b"}
	_, err = collect(testContext(t), pools, o)
	wantInput(t, err, `"id"`, "key")
}

func TestKeyDiffersBetweenNodes(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`, "n1")
	db.Exec(t, `CREATE TABLE t (id int NOT NULL, v int NOT NULL, PRIMARY KEY (v))`, "n2")
	_, err := collect(testContext(t), connectK(t, db, 2), opts("t"))
	wantInput(t, err, "key", "n1", "n2")
}

func TestBadOptions(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY)`, "n1", "n2")
	pools := connectK(t, db, 2)
	o := opts("t")
	o.BlockSize = 9
	_, err := collect(testContext(t), pools, o)
	wantInput(t, err, "block-size")
	o = opts("t")
	o.MaxDiffRows = -1
	_, err = collect(testContext(t), pools, o)
	wantInput(t, err, "max-diff-rows")
	o = opts("t")
	o.Columns = []string{"nope"}
	_, err = collect(testContext(t), pools, o)
	wantInput(t, err, `"nope"`, "does not exist")
	o = opts("t")
	o.ExcludeColumns = []string{"nope"}
	_, err = collect(testContext(t), pools, o)
	wantInput(t, err, `"nope"`, "does not exist")
}

func TestWhere(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, "Mixed Case" int);
		INSERT INTO t SELECT i, 'v', i FROM generate_series(1, 200) i;
		CREATE TABLE x (id int); CREATE TABLE m (a int, b text);
		INSERT INTO m SELECT i, 'v' FROM generate_series(1, 20) i`, nodeNames(3)...)
	db.Exec(t, `UPDATE t SET v = 'w' WHERE id IN (3, 4, 150, 151); DELETE FROM t WHERE id IN (10, 11);
		INSERT INTO t VALUES (1000, 'new', 0), (1001, 'new', 0); UPDATE m SET b = 'w' WHERE a IN (2, 3)`, "n2")
	pools := connectK(t, db, 3)

	bad := []struct{ where, want string }{
		{"nope > 0", `column "nope" does not exist`},
		{"id + 1", "must be type boolean"},
		{"1=1; DROP TABLE x", "';' is not allowed"},
		{"id > 0) UNION SELECT 1 FROM pg_class WHERE (true", "unbalanced ')'"},
		{"id > 0 -- comment", "comments"},
		{"id > 0 /* c */", "comments"},
		{"(id > 0", "unbalanced '('"},
		{"v = 'x", "unterminated string"},
		{`"v = 'x'`, "unterminated quoted identifier"},
		{"   ", "empty"},
		{"id IN (SELECT 1)", "subquer"},
		{"id IN (SELECT id FROM public.x)", "subquer"},
		{"EXISTS (SELECT 1 FROM pg_catalog.pg_class)", "subquer"},
		{"id = (SELECT max(id) FROM public.x)", "subquer"},
		{"id = ANY (ARRAY(SELECT id FROM public.x))", "subquer"},
		{"id IN (VALUES (1), (2))", "subquer"},
		{"id = $1", "parameters"},
		{"id = $1 + 0", "parameters"},
		{"pg_catalog.pg_sleep(0) IS NULL AND count(*) > 0", "aggregate"},
		{whereInjection, "unbalanced ')'"},
	}
	for _, c := range bad {
		o := opts("t")
		o.Where = c.where
		d, err := collect(testContext(t), pools, o)
		if err == nil {
			t.Errorf("where %q accepted (status %s)", c.where, d.Summary.Status)
			continue
		}
		if !fault.IsInput(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("where %q: %T %v, want an input error containing %q", c.where, err, err, c.want)
		}
	}
	// The DROP was never run: x still exists everywhere.
	for _, p := range pools {
		var n int
		if err := p.QueryRow(testContext(t), `SELECT count(*) FROM public.x`).Scan(&n); err != nil {
			t.Errorf("%s: table x: %v", p.Node.Name, err)
		}
	}

	// A valid filter restricts both the rows compared and the differences found.
	o := opts("t")
	o.Where = "id % 2 = 0"
	d := mustRun(t, pools, o)
	wantLines(t, "even rows", render(t, d, "v"), []string{
		`10 n1="v" n2=- n3="v"`, `1000 n1=- n2="new" n3=-`, `150 n1="v" n2="w" n3="v"`, `4 n1="v" n2="w" n3="v"`,
	})
	wantSummary(t, d, report.StatusDiffer, 4, "n1/n2=4 n1/n3=0 n2/n3=4", "n1=1 n2=1 n3=1", "n1=100 n2=100 n3=100")
	if d.Options.Where != "id % 2 = 0" {
		t.Errorf("options where %q", d.Options.Where)
	}

	// Quoted names, strings with parentheses and semicolons, dollar quotes and casts are fine.
	o = opts("t")
	o.Where = `"Mixed Case" < 5 OR v = ');--' OR v = $q$;)$q$ OR id::text = E'\'' OR id = 1000`
	d = mustRun(t, pools, o)
	wantLines(t, "filtered rows", diffKeys(d), []string{"1000", "1001", "3", "4"})
	wantSummary(t, d, report.StatusDiffer, 4, "", "", "n1=4 n2=6 n3=4")

	// A constant filter and a filter on a partitioned table are plans without any subquery.
	o = opts("t")
	o.Where = "false AND id > 0"
	d = mustRun(t, pools, o)
	wantSummary(t, d, report.StatusMatch, 0, "", "", each(3, 0))

	// Whole-row mode honours the filter too.
	o = opts("m")
	o.Where = "a >= 3"
	d = mustRun(t, pools, o)
	wantLines(t, "whole-row rows", renderValues(t, d, "a", "b"), []string{
		`n1=- n2=3|"w" n3=- counts n1=0 n2=1 n3=0`, `n1=3|"v" n2=- n3=3|"v" counts n1=1 n2=0 n3=1`,
	})
	wantSummary(t, d, report.StatusDiffer, 2, "", "", each(3, 18))
}

func TestSubplan(t *testing.T) {
	cases := []struct{ plan, want string }{
		{`[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Alias": "pgparity_t"}}]`, ""},
		{`[{"Plan": {"Node Type": "Append", "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Member",
			"Relation Name": "p1", "Alias": "pgparity_t_1"}, {"Node Type": "Bitmap Heap Scan", "Alias": "pgparity_t_12",
			"Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "p2_pkey"}]}]}}]`, ""},
		{`[{"Plan": {"Node Type": "Result", "One-Time Filter": "false"}}]`, ""},
		{`[{"Plan": {"Node Type": "Seq Scan", "Alias": "pgparity_t", "Plans": [{"Node Type": "Result",
			"Parent Relationship": "SubPlan", "Subplan Name": "SubPlan 1"}]}}]`, "subquery"},
		{`[{"Plan": {"Node Type": "Seq Scan", "Alias": "pgparity_t", "Plans": [{"Node Type": "Seq Scan",
			"Parent Relationship": "InitPlan", "Alias": "x"}]}}]`, "subquery"},
		{`[{"Plan": {"Node Type": "Nested Loop", "Plans": [{"Node Type": "Values Scan", "Alias": "*VALUES*"},
			{"Node Type": "Index Only Scan", "Alias": "pgparity_t"}]}}]`, "subquery (Nested Loop)"},
		{`[{"Plan": {"Node Type": "Append", "Plans": [{"Node Type": "Seq Scan", "Alias": "pgparity_t"},
			{"Node Type": "Seq Scan", "Alias": "pg_class"}]}}]`, "subquery (scan of pg_class)"},
		{`[{"Plan": {"Node Type": "Seq Scan", "Alias": "pgparity_tx"}}]`, "subquery (scan of pgparity_tx)"},
		{`not json`, "plan that cannot be read"},
	}
	for _, c := range cases {
		if got := subplan(c.plan); got != c.want {
			t.Errorf("subplan(%s) = %q, want %q", c.plan, got, c.want)
		}
	}
}

// whereInjection closes the filter's parenthesis and appends a UNION, hidden from a lexer that
// takes the "e" of name'\' for an escape-string prefix. PostgreSQL reads it as
// (v::text = name '\') UNION SELECT 1 FROM pg_class WHERE (' ' = E'\”).
const whereInjection = `v::text = name'\' ) UNION SELECT 1 FROM pg_class WHERE (' ' = E'\''`

// TestCheckWhereText covers the lexical checks that run before any node sees the filter.
func TestCheckWhereText(t *testing.T) {
	cases := []struct {
		where string
		ok    bool
	}{
		{"id > 0", true},
		{"(a = 1) AND (b = 2)", true},
		{"v = ')'", true},
		{"v = ';'", true},
		{"v = '--'", true},
		{"v = 'it''s'", true},
		{`v = E'\''`, true},
		{`v = e'a\'b'`, true},
		{`"we;ird)" = 1`, true},
		{"v = $$;)$$", true},
		{"v = $tag$ ) -- $tag$", true},
		{"a$b = 1", true}, // $ inside an identifier is no dollar quote
		{"id = $1", false},
		{"(SELECT true)", false},
		{"id IN (TABLE x)", false},
		{"id = ANY(ARRAY(select 1))", false},
		{`"select" = 1 AND "table" > 0 AND selection = 2 AND xvalues = 1 AND select_ = 1`, true},
		{"v = 'SELECT 1'", true},
		{"x ->> 'a' = 'b'", true},
		{"id > 0; DROP TABLE t", false},
		{"id > 0 -- x", false},
		{"id > 0 /* x */", false},
		{"id > 0)", false},
		{"(id > 0", false},
		{"id > 0) OR (true", false},
		{"v = 'x", false},
		{`v = E'x\'`, false},
		{`"x = 1`, false},
		{"v = $q$ x", false},
		{"", false},
		{"  \t ", false},
		{"a$b$c = 1", true},      // an identifier holding $ signs, not a dollar quote
		{"a$b$ = $b$)$b$", true}, // the same, then a real dollar quote
		{"a$b$ = 1) OR (true", false},
		{`x = e'\\'`, true},
		{`"x"E'\'' = v`, true},
		{`U&'d\0061t' = v`, true},
		// A standard string after an identifier ending in e (a typed literal such as name '...')
		// is not an escape string: its backslash does not escape the quote, so ")" is live SQL.
		{whereInjection, false},
		{`v = name'\' ) OR (true`, false},
	}
	for _, c := range cases {
		err := checkWhereText(c.where)
		if (err == nil) != c.ok {
			t.Errorf("checkWhereText(%q) = %v, want ok=%v", c.where, err, c.ok)
		}
		if err != nil && !fault.IsInput(err) {
			t.Errorf("checkWhereText(%q): %T is not an input error", c.where, err)
		}
	}
}

// TestWhereOnColumnsNamedLikeGeneratedNames: the filter is the user's SQL over the table's
// columns; names the generated SQL uses for itself (ord, k1, h, rn, b, s) must not capture or
// clash with them.
func TestWhereOnColumnsNamedLikeGeneratedNames(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (id int PRIMARY KEY, ord int, k1 int, h int, rn int, b int, s int, v text);
		INSERT INTO w SELECT i, i, i, i, i, i, i, 'v' FROM generate_series(1, 100) i;
		CREATE TABLE wm (ord int, k1 int, h int, v text);
		INSERT INTO wm SELECT i, i, i, 'v' FROM generate_series(1, 20) i`, "n1", "n2")
	db.Exec(t, `UPDATE w SET v = 'x' WHERE id IN (10, 60); UPDATE wm SET v = 'x' WHERE ord IN (5, 15)`, "n2")
	pools := connectK(t, db, 2)
	for _, where := range []string{"ord > 50", "k1 > 50", "h > 50", "rn > 50", "b > 50", "s > 50"} {
		o := opts("w")
		o.Where = where
		d, err := collect(testContext(t), pools, o)
		if err != nil {
			t.Errorf("where %q: %v", where, err)
			continue
		}
		wantLines(t, "rows where "+where, diffKeys(d), []string{"60"})
	}
	for _, where := range []string{"ord > 10", "k1 > 10", "h > 10"} {
		o := opts("wm")
		o.Where = where
		d, err := collect(testContext(t), pools, o)
		if err != nil {
			t.Errorf("whole row, where %q: %v", where, err)
			continue
		}
		wantLines(t, "whole-row rows where "+where, renderValues(t, d, "ord", "v"), []string{
			`n1=- n2=15|"x" counts n1=0 n2=1`, `n1=15|"v" n2=- counts n1=1 n2=0`,
		})
	}
}

func TestWhereOnPartitionedTable(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
		CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
		CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200);
		INSERT INTO p SELECT i, 'v' FROM generate_series(0, 199) i`, "n1", "n2")
	db.Exec(t, `UPDATE p SET v = 'x' WHERE id IN (20, 120, 121)`, "n2")
	o := opts("p")
	o.Where = "id >= 50 AND v IS NOT NULL"
	d := mustRun(t, connectK(t, db, 2), o)
	wantLines(t, "rows", diffKeys(d), []string{"120", "121"})
	wantSummary(t, d, report.StatusDiffer, 2, "n1/n2=2", "n1=0 n2=0", "n1=150 n2=150")
}
