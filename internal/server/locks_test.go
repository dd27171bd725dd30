package server

import (
	"context"
	"testing"
)

// TestLocalLocker: a set of keys is taken whole or not at all; slots count per key; release
// frees exactly what was taken, once.
func TestLocalLocker(t *testing.T) {
	ctx := context.Background()
	l := newLocalLocker()
	node := lockKey{Name: "node:c/n1", Slots: 2}
	rel1, ok, _ := l.TryAcquire(ctx, []lockKey{{Name: "job:1", Slots: 1}, node})
	must(t, ok, "first job")
	rel2, ok, _ := l.TryAcquire(ctx, []lockKey{{Name: "job:2", Slots: 1}, node})
	must(t, ok, "second job (2 slots)")
	_, ok, _ = l.TryAcquire(ctx, []lockKey{{Name: "job:3", Slots: 1}, node})
	must(t, !ok, "third job got a third slot")
	must(t, l.held["job:3"] == 0, "a refused set holds nothing: %v", l.held)
	_, ok, _ = l.TryAcquire(ctx, []lockKey{{Name: "job:1", Slots: 1}})
	must(t, !ok, "job 1 taken twice")
	rel1()
	rel1() // once only
	must(t, l.held["node:c/n1"] == 1 && l.held["job:1"] == 0, "after release: %v", l.held)
	rel3, ok, _ := l.TryAcquire(ctx, []lockKey{{Name: "job:3", Slots: 1}, node})
	must(t, ok, "third job after a release")
	rel2()
	rel3()
	must(t, len(l.held) == 0, "all released: %v", l.held)
	must(t, lockID("node:c/n1", 0) != lockID("node:c/n1", 1), "lock ids")
}
