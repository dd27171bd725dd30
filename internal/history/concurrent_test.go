package history

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// The concurrency tests run writers that each record wRuns runs, every run seeing wKeys keys:
// writer w sees keys w*wKeys/2 ... w*wKeys/2+wKeys-1, so neighbouring writers share half their keys.
const (
	wRuns = 4
	wKeys = 1500 // more than one batch
)

// writerEnv names the SQLite file a re-executed test binary writes to as a writer process.
const writerEnv = "PGPARITY_HISTORY_TEST_WRITER"

// writerKeys yields writer w's keys.
func writerKeys(w int) iter.Seq[Seen] {
	return func(yield func(Seen) bool) {
		for i := range wKeys {
			if !yield(Seen{Key: Key{strconv.Itoa(w*wKeys/2 + i)}, Nodes: []string{"n" + strconv.Itoa(w)}}) {
				return
			}
		}
	}
}

// write opens its own handle on the store and records writer w's runs.
func write(ctx context.Context, dsn, path string, w int) error {
	s, err := Open(ctx, dsn, path)
	if err != nil {
		return err
	}
	defer s.Close()
	for range wRuns {
		id, err := s.StartRun(ctx, Start{Command: "table-diff", Cluster: "c1", Tables: []string{tbl}})
		if err != nil {
			return err
		}
		n, err := s.RecordDivergences(ctx, id, "c1", tbl, writerKeys(w))
		if err != nil {
			return err
		}
		if err := s.FinishRun(ctx, id, Result{Status: StatusDiffer, ExitCode: 1, DifferingKeys: n}); err != nil {
			return err
		}
	}
	return nil
}

// writerProcess is the body of a re-executed test binary: writer number $PGPARITY_HISTORY_TEST_W.
func writerProcess(path string) int {
	w, err := strconv.Atoi(os.Getenv("PGPARITY_HISTORY_TEST_W"))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = write(ctx, "", path, w)
		cancel()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	return 0
}

// checkWriters asserts that writers 0..n-1 each recorded every run and key: no run lost, every
// run finished with all its keys, every key open once, first seen by the earliest run and last seen
// by the latest run that saw it.
func checkWriters(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := testContext(t, time.Minute)
	rs, err := s.Runs(ctx, RunFilter{Cluster: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != n*wRuns {
		t.Errorf("%d runs, want %d", len(rs), n*wRuns)
	}
	for _, r := range rs {
		if r.Status != StatusDiffer || r.DifferingKeys != wKeys {
			t.Errorf("run %d: %s with %d keys, want differ with %d", r.ID, r.Status, r.DifferingKeys, wKeys)
		}
	}
	// Every run saw the keys shared by all writers: the first run started saw them first.
	first, last := rs[len(rs)-1].StartedAt, rs[0].StartedAt
	ds, err := s.Divergences(ctx, DivergenceFilter{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + 1) * wKeys / 2; len(ds) != want {
		t.Errorf("%d open divergences, want %d", len(ds), want)
	}
	keys := map[string]bool{}
	for _, d := range ds {
		k := d.Key[0]
		if keys[k] {
			t.Errorf("key %s open twice", k)
		}
		keys[k] = true
		i, _ := strconv.Atoi(k)
		if n == 2 && i >= wKeys/2 && i < wKeys && (!d.FirstSeenAt.Equal(first) || !d.LastSeenAt.Equal(last)) {
			t.Errorf("shared key %s seen %v..%v, want %v..%v", k, d.FirstSeenAt, d.LastSeenAt, first, last)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, 5*time.Minute)
		// Both writers open the fresh store at once: one migrates it, the other waits and finds it
		// migrated.
		g, gctx := errgroup.WithContext(ctx)
		for w := range 2 {
			g.Go(func() error { return write(gctx, b.dsn, b.path, w) })
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		checkWriters(t, b.open(t), 2)
	})
}

// TestConcurrentProcesses runs two writers as separate processes (this test binary re-executed)
// on one fresh SQLite file.
func TestConcurrentProcesses(t *testing.T) {
	b := newBackend(t, "sqlite")
	ctx := testContext(t, 5*time.Minute)
	g, gctx := errgroup.WithContext(ctx)
	for w := range 2 {
		g.Go(func() error {
			cmd := exec.CommandContext(gctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), writerEnv+"="+b.path, "PGPARITY_HISTORY_TEST_W="+strconv.Itoa(w))
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("writer process %d: %v\n%s", w, err, out)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	checkWriters(t, b.open(t), 2)
}
