package merkle_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/merkle"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestCDCNeedsLogicalDecoding starts a node with wal_level = replica: --tracker cdc is an input
// error naming the remedy, and the default picks the trigger tracker.
func TestCDCNeedsLogicalDecoding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgparity-walrep-") // as RunTests does: the server's OS user must enter it
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Nodes: 2, Settings: map[string]string{"wal_level": "replica"}})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Destroy(context.Background()) })
	n := sb.Nodes[0]
	pools, err := cluster.Connect(ctx, []cluster.Node{{Name: "r1", Params: map[string]string{
		"host": "127.0.0.1", "port": strconv.Itoa(n.Port), "user": sandbox.Superuser, "password": sb.Password,
		"dbname": "postgres", "sslmode": "disable",
	}}}, cluster.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pools.Close()
	if err := merkle.Init(ctx, pools[0]); err != nil {
		t.Fatal(err)
	}
	_, err = cdc.Init(ctx, pools[0], cdc.CDC)
	if !fault.IsInput(err) || !strings.Contains(err.Error(), "node r1 has wal_level = replica: the cdc tracker needs logical decoding; use --tracker trigger") {
		t.Fatalf("--tracker cdc on wal_level = replica: %v", err)
	}
	kind, err := cdc.Init(ctx, pools[0], "")
	if err != nil || kind != cdc.Trigger {
		t.Fatalf("default tracker on wal_level = replica: %q, %v", kind, err)
	}
}
