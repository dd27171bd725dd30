package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestMain starts the smallest sandbox (two nodes; the tests use n1) for the package, unless the binary was re-executed as a
// writer process by TestConcurrentProcesses.
func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(writerProcess(path))
	}
	os.Exit(sandbox.RunTests(m, 2))
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// backend is a fresh, empty store location: a SQLite file in a temporary directory, or a fresh
// database on the sandbox node.
type backend struct {
	name string
	dsn  string
	path string
}

// eachBackend runs fn as a subtest for each backend, on a fresh store.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, newBackend(t, name)) })
	}
}

func newBackend(t *testing.T, name string) backend {
	t.Helper()
	if name == "postgres" {
		return backend{name: name, dsn: sandbox.NewDB(t).ConnString("n1")}
	}
	return backend{name: name, path: filepath.Join(t.TempDir(), "state", "pgparity", "history.db")}
}

// open opens a new handle on the backend's store, closed when the test ends.
func (b backend) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(testContext(t, time.Minute), b.dsn, b.path)
	if err != nil {
		t.Fatalf("open %s store: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runs names run ids for rendering: "-" for 0.
type runs map[int64]string

func (r runs) name(id int64) string {
	if id == 0 {
		return "-"
	}
	if n, ok := r[id]; ok {
		return n
	}
	return fmt.Sprintf("#%d", id)
}

// renderDivergences describes each divergence as
// "KEY nodes=N first=RUN last=RUN repair=RUN resolved=RUN by=RUN", sorted.
func renderDivergences(ds []Divergence, r runs) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s nodes=%s first=%s last=%s repair=%s resolved=%s by=%s",
			strings.Join(d.Key, ","), strings.Join(d.Nodes, ","), r.name(d.FirstSeenRun), r.name(d.LastSeenRun),
			r.name(d.LastRepairRun), r.name(d.ResolvedRun), r.name(d.ResolvedByRepairRun))
	}
	sort.Strings(out)
	return out
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	want = append([]string{}, want...)
	sort.Strings(want)
	if got == nil {
		got = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}
