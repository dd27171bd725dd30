package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 2)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// subscribe creates a subscription on subNode to publication pub on pubNode (see
// sandbox.DB.Subscribe).
func subscribe(t *testing.T, db *sandbox.DB, pubNode, subNode, pub, extra string) string {
	t.Helper()
	return db.Subscribe(t, pubNode, subNode, pub, extra)
}

// waitFor polls a boolean query on a node until it returns true.
func waitFor(t *testing.T, db *sandbox.DB, node, what, sql string) {
	t.Helper()
	db.WaitFor(t, node, what, sql)
}

// accounts creates public.<table> (id int key, bal int, note text) with rows 1..n on node and
// the empty table on the other nodes.
func accounts(t *testing.T, db *sandbox.DB, table string, n int, node string) {
	t.Helper()
	db.Exec(t, fmt.Sprintf("CREATE TABLE public.%s (id int PRIMARY KEY, bal int NOT NULL, note text)", table))
	db.Exec(t, fmt.Sprintf("INSERT INTO public.%s SELECT g, 0, 'row ' || g FROM generate_series(1, %d) g", table, n), node)
}

// writer updates random rows of public.<table> among ids 1..n on node (never the ids in avoid,
// and often the ids in hot), and inserts new rows above 1,000,000, one transaction at a time,
// until the test's writer is stopped. It returns a stop function that reports the transactions
// committed.
func writer(t *testing.T, db *sandbox.DB, node, table string, n int, avoid, hot []int) func() int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, db.ConnString(node))
	if err != nil {
		t.Fatal(err)
	}
	skip := map[int]bool{}
	for _, id := range avoid {
		skip[id] = true
	}
	var commits atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.Close(context.Background())
		next := 1000000
		upd := "UPDATE public." + table + " SET bal = bal + 1, note = note || '.' WHERE id = $1"
		for i := 0; ctx.Err() == nil; i++ {
			id := 1 + rand.IntN(n)
			if len(hot) > 0 && i%5 == 0 {
				id = hot[rand.IntN(len(hot))]
			}
			if skip[id] {
				continue
			}
			var err error
			if i%10 == 9 {
				next++
				_, err = conn.Exec(ctx, "INSERT INTO public."+table+" VALUES ($1, 0, 'new')", next)
			} else {
				_, err = conn.Exec(ctx, upd, id)
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("writer on %s: %v", node, err)
				return
			}
			commits.Add(1)
		}
	}()
	stop := func() int64 {
		cancel()
		wg.Wait()
		return commits.Load()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// pools connects to the test database on n1 and n2 (6 connections each).
func pools(t *testing.T, db *sandbox.DB, names ...string) cluster.Pools {
	t.Helper()
	if len(names) == 0 {
		names = []string{"n1", "n2"}
	}
	return sandboxtest.Pools(t, db, 6, names...)
}

func options() Options {
	return Options{Cluster: "c", MaxWait: 20 * time.Second, MinCoverage: 100, BlockSize: 1000, Concurrency: 2, Tool: "test"}
}

// memOutput keeps a table's confirmed differences in memory.
type memOutput struct {
	report.Collector
	aborted bool
}

func (m *memOutput) Abort()       { m.aborted = true }
func (m *memOutput) File() string { return "mem" }

// collect returns options whose outputs are kept in outs by "publisher->subscriber table".
func collect(o Options, outs map[string]*memOutput) Options {
	var mu sync.Mutex
	o.Output = func(pr *PairResult, t report.TableRef) (Output, error) {
		mu.Lock()
		defer mu.Unlock()
		m := &memOutput{}
		outs[pr.Publisher+"->"+pr.Subscriber+" "+t.String()] = m
		return m, nil
	}
	return o
}
