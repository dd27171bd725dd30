package server

import (
	"context"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// rowCacheTTL is how stale a job status GET /v1/jobs/{id} may answer: many clients polling one
// job cost one read of its row per TTL (the SQLite queue has one connection).
const rowCacheTTL = 250 * time.Millisecond

// rowCache remembers job rows briefly and lets concurrent readers of one row share one read.
type rowCache struct {
	mu      sync.Mutex
	entries map[int64]*rowEntry
}

type rowEntry struct {
	ready chan struct{}
	at    time.Time
	row   *rivertype.JobRow
	err   error
}

// get returns the row of job id, read with read at most once per rowCacheTTL.
func (c *rowCache) get(ctx context.Context, id int64, read func(context.Context, int64) (*rivertype.JobRow, error)) (*rivertype.JobRow, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[int64]*rowEntry{}
	}
	e := c.entries[id]
	if e == nil || (time.Since(e.at) > rowCacheTTL && isClosed(e.ready)) {
		if len(c.entries) > 10000 {
			clear(c.entries)
		}
		e = &rowEntry{ready: make(chan struct{}), at: time.Now()}
		c.entries[id] = e
		c.mu.Unlock()
		e.row, e.err = read(context.WithoutCancel(ctx), id)
		close(e.ready)
		return e.row, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.row, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
