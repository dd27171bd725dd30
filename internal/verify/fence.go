package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/topology"
)

// fenceMessage prefixes the logical decoding message pgparity writes to move the publisher's
// flushed WAL past a fence. It is transactional and changes no table: pgoutput does not send it
// to subscriptions (they do not ask for messages), so nothing reaches any subscriber's tables.
const fenceMessage = "pgparity.verify.fence"

// LagError says the subscriber did not apply the publisher's fence in time, or cannot (the
// subscription is disabled or its apply worker is not running).
type LagError struct {
	Fence    topology.LSN
	Applied  topology.LSN // 0 when unknown
	LagBytes int64
	// Waited is how long the fence was waited for: the subscriber is at least that far behind.
	Waited time.Duration
	Reason string
}

func (e *LagError) Error() string {
	return fmt.Sprintf("subscriber has not applied fence %s: %s (%d bytes behind after %s)", e.Fence, e.Reason, e.LagBytes, e.Waited.Round(time.Millisecond))
}

// fencer takes fences on a publisher and waits for a subscription to apply them.
type fencer struct {
	pub, sub     *cluster.Pool
	subscription string
	slot         string // on the publisher ("" when none)
	maxWait      time.Duration
	emitDenied   bool // pg_logical_emit_message refused: rely on the publisher's own traffic

	// Set by the last fence.
	last    topology.LSN
	lagAtIt int64 // bytes the subscriber was behind the fence when the wait began
	errors0 int64 // the subscription's error counters when the first fence was taken (-1: not yet)
	errors  int64
}

func newFencer(pub, sub *cluster.Pool, subscription, slot string, maxWait time.Duration) *fencer {
	return &fencer{pub: pub, sub: sub, subscription: subscription, slot: slot, maxWait: maxWait, errors0: -1}
}

// hook is the snapshot hook of a comparison over [publisher, subscriber]: right after the
// publisher's snapshot it takes the fence (the WAL insert position: every commit the snapshot
// sees ends before it), makes sure WAL past it is flushed, and waits until the subscriber has
// applied it, before the subscriber's snapshot is taken (the comparer opens nodes in order).
func (f *fencer) hook(ctx context.Context, node int, tx pgx.Tx) error {
	if node != 0 {
		return nil
	}
	var text string
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_insert_lsn()::text").Scan(&text); err != nil {
		return fmt.Errorf("read the fence position: %w", err)
	}
	fence, err := topology.ParseLSN(text)
	if err != nil {
		return err
	}
	f.last = fence
	if err := f.flushPast(ctx); err != nil {
		return err
	}
	return f.wait(ctx, fence)
}

// flushPast commits a tiny transaction on the publisher (a transactional logical message, no
// table written) with synchronous_commit on, so that WAL up to the fence is flushed and decoded
// even when the publisher is otherwise idle.
func (f *fencer) flushPast(ctx context.Context) error {
	if f.emitDenied {
		return nil
	}
	err := pgx.BeginFunc(ctx, f.pub, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_catalog.pg_logical_emit_message(true, $1, '')", fenceMessage)
		return err
	})
	if denied(err) {
		slog.Warn("pg_logical_emit_message is not allowed: an idle publisher's fence waits for its next commit", "node", f.pub.Node.Name)
		f.emitDenied = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("flush WAL past the fence: %w", err)
	}
	return nil
}

// wait polls the subscription's progress until it has applied fence, for at most maxWait. A
// disabled subscription fails at once, whatever it applied; a missing apply worker is waited
// for (it restarts).
func (f *fencer) wait(ctx context.Context, fence topology.LSN) error {
	start := time.Now()
	pause := 5 * time.Millisecond
	for first := true; ; first = false {
		p, err := topology.ReadProgress(ctx, f.sub, f.subscription)
		if err != nil {
			return &cluster.NodeError{Node: f.sub.Node.Name, Err: err}
		}
		applied := p.Applied()
		lag := int64(0)
		if applied < fence {
			lag = int64(fence - applied)
		}
		if first {
			f.lagAtIt = lag
		}
		f.errors = p.ApplyErrors + p.SyncErrors
		if f.errors0 < 0 {
			f.errors0 = f.errors
		}
		// A disabled subscription is inconclusive even when its worker applied the fence before
		// it stopped: it will not apply what comes next.
		if applied >= fence && p.Enabled {
			return nil
		}
		lagErr := func(reason string) error {
			// Without an apply worker the subscriber reports nothing: the position it last
			// confirmed to the publisher's slot may be later than its origin's.
			if f.slot != "" {
				if l, err := topology.ReadSlotFlush(ctx, f.pub, f.slot); err == nil && l != nil && *l > applied {
					applied = min(*l, fence)
					lag = int64(fence - applied)
				}
			}
			return &LagError{Fence: fence, Applied: applied, LagBytes: lag, Waited: time.Since(start), Reason: reason}
		}
		switch {
		case !p.Enabled:
			return lagErr("the subscription is disabled")
		case time.Since(start) >= f.maxWait && p.ApplyPID == nil:
			return lagErr(fmt.Sprintf("no apply worker ran within --max-wait %s", f.maxWait))
		case time.Since(start) >= f.maxWait:
			return lagErr(fmt.Sprintf("still behind after --max-wait %s", f.maxWait))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// newErrors returns how many apply or sync errors the subscription reported since the first
// fence.
func (f *fencer) newErrors() int64 {
	if f.errors0 < 0 {
		return 0
	}
	return f.errors - f.errors0
}

// asLag returns the LagError inside err, if any.
func asLag(err error) (*LagError, bool) {
	var le *LagError
	ok := errors.As(err, &le)
	return le, ok
}
