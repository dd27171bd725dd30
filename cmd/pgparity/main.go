// Command pgparity finds, reports and repairs differing rows between PostgreSQL nodes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/pgparity/pgparity/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	// Memory is bounded by design (differences stream to files); a soft limit keeps the garbage
	// collector from letting the heap drift far above the live data. GOMEMLIMIT wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
	// PGPARITY_CPUPROFILE=FILE writes a CPU profile (go tool pprof) for developers.
	if path := os.Getenv("PGPARITY_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		} else {
			fmt.Fprintln(os.Stderr, "pgparity: cpu profile:", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, version, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}
