package diff

import (
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestUntilIgnoresLaterWrites: with --until T only keys last committed at or before T on every
// node are compared: a difference made before T is found; an update, an insert and an update of
// a differing row made after T are ignored; the option is recorded and a rerun honours it.
func TestUntilIgnoresLaterWrites(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'v' FROM generate_series(1, 50) g`, "n1", "n2", "n3")
	db.Exec(t, `UPDATE t SET v = 'before' WHERE id IN (3, 7)`, "n2")
	var until time.Time
	if err := db.Connect(t, "n1").QueryRow(testContext(t), "SELECT clock_timestamp()").Scan(&until); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	db.Exec(t, `UPDATE t SET v = 'after' WHERE id = 5; INSERT INTO t VALUES (100, 'new'); UPDATE t SET v = 'again' WHERE id = 7`, "n2")
	db.Exec(t, `DELETE FROM t WHERE id = 9`, "n3")
	pools := connectK(t, db, 3)

	o := opts("t")
	all := mustRun(t, pools, o)
	wantLines(t, "without --until", diffKeys(all), []string{"100", "3", "5", "7", "9"})

	o.Until = &until
	d := mustRun(t, pools, o)
	// 5, 100 and 7 were written after T on n2; 9 was deleted after T on n3, which leaves no row
	// to date: a deletion cannot be told from an older absence, so it is still reported.
	wantLines(t, "with --until", render(t, d, "v"), []string{
		`3 n1="v" n2="before" n3="v"`,
		`9 n1="v" n2="v" n3=-`,
	})
	if d.Options.Until != until.UTC().Format(time.RFC3339Nano) {
		t.Errorf("options.until %q, want %q", d.Options.Until, until.UTC().Format(time.RFC3339Nano))
	}
	// With a filter too (the filtered fetch carries xmin through its subquery).
	o.Where = "id < 100"
	wantLines(t, "with --until and --where", render(t, mustRun(t, pools, o), "v"), []string{
		`3 n1="v" n2="before" n3="v"`,
		`9 n1="v" n2="v" n3=-`,
	})
	db.Exec(t, `UPDATE t SET v = 'late' WHERE id = 3`, "n1")
	r, err := rerun(t, pools, d)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, "rerun with --until", render(t, r, "v"), []string{`9 n1="v" n2="v" n3=-`})
}

// TestUntilNeedsAKey: whole-row comparisons cannot tell which row a commit time belongs to.
func TestUntilNeedsAKey(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE m (a int)`, "n1", "n2")
	o := opts("m")
	now := time.Now()
	o.Until = &now
	_, err := collect(testContext(t), connectK(t, db, 2), o)
	wantInput(t, err, "--until needs a table with a key")
}

// TestEmptyComparisonWarnsOrFails: a filter that selects nothing on any node is a match with a
// warning, and an input error with RequireRows.
func TestEmptyComparisonWarnsOrFails(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')`, "n1", "n2")
	pools := connectK(t, db, 2)
	o := opts("t")
	o.Where = "v = 'typo'"
	d := mustRun(t, pools, o)
	wantSummary(t, d, report.StatusMatch, 0, "n1/n2=0", each(2, 0), each(2, 0))
	if len(d.Summary.Warnings) != 1 || d.Summary.Warnings[0] != "the --where filter selects no rows on any node: 0 rows compared" {
		t.Errorf("warnings %q", d.Summary.Warnings)
	}
	o.RequireRows = true
	_, err := collect(testContext(t), pools, o)
	wantInput(t, err, "selects no rows on any node", "--require-rows")
	o.Where = ""
	d = mustRun(t, pools, o)
	if len(d.Summary.Warnings) != 0 {
		t.Errorf("warnings %q on a comparison that read rows", d.Summary.Warnings)
	}
}
