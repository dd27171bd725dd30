package repair

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestFreshestPlan: the version with the greatest application timestamp wins (by time, not text:
// offsets and fractions of a second), NULL is oldest, infinity newest; a tie between differing
// versions goes to the fallback, or without one the key is held back; nodes lacking the row
// receive the winner and none is deleted.
func TestFreshestPlan(t *testing.T) {
	row := func(id int, v, ts string) *report.Record {
		var tv any = ts
		if ts == "-" {
			tv = nil
		}
		r := report.Record{{Name: "id", Value: json.Number(fmt.Sprint(id))}, {Name: "v", Value: v}, {Name: "ts", Value: tv}}
		return &r
	}
	d := &report.Diff{
		Format: report.Format, Cluster: "c", Table: report.TableRef{Schema: "public", Name: "t"},
		Key: []string{"id"}, Nodes: []string{"n1", "n2", "n3"},
		Columns: []report.Column{{Name: "id", Type: "integer"}, {Name: "v", Type: "text"}, {Name: "ts", Type: "timestamp with time zone"}},
		Rows: []report.Row{
			// n2's is later though its text sorts first (fraction of a second).
			keyRow(1, row(1, "a", "2026-01-02 03:04:05+00"), row(1, "b", "2026-01-02 03:04:05.5+00"), row(1, "a", "2026-01-02 03:04:05+00")),
			// NULL is oldest; n2 lacks the row and receives n3's.
			keyRow(2, row(2, "a", "-"), nil, row(2, "c", "1999-01-01 00:00:00+00")),
			// tie between different versions: the fallback (take n1) decides.
			keyRow(3, row(3, "a", "2026-01-02 03:04:05+00"), row(3, "b", "2026-01-02 03:04:05+00"), row(3, "a", "2026-01-02 03:04:05+00")),
			// infinity is newest.
			keyRow(4, row(4, "a", "2026-01-02 03:04:05+00"), row(4, "b", "infinity"), row(4, "c", "-infinity")),
		},
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"with fallback", "default: freshest ts\nfallback: take n1\n", []string{
			"n1 update id=1: 1,a,2026-01-02 03:04:05+00 -> 1,b,2026-01-02 03:04:05.5+00",
			"n1 update id=2: 2,a,NULL -> 2,c,1999-01-01 00:00:00+00",
			"n1 update id=4: 4,a,2026-01-02 03:04:05+00 -> 4,b,infinity",
			"n2 insert id=2: - -> 2,c,1999-01-01 00:00:00+00",
			"n2 update id=3: 3,b,2026-01-02 03:04:05+00 -> 3,a,2026-01-02 03:04:05+00",
			"n3 update id=1: 1,a,2026-01-02 03:04:05+00 -> 1,b,2026-01-02 03:04:05.5+00",
			"n3 update id=4: 4,c,-infinity -> 4,b,infinity",
		}},
		{"without fallback", "rules:\n  - name: newest edit\n    when: {present_on: [n1]}\n    action: freshest ts\n", []string{
			"held   id=3: rule \"newest edit\": freshest ts: two versions have the same ts and the plan has no fallback",
			"n1 update id=1: 1,a,2026-01-02 03:04:05+00 -> 1,b,2026-01-02 03:04:05.5+00",
			"n1 update id=2: 2,a,NULL -> 2,c,1999-01-01 00:00:00+00",
			"n1 update id=4: 4,a,2026-01-02 03:04:05+00 -> 4,b,infinity",
			"n2 insert id=2: - -> 2,c,1999-01-01 00:00:00+00",
			"n3 update id=1: 1,a,2026-01-02 03:04:05+00 -> 1,b,2026-01-02 03:04:05.5+00",
			"n3 update id=4: 4,c,-infinity -> 4,b,infinity",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(d, Options{Mode: ModePlan, Rules: mustRules(t, tc.yaml)})
			if err != nil {
				t.Fatal(err)
			}
			wantRows(t, "plan", renderPlan(p), tc.want)
		})
	}
}

// TestFreshestRepair repairs real nodes by an application timestamp column.
func TestFreshestRepair(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, updated_at timestamptz);
		INSERT INTO t VALUES (1, 'old', '2026-01-01 00:00:00+00'), (2, 'old', NULL)`)
	db.Exec(t, `UPDATE t SET v = 'n2 newer', updated_at = '2026-01-01 00:00:00.5+00' WHERE id = 1`, "n2")
	db.Exec(t, `UPDATE t SET v = 'n3 set', updated_at = '2025-06-01 00:00:00+00' WHERE id = 2`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	mustRepair(t, pools, d, Options{Mode: ModePlan, Rules: mustRules(t, "default: freshest updated_at\n")}, applyOpts(t))
	for _, n := range all {
		wantRows(t, "rows on "+n, table(t, db, n, "t", "id"),
			[]string{`(1,"n2 newer","2026-01-01 00:00:00.5+00")`, `(2,"n3 set","2025-06-01 00:00:00+00")`})
	}
}
