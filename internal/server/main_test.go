package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv("PGPARITY_TEST_SERVE"); cfg != "" {
		os.Exit(serveChild(cfg, os.Getenv("PGPARITY_TEST_SERVICE_FILE"), os.Getenv("PGPARITY_TEST_INSTANCE")))
	}
	os.Exit(sandbox.RunTests(m, 2))
}

// serveChild runs a server as the scale-out test's subprocess: it prints "ADDR host:port" when
// it listens and serves until SIGTERM (the test SIGKILLs one).
func serveChild(cfg, svc, instance string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	env, err := job.LoadEnv(cfg, svc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := New(ctx, Options{Env: env, Logger: log, Instance: instance})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := s.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	<-ctx.Done()
	if err := s.Shutdown(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// testServer is a started server and what a test needs to talk to it.
type testServer struct {
	*Server
	dir      string
	yamlPath string
	svcFile  string
	ca       *testCA           // signs the server's and the clients' certificates (nil: insecure)
	clients  map[string][]byte // CN -> cert PEM, key PEM interleaved: see client()
	keys     map[string][]byte
}

// startServer starts a server on a loopback port with settings yaml (the server section's
// listen, certificates and output_dir are added). With tlsOn, clients viewer-bot (viewer),
// ops-bot (operator) and root-bot (admin) have certificates.
func startServer(t *testing.T, svcFile string, tlsOn bool, yaml string) *testServer {
	t.Helper()
	return startServerWith(t, svcFile, tlsOn, "", yaml)
}

// startServerWith is startServer with more keys of the server section (indented by 2).
func startServerWith(t *testing.T, svcFile string, tlsOn bool, serverExtra, yaml string) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{dir: dir, svcFile: svcFile, clients: map[string][]byte{}, keys: map[string][]byte{}}
	server := "server:\n  listen: 127.0.0.1:0\n  insecure: true\n"
	if tlsOn {
		ts.ca = newTestCA(t, "test-ca")
		crt, key := ts.ca.issue(t, "pgparity-server", true)
		server = fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  tls_cert: %s\n  tls_key: %s\n  client_ca: %s\n  roles: {viewer-bot: viewer, ops-bot: operator, root-bot: admin}\n",
			writeFile(t, dir, "server.crt", crt), writeFile(t, dir, "server.key", key), writeFile(t, dir, "ca.crt", ts.ca.pem))
		for _, cn := range []string{"viewer-bot", "ops-bot", "root-bot", "nobody"} {
			ts.clients[cn], ts.keys[cn] = ts.ca.issue(t, cn, false)
		}
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	text := "output_dir: " + out + "\nconcurrency: 2\nhistory_path: " + filepath.Join(dir, "history.db") + "\n" + server + serverExtra + yaml
	ts.yamlPath = writeFile(t, dir, "pgparity.yaml", []byte(text))
	env, err := job.LoadEnv(ts.yamlPath, svcFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := New(ctx, Options{Env: env, StatePath: filepath.Join(dir, "state.db"), Logger: log, Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts.Server = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// client is an HTTP client presenting cn's certificate ("" = none).
func (ts *testServer) client(t *testing.T, cn string) *http.Client {
	t.Helper()
	if ts.ca == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	var tc *tls.Config
	if cn == "" {
		tc = clientTLS(t, ts.ca, nil, nil)
	} else {
		tc = clientTLS(t, ts.ca, ts.clients[cn], ts.keys[cn])
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

func (ts *testServer) url(path string) string {
	if ts.ca == nil {
		return "http://" + ts.Addr() + path
	}
	return "https://" + ts.Addr() + path
}

// call sends a request and decodes a JSON answer into out (when not nil); it returns the status.
func (ts *testServer) call(t *testing.T, c *http.Client, method, path string, body any, out any) int {
	t.Helper()
	return ts.callAt(t, c, strings.TrimSuffix(ts.url(""), "/"), method, path, body, out)
}

// callAt is call on the server at base (scheme://host:port).
func (ts *testServer) callAt(t *testing.T, c *http.Client, base, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// wait polls job id until it ends.
// runJob posts a job (202 expected) and waits for it to finish.
func (ts *testServer) runJob(t *testing.T, c *http.Client, req map[string]any) JobView {
	t.Helper()
	var acc map[string]string
	if code := ts.call(t, c, "POST", "/v1/jobs", req, &acc); code != 202 {
		t.Fatalf("POST %v: %d %v", req, code, acc)
	}
	return ts.wait(t, c, acc["id"])
}

func (ts *testServer) wait(t *testing.T, c *http.Client, id string) JobView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var v JobView
		if code := ts.call(t, c, "GET", "/v1/jobs/"+id, nil, &v); code != 200 {
			t.Fatalf("GET job %s: %d", id, code)
		}
		if v.FinishedAt != nil {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return JobView{}
}

// diffTable makes table public.t on both nodes of a fresh database, differing in keys 2 (value)
// and 3 (missing on n2), and returns the service file naming it cluster c.
func diffTable(t *testing.T) (*sandbox.DB, string) {
	t.Helper()
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 500) g")
	db.Exec(t, "UPDATE public.t SET v = 'changed' WHERE id = 2; DELETE FROM public.t WHERE id = 3", "n2")
	return db, db.ServiceFile(t, "c")
}

func must(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

// readFull reads resp's body into b and closes it.
func readFull(resp *http.Response, b []byte) (int, error) {
	defer resp.Body.Close()
	return io.ReadFull(resp.Body, b)
}
