package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(RunTests(m, 2)) }

func TestNodesAnswerAndDatabasesAreFresh(t *testing.T) {
	db := NewDB(t)
	db.Exec(t, "CREATE TABLE x (id int PRIMARY KEY)")
	db.Exec(t, "INSERT INTO x VALUES (1),(2)", "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for node, want := range map[string]int{"n1": 2, "n2": 0} {
		var got int
		var wal string
		c := db.Connect(t, node)
		if err := c.QueryRow(ctx, "SELECT count(*), current_setting('wal_level') FROM x").Scan(&got, &wal); err != nil {
			t.Fatal(err)
		}
		if got != want || wal != "logical" {
			t.Errorf("%s: rows=%d wal_level=%s, want rows=%d wal_level=logical", node, got, wal, want)
		}
	}
}

func TestUpIsIdempotentAndStatusReports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := Shared()
	again, err := Up(ctx, Options{Dir: s.Dir, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Nodes) != 2 || again.Nodes[0].Port != s.Nodes[0].Port {
		t.Fatalf("second Up changed the sandbox: %+v vs %+v", again.Nodes, s.Nodes)
	}
	if err := s.Stop(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	st := s.Status(ctx)
	if !st[0].Running || st[1].Running {
		t.Fatalf("status after stopping n2: %+v", st)
	}
	if err := s.Start(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(ctx); !st[1].Running {
		t.Fatalf("n2 not running after Start: %+v", st)
	}
}

func TestFindBinDirRejectsBadExplicitDir(t *testing.T) {
	if _, err := FindBinDir(t.TempDir()); err == nil {
		t.Fatal("an empty directory must not be accepted as a PostgreSQL bin directory")
	}
	if _, err := FindBinDir(""); err != nil {
		t.Fatalf("this machine has PostgreSQL installed: %v", err)
	}
}

// TestStartMovesOffATakenPort: a node whose port another program took meanwhile is moved to a
// free port and started.
func TestStartMovesOffATakenPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := Shared()
	if err := s.Stop(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	old := s.Nodes[1].Port
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", old))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := s.startOnFreePort(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if s.Nodes[1].Port == old || !s.Status(ctx)[1].Running {
		t.Fatalf("n2 on port %d (was %d), status %+v", s.Nodes[1].Port, old, s.Status(ctx)[1])
	}
	again, err := Load(s.Dir)
	if err != nil || again.Nodes[1].Port != s.Nodes[1].Port {
		t.Fatalf("state file not updated: %+v %v", again, err)
	}
}
