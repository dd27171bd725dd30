package server

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const chromium = "/usr/bin/chromium"

// browse runs headless chromium on url with extra flags and returns its stdout.
func browse(t *testing.T, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000"}, extra...)
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// TestDashboardInChromium: after a differing and a matching table-diff job, the dashboard
// renders in headless Chromium with both tables, a cell per node, a history chart and a link to
// the HTML report; following that link renders the report.
func TestDashboardInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found; skipping the browser test", chromium)
		}
		t.Fatal(err)
	}
	db, svc := diffTable(t)
	db.Exec(t, "CREATE TABLE public.same (id int PRIMARY KEY); INSERT INTO public.same SELECT generate_series(1, 50)")
	ts := startServer(t, svc, false, "")
	c := ts.client(t, "")
	for _, table := range []string{"public.t", "public.same", "public.t"} {
		var acc map[string]string
		ts.call(t, c, "POST", "/v1/jobs", map[string]any{"command": "table-diff", "cluster": "c", "table": table,
			"options": map[string]any{"output": "html"}}, &acc)
		ts.wait(t, c, acc["id"])
	}
	dom := browse(t, ts.url("/"), "--dump-dom")
	for _, want := range []string{
		`<tr data-table="public.same" data-cluster="c">`,
		`<tr data-table="public.t" data-cluster="c">`,
		`<span class="status">differ</span> · 2 key(s)`,
		`<span class="status">match</span>`,
		`<td class="differ cell" data-node="n2">499 rows<br>1 missing</td>`,
		`<td class="match cell" data-node="n1">50 rows</td>`,
		`<svg class="chart"`,
		`Nothing running.`, `Nothing queued.`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<rect x=`); n != 3 {
		t.Errorf("history bars: %d, want 3 (two runs of public.t, one of public.same)", n)
	}
	m := regexp.MustCompile(`<a class="report" href="(/v1/jobs/\d+/files/report)">`).FindAllStringSubmatch(dom, -1)
	if len(m) != 2 {
		t.Fatalf("report links: %v\n%s", m, dom)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if p := os.Getenv("PGPARITY_DASHBOARD_PNG"); p != "" {
		shot = p // keep the screenshot to look at
	}
	browse(t, ts.url("/"), "--screenshot="+shot, "--window-size=1200,700")
	if st, err := os.Stat(shot); err != nil || st.Size() < 5000 {
		t.Fatalf("screenshot: %v", err)
	}
	// Click through: the report of public.t's last run.
	link := ""
	for _, l := range m {
		if strings.Index(dom, l[0]) > strings.Index(dom, `data-table="public.t"`) {
			link = l[1]
		}
	}
	report := browse(t, ts.url(link), "--dump-dom")
	if !strings.Contains(report, "public.t") || !strings.Contains(report, "changed") {
		t.Errorf("the report behind %s does not show public.t's differing row:\n%.2000s", link, report)
	}
}
