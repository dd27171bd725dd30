package merkle_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/marks"
	"github.com/pgparity/pgparity/internal/merkle"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

// Three nodes shared by every test of the package; tests do not run in parallel, and a test
// that restarts a node waits for it before it returns.
// TestMain starts the package's sandbox, unless the binary was re-executed as the listener child
// of TestKilledListenerLosesNothing: that child is SIGKILLed, so a sandbox of its own would be
// left running.
func TestMain(m *testing.M) {
	if raw := os.Getenv("PGPARITY_LISTEN_NODE"); raw != "" {
		os.Exit(listenChild(raw))
	}
	os.Exit(sandbox.RunTests(m, 3))
}

var nodes = []string{"n1", "n2", "n3"}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// setup creates a fresh database, pools on it, and sets up the tracker on every node. The pools
// hold as many connections per node as opts asks workers for, as the commands' defaults do: a
// re-check that took a connection beside its snapshots would wait for ever (until the test's
// deadline), and one that kept a connection spare would work with one worker (Result.Workers).
func setup(t *testing.T, tracker string) (*sandbox.DB, cluster.Pools) {
	t.Helper()
	db := sandbox.NewDB(t)
	pools := sandboxtest.Pools(t, db, opts("").Concurrency, nodes...)
	ctx := testContext(t)
	for _, p := range pools {
		if err := merkle.Init(ctx, p); err != nil {
			t.Fatal(err)
		}
		kind, err := cdc.Init(ctx, p, tracker)
		if err != nil {
			t.Fatal(err)
		}
		if kind != tracker {
			t.Fatalf("tracker on %s: %s, want %s", p.Node.Name, kind, tracker)
		}
	}
	t.Cleanup(func() { // drop the slots: they are per server and outlive the database
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, p := range pools {
			_ = cdc.Teardown(ctx, p)
		}
	})
	return db, pools
}

func opts(table string) merkle.Options {
	return merkle.Options{Schema: "public", Table: table, Concurrency: 2, Tool: "test"}
}

// trackOn returns the tracker installer of a build on pools.
func trackOn(pools cluster.Pools) merkle.Tracker {
	return func(ctx context.Context, i int, tb *catalog.Table) error {
		_, err := cdc.Track(ctx, pools[i], tb)
		return err
	}
}

func build(t *testing.T, pools cluster.Pools, table string, block int) *merkle.Result {
	t.Helper()
	r, err := merkle.Build(testContext(t), pools, opts(table), block, trackOn(pools))
	if err != nil {
		t.Fatalf("build %s: %v", table, err)
	}
	return r
}

// marksOf is the marks table of public.table on node p.
func marksOf(t *testing.T, p *cluster.Pool, table string) string {
	t.Helper()
	var relid uint32
	if err := p.QueryRow(testContext(t), "SELECT pg_catalog.to_regclass($1)::oid", pgx.Identifier{"public", table}.Sanitize()).Scan(&relid); err != nil {
		t.Fatal(err)
	}
	return marks.Table(relid)
}

// storedLeaves is, per node, every stored leaf of every tree as "leaf:lo:cnt:sum", one line.
func storedLeaves(t *testing.T, pools cluster.Pools) []string {
	t.Helper()
	var out []string
	for _, p := range pools {
		var s string
		if err := p.QueryRow(testContext(t), "SELECT string_agg(leaf || ':' || coalesce(lo::text, '-') || ':' || cnt || ':' || sum, ' ' ORDER BY leaf) FROM pgparity.leaves").Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// treeDiff checks and drains every node, as `mtree table-diff` does, and runs the tree
// comparison: the verdict per differing key.
func treeDiff(t *testing.T, pools cluster.Pools, table string) (map[string]string, *merkle.Result) {
	t.Helper()
	ctx := testContext(t)
	for _, p := range pools {
		if err := cdc.Check(ctx, p, "public", table); err != nil {
			t.Fatalf("check %s: %v", p.Node.Name, err)
		}
		if err := cdc.Drain(ctx, p); err != nil {
			t.Fatalf("drain %s: %v", p.Node.Name, err)
		}
	}
	s := &verdicts{}
	r, err := merkle.Sync(ctx, pools, opts(table), s)
	if err != nil {
		t.Fatalf("mtree diff %s: %v", table, err)
	}
	return s.keys, r
}

// fullDiff runs table-diff: the verdict per differing key.
func fullDiff(t *testing.T, pools cluster.Pools, table string) map[string]string {
	t.Helper()
	s := &verdicts{}
	_, err := diff.Run(testContext(t), pools, diff.Options{Schema: "public", Table: table, BlockSize: 100, Concurrency: 2, Tool: "test"}, s)
	if err != nil {
		t.Fatalf("table-diff %s: %v", table, err)
	}
	return s.keys
}

// verdicts is a sink keeping, per differing key, which nodes hold which row hash.
type verdicts struct{ keys map[string]string }

func (v *verdicts) Begin(*report.Diff) error { v.keys = map[string]string{}; return nil }
func (v *verdicts) End(*report.Diff) error   { return nil }
func (v *verdicts) Entry(e *report.Entry) error {
	var parts []string
	for _, ver := range e.Versions {
		vals := make([]string, len(ver.Values))
		for i, v := range ver.Values {
			vals[i] = "NULL"
			if v != nil {
				vals[i] = strconv.Quote(*v)
			}
		}
		parts = append(parts, fmt.Sprintf("%v:%d:(%s)", ver.Nodes, ver.Hash, strings.Join(vals, ",")))
	}
	sort.Strings(parts)
	v.keys[strings.Join(e.Key, ",")] = strings.Join(parts, " ")
	return nil
}

// sameVerdicts fails the test unless both comparisons found the same keys with the same rows.
func sameVerdicts(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: key %s differs (%s) but the tree diff missed it", what, k, w)
		} else if g != w {
			t.Errorf("%s: key %s: tree diff says %s, table-diff %s", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: tree diff reports key %s (%s) that table-diff does not", what, k, g)
		}
	}
}
