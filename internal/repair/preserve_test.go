package repair

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestPreserveOriginSource(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	// n1: ids 1-3 committed under origin src_a at a fixed time, 4-5 under src_b at another, 6-7
	// locally; n2 lacks or differs on all of them.
	db.Exec(t, `SELECT pg_replication_origin_create('src_a'); SELECT pg_replication_origin_create('src_b')`, "n1")
	conn := db.Connect(t, "n1")
	ctx := testContext(t)
	for _, s := range []string{
		`SELECT pg_replication_origin_session_setup('src_a')`,
		`BEGIN`, `SELECT pg_replication_origin_xact_setup('0/1', '2026-01-02 03:04:05+00')`,
		`INSERT INTO t VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')`, `COMMIT`,
		`SELECT pg_replication_origin_session_reset()`,
		`SELECT pg_replication_origin_session_setup('src_b')`,
		`BEGIN`, `SELECT pg_replication_origin_xact_setup('0/2', '2025-06-07 08:09:10.123456+00')`,
		`INSERT INTO t VALUES (4, 'b4'), (5, 'b5')`, `COMMIT`,
		`SELECT pg_replication_origin_session_reset()`,
		`INSERT INTO t VALUES (6, 'l6'), (7, 'l7')`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Exec(t, `INSERT INTO t VALUES (2, 'old'), (5, 'old'), (7, 'old'), (8, 'gone')`, "n2")
	pools := connect(t, db, "n1", "n2")
	d, _ := takeDiff(t, pools, "public", "t")
	ao := applyOpts(t)
	ao.PreserveOrigin = true
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, ao)
	if got := counts(res); got != "n1:0/0/0/0/0/false n2:4/3/1/0/0/true" {
		t.Errorf("counts %s", got)
	}
	const q = `SELECT t.id || '|' || coalesce(ro.roname, '-') || '|' || ` +
		`CASE WHEN c.roident = 0 THEN 'local' ELSE to_char(c."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') END ` +
		`FROM t, pg_xact_commit_timestamp_origin(t.xmin) c LEFT JOIN pg_replication_origin ro ON ro.roident = c.roident ORDER BY t.id`
	wantRows(t, "n2 origins", dump(t, db, "n2", q), []string{
		"1|src_a|2026-01-02 03:04:05.000000", "2|src_a|2026-01-02 03:04:05.000000", "3|src_a|2026-01-02 03:04:05.000000",
		"4|src_b|2025-06-07 08:09:10.123456", "5|src_b|2025-06-07 08:09:10.123456",
		"6|-|local", "7|-|local"})
	wantRows(t, "n2 rows", table(t, db, "n2", "t", "id"), table(t, db, "n1", "t", "id"))
	var groups []string
	for _, g := range res.Nodes[1].Groups {
		at := "-"
		if g.CommitTime != nil {
			at = g.CommitTime.Format("2006-01-02 15:04:05.000000")
		}
		groups = append(groups, g.Origin+"|"+at+"|"+strconv.Itoa(g.Planned)+"|"+g.Status)
	}
	wantRows(t, "n2 groups", groups, []string{"|-|3|committed", "src_a|2026-01-02 03:04:05.000000|3|committed", "src_b|2025-06-07 08:09:10.123456|2|committed"})
	if len(res.Warnings) != 1 || res.Warnings[0] != "--preserve-origin: 2 rows of source n1 were committed locally (no replication origin): "+
		"without --origin their commit time is not preserved (they commit with the repair's)" {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestPreserveOriginBadInput(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE w (v text)`)
	db.Exec(t, `INSERT INTO t VALUES (1, 'x'); INSERT INTO w VALUES ('x')`, "n1")
	pools := connect(t, db, "n1", "n2")
	dt, _ := takeDiff(t, pools, "public", "t")
	dw, _ := takeDiff(t, pools, "public", "w")
	for _, tc := range []struct {
		name string
		d    *report.Diff
		o    Options
		want string
	}{
		{"bidirectional", dt, Options{Mode: ModeBidirectional}, "--preserve-origin goes with --source-of-truth only"},
		{"whole row", dw, Options{Mode: ModeSource, Source: "n1"}, "--preserve-origin needs a keyed table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ao := applyOpts(t)
			ao.PreserveOrigin = true
			_, err := Repair(testContext(t), pools, FromDiff(tc.d), tc.o, ao, "test")
			if !fault.IsInput(err) || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want input error %q", err, tc.want)
			}
		})
	}
	wantRows(t, "n2 unchanged", table(t, db, "n2", "t", "id"), nil)
}
