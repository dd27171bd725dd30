package diff

import (
	"context"
	"sync"

	"github.com/pgparity/pgparity/internal/report"
)

// emitter hands differing keys to the sink in range order (and key order within a range), counts
// them, and stops the comparison at max keys (0 = no limit). Ranges finish out of order on
// concurrent workers; the emitter holds a finished range's entries only until the ranges before
// it are done, and the dispatcher lets at most `window` ranges be in flight or waiting, so memory
// is bounded by a few ranges whatever the number of differences.
type emitter struct {
	sink  report.Sink
	tally *report.Tally
	max   int

	mu      sync.Mutex
	next    int
	pending map[int][]report.Entry
	count   int
	full    bool
	err     error
	slots   chan struct{}
}

// window sizes the in-flight window for n workers.
func (em *emitter) window(n int) {
	em.slots = make(chan struct{}, 2*n+1)
	em.pending = map[int][]report.Entry{}
}

// acquire waits for room to start one more range.
func (em *emitter) acquire(ctx context.Context) error {
	select {
	case em.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// done records range rng's entries (possibly none) and emits every range now complete in order.
// It returns true once the limit is reached or the sink failed: the caller stops.
func (em *emitter) done(rng int, entries []report.Entry) (stop bool, err error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	em.pending[rng] = entries
	for {
		es, ok := em.pending[em.next]
		if !ok {
			break
		}
		delete(em.pending, em.next)
		em.next++
		<-em.slots
		for i := range es {
			if em.full || em.err != nil {
				break
			}
			em.emitLocked(&es[i])
		}
	}
	return em.full || em.err != nil, em.err
}

// emit hands one entry to the sink directly (callers that produce entries in order).
func (em *emitter) emit(e *report.Entry) (stop bool, err error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	if !em.full && em.err == nil {
		em.emitLocked(e)
	}
	return em.full || em.err != nil, em.err
}

func (em *emitter) emitLocked(e *report.Entry) {
	if err := em.sink.Entry(e); err != nil {
		em.err = err
		return
	}
	em.tally.Add(e)
	if !e.Transient {
		em.count++
		if em.max > 0 && em.count >= em.max {
			em.full = true
		}
	}
}
