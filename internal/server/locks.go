package server

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey names something only Slots jobs may hold at once: a job (1), a schedule (1), a node
// (server.max_jobs_per_node).
type lockKey struct {
	Name  string
	Slots int
}

// locker takes a set of keys at once, or none: a job that cannot have all its keys waits and
// tries again later, holding nothing meanwhile (no deadlock between jobs).
type locker interface {
	// TryAcquire takes one slot of every key; ok is false when some key has no free slot.
	TryAcquire(ctx context.Context, keys []lockKey) (release func(), ok bool, err error)
}

// lockID is the advisory lock number of slot of a key.
func lockID(name string, slot int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "pgparity\x00%s\x00%d", name, slot)
	return int64(h.Sum64())
}

// advisoryLocker holds session advisory locks of the control-plane database, on one connection
// per job for as long as the job runs. Every instance sharing the database sees them, and an
// instance that dies loses its connections and so its locks.
type advisoryLocker struct{ pool *pgxpool.Pool }

func (l *advisoryLocker) TryAcquire(ctx context.Context, keys []lockKey) (func(), bool, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("job locks: %w", err)
	}
	release := func() {
		// Unlock on a context of its own: a cancelled job must still free its locks.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_all()"); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing the session frees the locks
		}
		conn.Release()
	}
	for _, k := range keys {
		got := false
		for slot := 0; slot < k.Slots && !got; slot++ {
			if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockID(k.Name, slot)).Scan(&got); err != nil {
				release()
				return nil, false, fmt.Errorf("job locks: %s: %w", k.Name, err)
			}
		}
		if !got {
			release()
			return nil, false, nil
		}
	}
	return release, true, nil
}

// localLocker counts slots in memory: the SQLite queue serves one instance only.
type localLocker struct {
	mu   sync.Mutex
	held map[string]int
}

func newLocalLocker() *localLocker { return &localLocker{held: map[string]int{}} }

func (l *localLocker) TryAcquire(_ context.Context, keys []lockKey) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if l.held[k.Name] >= k.Slots {
			return nil, false, nil
		}
	}
	for _, k := range keys {
		l.held[k.Name]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, k := range keys {
				if l.held[k.Name]--; l.held[k.Name] == 0 {
					delete(l.held, k.Name)
				}
			}
		})
	}, true, nil
}
