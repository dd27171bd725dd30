package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestIdenticalTablesMatch(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, n numeric, f float8);
		INSERT INTO t SELECT i, 'v' || i, i / 7.0, i / 3.0 FROM generate_series(1, 237) i;
		ANALYZE t`, nodeNames(3)...)
	pools := connectK(t, db, 3)
	d := mustRun(t, pools, opts("t"))
	wantSummary(t, d, report.StatusMatch, 0, "n1/n2=0 n1/n3=0 n2/n3=0", each(3, 0), each(3, 237))
	// How many ranges a plan makes is the planner's business; blocks of 10 rows make many.
	if d.Summary.Ranges < 10 || d.Summary.RangesDiffering != 0 {
		t.Errorf("ranges %d (%d differing), want at least 10 (0)", d.Summary.Ranges, d.Summary.RangesDiffering)
	}
	if d.KeySource != "primary key" || fmt.Sprint(d.Key) != "[id]" {
		t.Errorf("key %v from %q", d.Key, d.KeySource)
	}
	if fmt.Sprint(d.Nodes) != "[n1 n2 n3]" || d.Table != (report.TableRef{Schema: "public", Name: "t"}) {
		t.Errorf("nodes %v, table %v", d.Nodes, d.Table)
	}
	wantCols := "id:integer v:text n:numeric f:double precision"
	if got := columnsText(d); got != wantCols {
		t.Errorf("columns %s, want %s", got, wantCols)
	}
	if d.Format != report.Format || d.Tool != "test" || d.Options.RowHash == "" || d.Options.BlockSize != 10 {
		t.Errorf("header: format %q tool %q options %+v", d.Format, d.Tool, d.Options)
	}
}

func TestEmptyTablesMatch(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, nodeNames(2)...)
	d := mustRun(t, connectK(t, db, 2), opts("t"))
	wantSummary(t, d, report.StatusMatch, 0, "n1/n2=0", each(2, 0), each(2, 0))
}

func columnsText(d *report.Diff) string {
	parts := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		parts[i] = c.Name + ":" + c.Type
	}
	return strings.Join(parts, " ")
}

// TestDifferencesThreeNodes plans ranges on n2 (the largest node) and checks rows that only a
// smaller node has, below, between and above the planner's keys.
func TestDifferencesThreeNodes(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, w int);
		INSERT INTO t SELECT i, 'v' || i, i FROM generate_series(1, 500) i`, nodeNames(3)...)
	db.Exec(t, `INSERT INTO t SELECT i, 'v' || i, i FROM generate_series(2001, 2040) i`, "n2")
	db.Exec(t, `UPDATE t SET v = 'changed' WHERE id = 7; DELETE FROM t WHERE id = 100`, "n1")
	db.Exec(t, `INSERT INTO t VALUES (-10, 'v-10', -10), (600, 'v600', 600), (5000, 'v5000', 5000);
		UPDATE t SET v = 'x3' WHERE id = 7; UPDATE t SET w = NULL WHERE id = 499;
		DELETE FROM t WHERE id BETWEEN 300 AND 302`, "n3")
	db.Exec(t, `ANALYZE t`, nodeNames(3)...)
	pools := connectK(t, db, 3)

	d := mustRun(t, pools, opts("t"))
	want := []string{
		`-10 n1=- n2=- n3="v-10"|-10`,
		`100 n1=- n2="v100"|100 n3="v100"|100`,
		`2001 n1=- n2="v2001"|2001 n3=-`,
		`300 n1="v300"|300 n2="v300"|300 n3=-`,
		`301 n1="v301"|301 n2="v301"|301 n3=-`,
		`302 n1="v302"|302 n2="v302"|302 n3=-`,
		`499 n1="v499"|499 n2="v499"|499 n3="v499"|null`,
		`5000 n1=- n2=- n3="v5000"|5000`,
		`600 n1=- n2=- n3="v600"|600`,
		`7 n1="changed"|7 n2="v7"|7 n3="x3"|7`,
	}
	got := render(t, d, "v", "w")
	// Keys 2001..2040 exist on n2 only; keep one of them in the listing.
	var kept []string
	for _, l := range got {
		var id int
		fmt.Sscanf(l, "%d", &id)
		if id > 2001 && id <= 2040 {
			if l != fmt.Sprintf(`%d n1=- n2="v%d"|%d n3=-`, id, id, id) {
				t.Errorf("row %s", l)
			}
			continue
		}
		kept = append(kept, l)
	}
	wantLines(t, "rows", kept, want)
	// 49 rows: -10, 7, 100, 300..302, 499, 600, 2001..2040, 5000.
	wantSummary(t, d, report.StatusDiffer, 49,
		"n1/n2=42 n1/n3=9 n2/n3=48", "n1=44 n2=3 n3=43", "n1=499 n2=540 n3=500")
	if d.Summary.Ranges < 20 {
		t.Errorf("ranges %d, want many (n2's 540 rows in blocks of 10)", d.Summary.Ranges)
	}
	if d.Summary.RangesDiffering < 2 || d.Summary.RangesDiffering > d.Summary.Ranges {
		t.Errorf("ranges differing %d of %d", d.Summary.RangesDiffering, d.Summary.Ranges)
	}
	// The rows of the diff come in key order.
	for i := 1; i < len(d.Rows); i++ {
		a, b := keyInt(t, d.Rows[i-1]), keyInt(t, d.Rows[i])
		if a >= b {
			t.Errorf("rows out of key order: %d before %d", a, b)
		}
	}
}

func keyInt(t *testing.T, r report.Row) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(keyText(r), &n); err != nil {
		t.Fatalf("key %s: %v", keyText(r), err)
	}
	return n
}

// state is the intended content of a keyed table: node -> id -> v (null for NULL).
type state map[string]map[int]string

// null stands for SQL NULL in a state.
const null = "\x00NULL"

// expect computes, independently of the engine, the report lines (as render prints them with
// column v), the pairs and the missing counts for nodes n1..nk.
func (s state) expect(k int) (lines []string, pairs, missing, compared string) {
	nodes := nodeNames(k)
	ids := map[int]bool{}
	for _, n := range nodes {
		for id := range s[n] {
			ids[id] = true
		}
	}
	pairCount := map[[2]int]int{}
	miss := map[string]int{}
	cmp := map[string]int{}
	for _, n := range nodes {
		cmp[n] = len(s[n])
	}
	for id := range ids {
		same := true
		for _, n := range nodes {
			v, ok := s[n][id]
			v0, ok0 := s[nodes[0]][id]
			same = same && ok && ok0 && v == v0
		}
		if same {
			continue
		}
		line := fmt.Sprint(id)
		for a, n := range nodes {
			v, ok := s[n][id]
			switch {
			case ok && v == null:
				line += " " + n + "=null"
			case ok:
				line += fmt.Sprintf(" %s=%q", n, v)
			default:
				line += " " + n + "=-"
				miss[n]++
			}
			for b := a + 1; b < k; b++ {
				w, okw := s[nodes[b]][id]
				if ok != okw || v != w {
					pairCount[[2]int{a + 1, b + 1}]++
				}
			}
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	pairs = pairsOf(k, func(a, b int) int { return pairCount[[2]int{a, b}] })
	var m, c []string
	for _, n := range nodes {
		m = append(m, fmt.Sprintf("%s=%d", n, miss[n]))
		c = append(c, fmt.Sprintf("%s=%d", n, cmp[n]))
	}
	return lines, pairs, strings.Join(m, " "), strings.Join(c, " ")
}

// TestDifferencesFiveNodes applies the same changes to the tables and to an independent model of
// them, with n4 empty and n5 (the planner) holding extra rows.
func TestDifferencesFiveNodes(t *testing.T) {
	db := sandbox.NewDB(t)
	nodes := nodeNames(5)
	s := state{}
	for _, n := range nodes {
		s[n] = map[int]string{}
	}
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	db.Exec(t, `INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 1200) i`, "n1", "n2", "n3", "n5")
	for _, n := range []string{"n1", "n2", "n3", "n5"} {
		for i := 1; i <= 1200; i++ {
			s[n][i] = fmt.Sprintf("v%d", i)
		}
	}
	change := func(node, sql string, apply func(m map[int]string)) {
		db.Exec(t, sql, node)
		apply(s[node])
	}
	change("n5", `INSERT INTO t SELECT i, 'v' || i FROM generate_series(1201, 1500) i`, func(m map[int]string) {
		for i := 1201; i <= 1500; i++ {
			m[i] = fmt.Sprintf("v%d", i)
		}
	})
	change("n1", `UPDATE t SET v = 'n1:' || id WHERE id % 97 = 0`, func(m map[int]string) {
		for i := 97; i <= 1200; i += 97 {
			m[i] = fmt.Sprintf("n1:%d", i)
		}
	})
	change("n2", `UPDATE t SET v = 'n2:' || id WHERE id % 194 = 0; DELETE FROM t WHERE id % 250 = 1`, func(m map[int]string) {
		for i := 194; i <= 1200; i += 194 {
			m[i] = fmt.Sprintf("n2:%d", i)
		}
		for i := 1; i <= 1200; i += 250 {
			delete(m, i)
		}
	})
	change("n3", `INSERT INTO t VALUES (-1000, 'low'), (0, 'zero'), (1300, 'mid'), (99999, 'high');
		UPDATE t SET v = NULL WHERE id = 500`, func(m map[int]string) {
		m[-1000], m[0], m[1300], m[99999], m[500] = "low", "zero", "mid", "high", null
	})
	db.Exec(t, `ANALYZE t`)
	pools := connectK(t, db, 5)
	o := opts("t")
	o.BlockSize = 50
	d := mustRun(t, pools, o)

	lines, pairs, missing, compared := s.expect(5)
	got := render(t, d, "v")
	wantLines(t, "rows", got, lines)
	if len(d.Rows) < 300 {
		t.Fatalf("only %d rows", len(d.Rows))
	}
	wantSummary(t, d, report.StatusDiffer, len(lines), pairs, missing, compared)
	if d.Summary.MissingOn["n4"] != len(lines) {
		t.Errorf("n4 is empty: missing_on n4 = %d, want every row (%d)", d.Summary.MissingOn["n4"], len(lines))
	}
	if d.Summary.Ranges < 10 {
		t.Errorf("ranges %d, want many (n5's 1500 rows in blocks of 50)", d.Summary.Ranges)
	}
}

// TestRowsOnlyOnSmallerNodesNeverAnalyzed has a planner that never saw ANALYZE (reltuples -1).
func TestRowsOnlyOnSmallerNodesNeverAnalyzed(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id bigint PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' FROM generate_series(100, 300) i`, "n1", "n2")
	db.Exec(t, `INSERT INTO t VALUES (1, 'low'), (1000, 'high')`, "n2")
	d := mustRun(t, connectK(t, db, 2), opts("t"))
	wantLines(t, "rows", render(t, d, "v"), []string{`1 n1=- n2="low"`, `1000 n1=- n2="high"`})
	wantSummary(t, d, report.StatusDiffer, 2, "n1/n2=2", "n1=2 n2=0", "n1=201 n2=203")
}

func TestMaxDiffRowsStopsPartial(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' FROM generate_series(1, 1000) i; ANALYZE t`, "n1", "n2")
	db.Exec(t, `UPDATE t SET v = 'w' WHERE id % 10 = 0`, "n2") // 100 differing keys
	pools := connectK(t, db, 2)
	o := opts("t")
	o.MaxDiffRows = 10
	d := mustRun(t, pools, o)
	if d.Summary.Status != report.StatusPartial || d.Summary.PartialReason == "" {
		t.Errorf("status %q reason %q, want partial with a reason", d.Summary.Status, d.Summary.PartialReason)
	}
	if len(d.Rows) != 10 || d.Summary.DifferingKeys != 10 {
		t.Fatalf("%d rows (%d differing keys), want exactly 10", len(d.Rows), d.Summary.DifferingKeys)
	}
	seen := map[int64]bool{}
	for _, r := range d.Rows {
		k := keyInt(t, r)
		if k%10 != 0 || seen[k] {
			t.Errorf("row %d is not one of the differing keys, or repeated", k)
		}
		seen[k] = true
		if got := render(t, &report.Diff{Nodes: d.Nodes, Rows: []report.Row{r}}, "v")[0]; got != fmt.Sprintf(`%d n1="v" n2="w"`, k) {
			t.Errorf("row %s", got)
		}
	}
	if d.Summary.Pairs["n1/n2"] != 10 {
		t.Errorf("pairs %v", d.Summary.Pairs)
	}

	// The same limit in whole-row mode.
	db.Exec(t, `CREATE TABLE m (v int); INSERT INTO m SELECT i FROM generate_series(1, 100) i`, "n1", "n2")
	db.Exec(t, `UPDATE m SET v = -v`, "n2")
	o = opts("m")
	o.MaxDiffRows = 10
	d = mustRun(t, pools, o)
	if d.Summary.Status != report.StatusPartial || len(d.Rows) != 10 {
		t.Errorf("whole row: status %q, %d rows, want partial with 10", d.Summary.Status, len(d.Rows))
	}
}

func TestRecheckMovesFixedRowsToTransient(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' FROM generate_series(1, 100) i`, "n1", "n2")
	db.Exec(t, `UPDATE t SET v = 'lag' WHERE id IN (5, 50)`, "n2")
	pools := connectK(t, db, 2)
	o := opts("t")
	o.Recheck = 2 * time.Second
	fixed := make(chan struct{})
	go func() {
		defer close(fixed)
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Replication "catches up" on key 5 only.
		if _, err := pools[1].Exec(ctx, `UPDATE public.t SET v = 'v' WHERE id = 5`); err != nil {
			t.Errorf("fix: %v", err)
		}
	}()
	d := mustRun(t, pools, o)
	<-fixed
	wantLines(t, "rows", render(t, d, "v"), []string{`50 n1="v" n2="lag"`})
	wantLines(t, "transient", renderRows(t, d.Nodes, d.Transient, "v"), []string{`5 n1="v" n2="lag"`})
	wantSummary(t, d, report.StatusDiffer, 1, "n1/n2=1", "n1=0 n2=0", "n1=100 n2=100")
	if d.Summary.Transient != 1 || d.Options.Recheck != "2s" {
		t.Errorf("transient %d, recheck option %q", d.Summary.Transient, d.Options.Recheck)
	}

	// Everything fixed before the recheck: no rows, one transient, status match.
	db.Exec(t, `UPDATE t SET v = 'lag' WHERE id = 5`, "n2")
	go func() {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pools[1].Exec(ctx, `UPDATE public.t SET v = 'v' WHERE id IN (5, 50)`); err != nil {
			t.Errorf("fix: %v", err)
		}
	}()
	d = mustRun(t, pools, o)
	wantSummary(t, d, report.StatusMatch, 0, "n1/n2=0", "n1=0 n2=0", "n1=100 n2=100")
	if d.Summary.Transient != 2 || len(d.Transient) != 2 {
		t.Errorf("transient %d (%d rows), want 2", d.Summary.Transient, len(d.Transient))
	}
}

func TestRecheckWholeRow(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE m (a int, b text); INSERT INTO m VALUES (1, 'x'), (2, 'y')`, "n1", "n2")
	db.Exec(t, `INSERT INTO m VALUES (3, 'late'), (4, 'extra')`, "n2")
	pools := connectK(t, db, 2)
	o := opts("m")
	o.Recheck = 2 * time.Second
	go func() {
		time.Sleep(500 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pools[0].Exec(ctx, `INSERT INTO public.m VALUES (3, 'late')`); err != nil {
			t.Errorf("fix: %v", err)
		}
	}()
	d := mustRun(t, pools, o)
	if d.KeySource != "whole row" {
		t.Errorf("key source %q", d.KeySource)
	}
	wantLines(t, "rows", renderValues(t, d, "a", "b"), []string{`n1=- n2=4|"extra" counts n1=0 n2=1`})
	wantLines(t, "transient", renderValues(t, &report.Diff{Nodes: d.Nodes, Rows: d.Transient}, "a", "b"),
		[]string{`n1=- n2=3|"late" counts n1=0 n2=1`})
	wantSummary(t, d, report.StatusDiffer, 1, "n1/n2=1", "n1=1 n2=0", "")
}

// renderValues is render for whole-row diffs: the key (a row hash) is left out, counts added.
func renderValues(t *testing.T, d *report.Diff, cols ...string) []string {
	t.Helper()
	var out []string
	for _, r := range d.Rows {
		l := renderRows(t, d.Nodes, []report.Row{r}, cols...)[0]
		l = l[strings.Index(l, " ")+1:]
		l += " counts"
		for _, n := range d.Nodes {
			l += fmt.Sprintf(" %s=%d", n, r.Counts[n])
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func TestRerunKeepsOnlyRemainingKeys(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' FROM generate_series(1, 300) i`, nodeNames(3)...)
	db.Exec(t, `UPDATE t SET v = 'x' WHERE id IN (10, 20); DELETE FROM t WHERE id = 30`, "n2")
	db.Exec(t, `INSERT INTO t VALUES (400, 'new')`, "n3")
	pools := connectK(t, db, 3)
	d := mustRun(t, pools, opts("t"))
	wantLines(t, "rows", diffKeys(d), []string{"10", "20", "30", "400"})

	old := d
	db.Exec(t, `UPDATE t SET v = 'v' WHERE id = 10; INSERT INTO t VALUES (30, 'v')`, "n2")
	// A new difference after the diff is not part of a rerun.
	db.Exec(t, `UPDATE t SET v = 'later' WHERE id = 200`, "n1")
	r, err := rerun(t, pools, old)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "rerun rows", render(t, r, "v"), []string{`20 n1="v" n2="x" n3="v"`, `400 n1=- n2=- n3="new"`})
	wantSummary(t, r, report.StatusDiffer, 2, "n1/n2=1 n1/n3=1 n2/n3=2", "n1=1 n2=1 n3=0", "n1=4 n2=4 n3=4")

	db.Exec(t, `UPDATE t SET v = 'v' WHERE id = 20`, "n2")
	db.Exec(t, `DELETE FROM t WHERE id = 400`, "n3")
	r, err = rerun(t, pools, r)
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, r, report.StatusMatch, 0, "n1/n2=0 n1/n3=0 n2/n3=0", each(3, 0), each(3, 2))
}

func TestRerunWholeRow(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE m (a int, b text); INSERT INTO m VALUES (1, 'x'), (1, 'x'), (2, 'y')`, "n1", "n2")
	db.Exec(t, `DELETE FROM m WHERE a = 2; INSERT INTO m VALUES (3, 'z')`, "n2")
	pools := connectK(t, db, 2)
	d := mustRun(t, pools, opts("m"))
	wantLines(t, "rows", renderValues(t, d, "a", "b"), []string{
		`n1=- n2=3|"z" counts n1=0 n2=1`, `n1=2|"y" n2=- counts n1=1 n2=0`,
	})
	db.Exec(t, `INSERT INTO m VALUES (2, 'y')`, "n2")
	r, err := rerun(t, pools, d)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "rerun rows", renderValues(t, r, "a", "b"), []string{`n1=- n2=3|"z" counts n1=0 n2=1`})
	wantSummary(t, r, report.StatusDiffer, 1, "n1/n2=1", "n1=1 n2=0", "")
}

// killAfter is a Progress that signals once `after` ranges are done.
type killAfter struct {
	after int64
	done  atomic.Int64
	fire  chan struct{}
}

func (k *killAfter) RangesPlanned(int)     {}
func (k *killAfter) KeysAnalysed(int, int) {}
func (k *killAfter) RangeDone(bool) {
	if k.done.Add(1) == k.after {
		close(k.fire)
	}
}

// TestNodeFailureIsNodeError kills n3 while a diff reads it; the error names n3 and no diff is
// returned. n3 is started again before the test returns: the nodes are shared by the package.
func TestNodeFailureIsNodeError(t *testing.T) {
	ctx := testContext(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE big (id int PRIMARY KEY, v text);
		INSERT INTO big SELECT i, 'x' FROM generate_series(1, 100000) i; ANALYZE big`, nodeNames(3)...)
	// The sandbox runs with synchronous_commit=off: without a checkpoint, an immediate shutdown
	// may lose the table just created.
	db.Exec(t, `CHECKPOINT`, "n3")
	pools := connectK(t, db, 3)
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := db.Sandbox.Start(ctx, "n3"); err != nil {
			t.Fatalf("restart n3: %v", err)
		}
	}
	t.Cleanup(restart)

	type result struct {
		d   *report.Diff
		err error
	}
	done := make(chan result, 1)
	progress := &killAfter{after: 100, fire: make(chan struct{})}
	o := opts("big")
	o.Concurrency = 2
	o.Progress = progress
	go func() {
		d, err := collect(ctx, pools, o) // 10000 ranges: seconds of work
		done <- result{d, err}
	}()
	var res result
	select {
	case <-progress.fire:
		if err := db.Sandbox.Kill(ctx, "n3"); err != nil {
			t.Fatalf("kill n3: %v", err)
		}
		res = <-done
	case res = <-done:
		t.Fatalf("diff ended before 100 ranges were hashed: %v", res.err)
	}
	restart()
	if res.err == nil {
		t.Fatalf("diff finished (status %s, %d of %d ranges) although n3 was killed",
			res.d.Summary.Status, progress.done.Load(), res.d.Summary.Ranges)
	}
	if res.d != nil {
		t.Errorf("a diff was returned with the error: %+v", res.d.Summary)
	}
	var ne *cluster.NodeError
	if !errors.As(res.err, &ne) || ne.Node != "n3" {
		t.Fatalf("want a *cluster.NodeError for n3, got %T: %v", res.err, res.err)
	}
	t.Logf("error: %v", res.err)
	if !strings.HasPrefix(res.err.Error(), "node n3: ") {
		t.Errorf("error %q does not start with the node", res.err)
	}
	// The cluster works again afterwards.
	pools = connectK(t, db, 3)
	d := mustRun(t, pools, Options{Schema: "public", Table: "big", BlockSize: 20000, Concurrency: 4, MaxDiffRows: 10})
	wantSummary(t, d, report.StatusMatch, 0, "", "", each(3, 100000))
}
