package server

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// notifyHangup calls reload on every SIGHUP until ctx ends or stop is called.
func notifyHangup(ctx context.Context, reload func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				reload()
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
