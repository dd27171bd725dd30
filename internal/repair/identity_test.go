package repair

import (
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestIdentityAndSerial: a GENERATED ALWAYS identity column whose value differs is repaired (the
// row is rewritten with OVERRIDING SYSTEM VALUE; columns the diff left out keep their values),
// and every sequence feeding a written column ends past the largest value written, never behind
// where it was.
func TestIdentityAndSerial(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE s (id serial PRIMARY KEY, v text);
		CREATE TABLE g (k text PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text, note text)`)
	db.Exec(t, `INSERT INTO s (v) SELECT 'v' || i FROM generate_series(1, 5) i;
		INSERT INTO g (k, v, note) VALUES ('a', 'x', 'keep'), ('b', 'y', 'keep')`, "n1")
	db.Exec(t, `INSERT INTO s (v) SELECT 'v' || i FROM generate_series(1, 3) i;
		INSERT INTO g (k, n, v, note) OVERRIDING SYSTEM VALUE VALUES ('a', 7, 'x', 'n2 note'), ('b', 2, 'old', 'n2 note')`, "n2")
	db.Exec(t, `INSERT INTO s (v) SELECT 'v' || i FROM generate_series(1, 3) i; SELECT setval('s_id_seq', 100);
		INSERT INTO g (k, v, note) VALUES ('a', 'x', 'keep')`, "n3")
	pools := connect(t, db)

	d, _ := takeDiff(t, pools, "public", "s")
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:2/0/0/0/0/true n3:2/0/0/0/0/true"; got != want {
		t.Errorf("serial counts %s, want %s", got, want)
	}
	seq := "SELECT last_value || ' ' || is_called FROM s_id_seq"
	wantRows(t, "s_id_seq on n2 (was 3)", dump(t, db, "n2", seq), []string{"5 true"})
	wantRows(t, "s_id_seq on n3 (was 100: not moved back)", dump(t, db, "n3", seq), []string{"100 true"})
	db.Exec(t, `INSERT INTO s (v) VALUES ('after')`, "n2")
	wantRows(t, "next insert on n2", dump(t, db, "n2", "SELECT id::text FROM s WHERE v = 'after'"), []string{"6"})

	d, _ = takeDiff(t, pools, "public", "g")
	d.Columns = d.Columns[:3] // as with table-diff --columns k,n,v: note is not the repair's to write
	for i := range d.Rows {
		d.Rows[i].Hashes = nil // hashes of the whole row: the guard hashes the three columns on the nodes
		for _, rec := range d.Rows[i].Values {
			if rec != nil {
				*rec = (*rec)[:3]
			}
		}
	}
	res = mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, applyOpts(t))
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/2/0/0/0/true n3:1/0/0/0/0/true"; got != want {
		t.Errorf("identity counts %s, want %s", got, want)
	}
	wantRows(t, "g on n2", table(t, db, "n2", "g", "k"), []string{`(a,1,x,"n2 note")`, `(b,2,y,"n2 note")`})
	wantRows(t, "g on n3", table(t, db, "n3", "g", "k"), []string{"(a,1,x,keep)", "(b,2,y,)"})
	gseq := "SELECT last_value || ' ' || is_called FROM g_n_seq"
	// n2's rows were inserted with OVERRIDING SYSTEM VALUE: its sequence had handed out nothing.
	wantRows(t, "g_n_seq on n2 (was 1, not called)", dump(t, db, "n2", gseq), []string{"1 true"})
	wantRows(t, "g_n_seq on n3 (was 1)", dump(t, db, "n3", gseq), []string{"2 true"})

	// With --fire-triggers the rewrite would fire delete triggers: the node fails, nothing changes.
	db.Exec(t, `UPDATE g SET n = DEFAULT WHERE k = 'a'`, "n2")
	d, _ = takeDiff(t, pools, "public", "g")
	ao := applyOpts(t)
	ao.FireTriggers = true
	_, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if err == nil || !strings.Contains(err.Error(), `column "n" is GENERATED ALWAYS AS IDENTITY and its value differs (key k=a)`) {
		t.Fatalf("--fire-triggers: %v", err)
	}
	wantRows(t, "g on n2 unchanged", table(t, db, "n2", "g", "k"), []string{`(a,2,x,"n2 note")`, `(b,2,y,"n2 note")`})
}
