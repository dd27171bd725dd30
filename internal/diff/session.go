package diff

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgparity/pgparity/internal/cluster"
)

// session is one node's set of worker connections, all reading inside one snapshot: the first
// connection exports it (pg_export_snapshot) and the others import it, so hashing and drill-down
// see the same data (DESIGN.md rule 8).
type session struct {
	node  string
	conns []*pgxpool.Conn
	txs   []pgx.Tx
}

// extraWorkerWait bounds the wait for a node's second and later worker connections. Pools may be
// shared by several comparisons at once (schema-diff): a comparison that holds one connection of
// a node never waits long for another, so two of them cannot deadlock; it runs with fewer workers.
const extraWorkerWait = 2 * time.Second

// SnapshotHook runs on a node's first connection right after its snapshot was exported, inside
// the snapshot's transaction (e.g. to capture the WAL position the snapshot corresponds to).
type SnapshotHook func(ctx context.Context, node int, tx pgx.Tx) error

// openSessions opens up to `workers` snapshot-sharing connections on every node, the same number
// on each (at least one); hook (optional) runs on each node right after its snapshot is taken.
// The first connection of every node is acquired in pool order (two comparisons sharing pools,
// as in schema-diff, never each hold one node's last connection while waiting for the other's);
// then the nodes take their snapshots and acquire their extra workers at once — one after the
// other, in node order, when a hook is given and ordered is set (a hook may rely on the next
// node's snapshot being taken after it ran).
func openSessions(ctx context.Context, pools cluster.Pools, workers int, hook SnapshotHook, ordered bool) ([]*session, error) {
	out := make([]*session, len(pools))
	for i, p := range pools {
		c, err := p.Acquire(ctx)
		if err != nil {
			closeSessions(ctx, out)
			return nil, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("connect: %w", err)}
		}
		out[i] = &session{node: p.Node.Name, conns: []*pgxpool.Conn{c}}
	}
	start := func(i int, p *cluster.Pool) error {
		return out[i].start(ctx, p, workers, func(ctx context.Context, tx pgx.Tx) error {
			if hook == nil {
				return nil
			}
			return hook(ctx, i, tx)
		})
	}
	var errs []error
	if hook != nil && ordered {
		// node i's hook runs before node i+1's snapshot is taken (verify's fence relies on it)
		errs = make([]error, len(pools))
		for i, p := range pools {
			if errs[i] = start(i, p); errs[i] != nil {
				break
			}
		}
	} else {
		errs = pools.Each(start)
	}
	for i, err := range errs {
		if err != nil {
			closeSessions(ctx, out)
			return nil, &cluster.NodeError{Node: pools[i].Node.Name, Err: err}
		}
	}
	for _, s := range out {
		workers = min(workers, len(s.txs))
	}
	for _, s := range out { // nodes that got more workers than a busier one give back the extra
		s.trim(ctx, workers)
	}
	return out, nil
}

// start takes the snapshot on the session's first connection (already acquired), runs hook in
// it, and imports it on up to workers-1 more connections, acquired meanwhile; a busy pool gives
// fewer (extraWorkerWait).
func (s *session) start(ctx context.Context, p *cluster.Pool, workers int, hook func(context.Context, pgx.Tx) error) error {
	var extra []*pgxpool.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, extraWorkerWait)
			defer cancel()
			if c, err := p.Acquire(actx); err == nil { // the pool is busy: go on with the workers we have
				mu.Lock()
				extra = append(extra, c)
				mu.Unlock()
			}
		}()
	}
	err := func() error {
		tx, err := s.conns[0].BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return fmt.Errorf("begin snapshot transaction: %w", err)
		}
		s.txs = append(s.txs, tx)
		return nil
	}()
	var snapshot string
	if err == nil {
		if err = s.txs[0].QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&snapshot); err != nil {
			err = fmt.Errorf("export snapshot: %w", err)
		}
	}
	if err == nil {
		if err = hook(ctx, s.txs[0]); err != nil {
			err = fmt.Errorf("after the snapshot: %w", err)
		}
	}
	wg.Wait()
	s.conns = append(s.conns, extra...)
	if err != nil {
		return err
	}
	for _, c := range extra {
		tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return fmt.Errorf("begin snapshot transaction: %w", err)
		}
		s.txs = append(s.txs, tx)
		// SET TRANSACTION SNAPSHOT takes no parameters; the id comes from the server itself.
		if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snapshot)); err != nil {
			return fmt.Errorf("import snapshot: %w", err)
		}
	}
	return nil
}

// quoteLiteral quotes a server-generated snapshot id as an SQL literal.
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// trim keeps the first n workers of the session and releases the others.
func (s *session) trim(ctx context.Context, n int) {
	if len(s.txs) <= n {
		return
	}
	extra := &session{node: s.node, conns: s.conns[n:], txs: s.txs[n:]}
	s.conns, s.txs = s.conns[:n], s.txs[:n]
	extra.close(ctx)
}

func (s *session) close(ctx context.Context) {
	// Read-only: rollback only releases the snapshot; it must run even when ctx was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, tx := range s.txs {
		_ = tx.Rollback(ctx) // a broken connection fails here; the server ends its transaction
	}
	for _, c := range s.conns {
		c.Release()
	}
	s.txs, s.conns = nil, nil
}

func closeSessions(ctx context.Context, ss []*session) {
	for _, s := range ss {
		if s != nil {
			s.close(ctx)
		}
	}
}

// nodeErr attributes an error to a node.
func nodeErr(node string, format string, err error) error {
	return &cluster.NodeError{Node: node, Err: fmt.Errorf(format+": %w", err)}
}
