// Command pgparity finds, reports and repairs differing rows between PostgreSQL nodes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pgparity/pgparity/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, version, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
