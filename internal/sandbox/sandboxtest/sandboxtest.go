// Package sandboxtest connects tests to the databases of internal/sandbox as pgparity connects
// to a cluster: one pool per node, with the pinned session settings of internal/cluster.
package sandboxtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// Nodes returns the cluster definition of db on the named sandbox nodes.
func Nodes(t testing.TB, db *sandbox.DB, names ...string) []cluster.Node {
	t.Helper()
	var nodes []cluster.Node
	for _, name := range names {
		port := 0
		for _, n := range db.Sandbox.Nodes {
			if n.Name == name {
				port = n.Port
			}
		}
		if port == 0 {
			t.Fatalf("no sandbox node %s", name)
		}
		nodes = append(nodes, cluster.Node{Name: name, Params: map[string]string{
			"host": "127.0.0.1", "port": strconv.Itoa(port), "user": sandbox.Superuser,
			"password": db.Sandbox.Password, "dbname": db.Name, "sslmode": "disable",
		}})
	}
	return nodes
}

// Pools opens pools of maxConns connections on db on the named nodes, closed when the test ends.
func Pools(t testing.TB, db *sandbox.DB, maxConns int, names ...string) cluster.Pools {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pools, err := cluster.Connect(ctx, Nodes(t, db, names...), cluster.PoolOptions{MaxConns: maxConns})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pools.Close)
	return pools
}
