package repair

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

// The three nodes are shared by every test of the package: tests do not run in parallel, and a
// test that stops a node starts it again before it returns.
func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 3)) }

var all = []string{"n1", "n2", "n3"}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// connect opens pools on the test database of the named nodes, closed when the test ends.
func connect(t *testing.T, db *sandbox.DB, names ...string) cluster.Pools {
	t.Helper()
	if len(names) == 0 {
		names = all
	}
	return sandboxtest.Pools(t, db, 4, names...)
}

// takeDiff runs table-diff on schema.table over the pools and writes the diff file into the
// test's directory.
func takeDiff(t *testing.T, pools cluster.Pools, schema, table string) (*report.Diff, string) {
	t.Helper()
	c := &report.Collector{}
	_, err := diff.Run(testContext(t), pools, diff.Options{Cluster: "test", Schema: schema, Table: table,
		BlockSize: 10, Concurrency: 2, MaxDiffRows: 1000000, Tool: "test"}, c)
	d := c.Diff
	if err != nil {
		t.Fatalf("diff %s.%s: %v", schema, table, err)
	}
	path := filepath.Join(t.TempDir(), "diff.json")
	if err := report.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	back, err := report.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return back, path
}

// dump returns the rows of a query on one node as text, one per row (the query must order them).
func dump(t *testing.T, db *sandbox.DB, node, sql string) []string {
	t.Helper()
	conn := db.Connect(t, node)
	ctx := testContext(t)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("on %s: %v", node, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s *string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s == nil {
			out = append(out, "NULL")
		} else {
			out = append(out, *s)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// table dumps a table in key order, each row as its record text.
func table(t *testing.T, db *sandbox.DB, node, ident, order string) []string {
	t.Helper()
	return dump(t, db, node, "SELECT r::text FROM "+ident+" AS r ORDER BY "+order)
}

func wantRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// counts renders per node "node:ins/upd/del/insync/stale/committed".
func counts(r *Result) string {
	var parts []string
	for _, n := range r.Nodes {
		parts = append(parts, fmt.Sprintf("%s:%d/%d/%d/%d/%d/%v", n.Node, n.Inserted, n.Updated, n.Deleted, n.InSync, n.Skipped, n.Committed))
	}
	return strings.Join(parts, " ")
}

func applyOpts(t *testing.T) ApplyOptions {
	// Two keys per batch: every repair of the tests runs in several batches.
	return ApplyOptions{UndoPath: filepath.Join(t.TempDir(), "undo.jsonl"), BatchSize: 2}
}

// mustRepair runs a repair that must succeed and verify.
func mustRepair(t *testing.T, pools cluster.Pools, d *report.Diff, o Options, ao ApplyOptions) *Result {
	t.Helper()
	res, err := Repair(testContext(t), pools, FromDiff(d), o, ao, "test")
	if err != nil {
		t.Fatalf("repair: %v (result %s)", err, counts(res))
	}
	if res.Status != StatusRepaired || res.Verify == nil || !res.Verify.Agree {
		t.Fatalf("repair status %s, verify %+v", res.Status, res.Verify)
	}
	return res
}
