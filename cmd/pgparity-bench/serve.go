package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Case serve: `pgparity serve` (insecure, loopback, SQLite queue) runs table-diff jobs of
// public.wide while 200 clients ask for job status at once (GET /v1/jobs/{id}, round robin over
// the jobs); it prints the latency percentiles and the errors. Target: no error.
const (
	serveClients  = 200
	serveRequests = 25 // per client
	serveJobs     = 6
)

func (b *bench) serveCase(ctx context.Context) error {
	dir, err := os.MkdirTemp(b.dir, "serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "pgparity.yaml")
	text := fmt.Sprintf("output_dir: %s\nhistory_path: %s\nserver:\n  listen: %s\n  insecure: true\n  workers: 2\n",
		dir, filepath.Join(dir, "state.db"), addr)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, b.bin, "serve", "--config", cfg, "--service-file", b.svc, "--log-level", "info")
	var stderr bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(&stderr, pw)
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		cmd.Wait()                          //nolint:errcheck // stopped either way
		pw.Close()
	}()
	if err := waitServing(pr); err != nil {
		return fmt.Errorf("serve did not start: %w: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain the log
	base := "http://" + addr
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: serveClients}}
	var ids []string
	for i := 0; i < serveJobs; i++ {
		body := `{"command": "table-diff", "cluster": "bench", "table": "public.wide"}`
		resp, err := c.Post(base+"/v1/jobs", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		var acc map[string]string
		err = json.NewDecoder(resp.Body).Decode(&acc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST /v1/jobs: %d %v %v", resp.StatusCode, acc, err)
		}
		ids = append(ids, acc["id"])
	}
	lat, errs, running := b.hammer(ctx, c, base, ids)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("\nserve: %d clients x %d GET /v1/jobs/{id} while %d table-diff jobs of %d rows ran (%d seen running)\n",
		serveClients, serveRequests, serveJobs, b.rows, running)
	fmt.Printf("  latency p50 %s  p90 %s  p99 %s  max %s  errors %d\n",
		fmtDur(pct(0.50)), fmtDur(pct(0.90)), fmtDur(pct(0.99)), fmtDur(lat[len(lat)-1]), errs)
	v := verdict{what: "serve status requests"}
	v.want(errs == 0, "%d requests failed", errs)
	fmt.Printf("  %s\n", b.judge(v))
	return nil
}

// hammer runs the clients and returns every successful request's latency, the failures and how
// many answers said running.
func (b *bench) hammer(ctx context.Context, c *http.Client, base string, ids []string) ([]time.Duration, int, int) {
	var mu sync.Mutex
	var lat []time.Duration
	errs, running := 0, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < serveClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for r := 0; r < serveRequests && ctx.Err() == nil; r++ {
				id := ids[(w+r)%len(ids)]
				t0 := time.Now()
				resp, err := c.Get(base + "/v1/jobs/" + id)
				var v struct{ Status string }
				if err == nil {
					err = json.NewDecoder(resp.Body).Decode(&v)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, took)
					if v.Status == "running" {
						running++
					}
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(lat) == 0 {
		lat = []time.Duration{0}
	}
	return lat, errs, running
}

// waitServing reads serve's log until it says it is serving.
func waitServing(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "msg=serving") {
			return nil
		}
	}
	return fmt.Errorf("serve exited")
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
