package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// shared is the sandbox of the running test binary, started by RunTests.
var shared *Sandbox

// RunTests starts a sandbox of n nodes for a test package, runs its tests and destroys the
// sandbox. Call it from TestMain: os.Exit(sandbox.RunTests(m, 3)).
func RunTests(m *testing.M, n int) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	dir, err := os.MkdirTemp("", "pgparity-sandbox-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		cancel()
		return 3
	}
	shared, err = Up(ctx, Options{Dir: dir, Nodes: n})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		// Stop whatever did start before removing the directory.
		if partial, lerr := Load(dir); lerr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = partial.Down(ctx)
			cancel()
		}
		_ = os.RemoveAll(dir)
		return 3
	}
	code := m.Run()
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := shared.Destroy(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		if code == 0 {
			code = 3
		}
	}
	return code
}

// DB is a fresh database, of the same name, on every node of the test sandbox.
type DB struct {
	Name    string
	Sandbox *Sandbox
}

// NewDB creates a fresh database on every node of the package's sandbox; it is dropped when the
// test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	if shared == nil {
		t.Fatal("sandbox not started: call sandbox.RunTests from TestMain")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &DB{Name: "t_" + hex.EncodeToString(b), Sandbox: shared}
	for _, n := range shared.Nodes {
		db.execDB(t, n, "postgres", "CREATE DATABASE "+db.Name)
	}
	t.Cleanup(func() {
		for _, n := range shared.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			conn, err := pgx.Connect(ctx, shared.ConnString(n, "postgres"))
			if err == nil {
				_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)")
				conn.Close(ctx)
			}
			cancel()
		}
	})
	return db
}

// Nodes returns the sandbox's nodes.
func (d *DB) Nodes() []Node { return d.Sandbox.Nodes }

// ConnString returns the connection string of this database on a node.
func (d *DB) ConnString(node string) string {
	n, err := d.Sandbox.node(node)
	if err != nil {
		panic(err) // a test named a node that does not exist
	}
	return d.Sandbox.ConnString(n, d.Name)
}

// Exec runs SQL on the named nodes (all nodes when none are named), failing the test on error.
func (d *DB) Exec(t testing.TB, sql string, nodes ...string) {
	t.Helper()
	if len(nodes) == 0 {
		for _, n := range d.Sandbox.Nodes {
			nodes = append(nodes, n.Name)
		}
	}
	for _, name := range nodes {
		n, err := d.Sandbox.node(name)
		if err != nil {
			t.Fatal(err)
		}
		d.execDB(t, n, d.Name, sql)
	}
}

// Connect opens a connection to this database on a node, closed when the test ends.
func (d *DB) Connect(t testing.TB, node string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.ConnString(node))
	if err != nil {
		t.Fatalf("connect %s: %v", node, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// ServiceFile writes a service file for this database as cluster `name` into a temporary
// directory and returns its path.
func (d *DB) ServiceFile(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pg_service.conf")
	if err := d.Sandbox.WriteServiceFile(path, name, d.Name); err != nil {
		t.Fatal(err)
	}
	return path
}

func (d *DB) execDB(t testing.TB, n Node, dbname, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.Sandbox.ConnString(n, dbname))
	if err != nil {
		t.Fatalf("connect %s: %v", n.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("on %s: %v\nSQL: %s", n.Name, err, sql)
	}
}

// Shared returns the test binary's sandbox (nil before RunTests).
func Shared() *Sandbox { return shared }
