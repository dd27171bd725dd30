package schema

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 3)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// connect opens pools of maxConns connections on the test database of the named nodes.
func connect(t *testing.T, db *sandbox.DB, maxConns int, names ...string) cluster.Pools {
	t.Helper()
	return sandboxtest.Pools(t, db, maxConns, names...)
}

// connectLockTimeout opens pools like connect whose sessions give up waiting for a lock after
// lockTimeout (as job pins it from --lock-timeout).
func connectLockTimeout(t *testing.T, db *sandbox.DB, maxConns int, lockTimeout string, names ...string) cluster.Pools {
	t.Helper()
	nodes := sandboxtest.Nodes(t, db, names...)
	for i := range nodes {
		nodes[i].Params["lock_timeout"] = lockTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pools, err := cluster.Connect(ctx, nodes, cluster.PoolOptions{MaxConns: maxConns})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pools.Close)
	return pools
}

// createRole creates a role on every node (roles belong to a server, not to the test database)
// and drops it when the test ends, with its privileges in the test database.
func createRole(t *testing.T, db *sandbox.DB, name string) {
	t.Helper()
	role := pgx.Identifier{name}.Sanitize()
	db.Exec(t, "CREATE ROLE "+role)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range db.Nodes() {
			conn, err := pgx.Connect(ctx, db.ConnString(n.Name))
			if err != nil {
				t.Errorf("drop role %s on %s: %v", name, n.Name, err)
				continue
			}
			if _, err := conn.Exec(ctx, "DROP OWNED BY "+role+"; DROP ROLE "+role); err != nil {
				t.Errorf("drop role %s on %s: %v", name, n.Name, err)
			}
			conn.Close(ctx)
		}
	})
}

func dataOptions() DataOptions {
	return DataOptions{Cluster: "c", Concurrency: 3, MaxConnections: 4, BlockSize: 10, MaxDiffRows: 1000, Tool: "test"}
}

// subscribe creates a subscription on subNode to publication pub of the test database on n1
// (see sandbox.DB.Subscribe).
func subscribe(t *testing.T, db *sandbox.DB, subNode, pub string, extra string) string {
	t.Helper()
	return db.Subscribe(t, "n1", subNode, pub, extra)
}

// waitFor polls a boolean query on a node until it returns true.
func waitFor(t *testing.T, db *sandbox.DB, node, what, sql string) {
	t.Helper()
	db.WaitFor(t, node, what, sql)
}

// sinkLog is a DataOptions.Sink for tests: it keeps every table's diff in memory by table.
type sinkLog struct {
	mu     sync.Mutex
	sinks  map[report.TableRef]*testSink
	failOn string // table whose Sink call fails
}

// testSink collects one table's diff and records an Abort.
type testSink struct {
	report.Collector
	aborted bool
	ended   bool
}

func (s *testSink) End(d *report.Diff) error {
	s.ended = true
	return s.Collector.End(d)
}

func (s *testSink) Abort() { s.aborted = true }

func newSinkLog() *sinkLog { return &sinkLog{sinks: map[report.TableRef]*testSink{}} }

func (l *sinkLog) sink(t report.TableRef) (TableSink, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.sinks[t]; ok {
		return nil, fmt.Errorf("second sink for %s", t)
	}
	if t.Name == l.failOn {
		return nil, fmt.Errorf("cannot write the diff of %s", t)
	}
	s := &testSink{}
	l.sinks[t] = s
	return s, nil
}

// diff returns the collected diff of a table (nil when no sink was asked for it).
func (l *sinkLog) diff(schema, name string) *report.Diff {
	s := l.sinks[report.TableRef{Schema: schema, Name: name}]
	if s == nil {
		return nil
	}
	return s.Diff
}
