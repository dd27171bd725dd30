package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const evilValue = `<script>alert(1)</script>`

// htmlDataBlock returns the text of the diff-data script element.
func htmlDataBlock(t *testing.T, page string) string {
	t.Helper()
	const open = `<script type="application/json" id="diff-data">`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatal("no diff-data block")
	}
	rest := page[i+len(open):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		t.Fatal("diff-data block is not closed")
	}
	return rest[:j]
}

func TestWriteHTML(t *testing.T) {
	d := summaryFixture()
	tricky := []string{
		evilValue,
		"<!--<script>",
		"line\u2028sep\u2029end",
		`"quoted" & <b>bold</b>`,
	}
	for i, v := range tricky {
		(*d.Rows[1].Values["n3"])[2].Value = v
		var buf bytes.Buffer
		if err := WriteHTML(&buf, d); err != nil {
			t.Fatal(err)
		}
		page := buf.String()

		if m := regexp.MustCompile(`(?i)https?://|(src|href)\s*=\s*["']?\s*//|@import|url\(`).FindString(page); m != "" {
			t.Errorf("value %d: page references an external resource: %q", i, m)
		}
		if n := strings.Count(strings.ToLower(page), "</script"); n != 2 {
			t.Errorf("value %d: %d </script sequences, want 2 (the data block and the script)", i, n)
		}
		if strings.Contains(page, "\u2028") || strings.Contains(page, "\u2029") {
			t.Errorf("value %d: raw U+2028/U+2029 in the page", i)
		}
		data := htmlDataBlock(t, page)
		if strings.Contains(data, "<!--") {
			t.Errorf("value %d: <!-- not escaped in the data block", i)
		}
		if v == evilValue && !strings.Contains(data, `<script>alert(1)<\/script>`) {
			t.Errorf("value %d: </script> not escaped as <\\/script> in the data block", i)
		}

		// The data block decodes to exactly the values of the diff.
		var got struct {
			Nodes    []string  `json:"nodes"`
			Columns  []string  `json:"columns"`
			Key      []string  `json:"key"`
			WholeRow bool      `json:"whole_row"`
			Rows     []htmlRow `json:"rows"`
		}
		if err := json.Unmarshal([]byte(data), &got); err != nil {
			t.Fatalf("value %d: data block is not JSON: %v", i, err)
		}
		if s := got.Rows[1].V[2][2]; s == nil || *s != v {
			t.Errorf("value %d: data block holds %v, want %q", i, s, v)
		}
		if fmt.Sprint(got.Nodes, got.Columns, got.Key, got.WholeRow) != "[n1 n2 n3] [region id status amount] [region id] false" {
			t.Errorf("value %d: data head = %v %v %v %v", i, got.Nodes, got.Columns, got.Key, got.WholeRow)
		}
	}

	var buf bytes.Buffer
	if err := WriteHTML(&buf, summaryFixture()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	var data struct {
		Rows []htmlRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(htmlDataBlock(t, page)), &data); err != nil {
		t.Fatal(err)
	}
	row0, err := json.Marshal(data.Rows[0])
	if err != nil {
		t.Fatal(err)
	}
	// eu/1: n2 lacks the row (null), amount is NULL on n3, status and amount differ.
	const wantRow0 = `{"k":["eu","1"],"d":[2,3],"v":[["eu","1","paid","10.00"],null,["eu","1","open",null]]}`
	if string(row0) != wantRow0 {
		t.Errorf("row 0 data = %s\nwant %s", row0, wantRow0)
	}

	i := strings.Index(page, `<section id="summary">`)
	j := strings.Index(page, `<section id="rows-section">`)
	if i < 0 || j < i {
		t.Fatal("no server-side summary section before the rows section")
	}
	summary := page[i:j]
	for _, want := range []string{
		"public.orders", "prod", `<span class="badge status-differ">differ</span>`,
		`<div class="value" id="differing-keys">3</div>`, "region, id", "primary key",
		"<tr><td>n1/n2</td>", "<tr><td>n1/n3</td>", "<tr><td>n2/n3</td>",
		"<tr><td>n2</td><td class=\"num\">999</td><td class=\"num bad\">1</td></tr>",
		"2 of 12", "1.235s", "2024-05-01 12:00:00.000 UTC", "2024-05-01 12:00:01.234 UTC",
		"<dt>row hash</dt><dd><code>record</code></dd>", "<dt>strict</dt><dd><code>false</code></dd>",
		"region=eu, id=4",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestWriteScriptSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"a</b"`, `"a<\/b"`},
		{`"</script>"`, `"<\/script>"`},
		{`"<!--<script>"`, `"\u003c!--<script>"`},
		{"\"a\u2028b\u2029c\"", `"a\u2028b\u2029c"`},
		{`"<<//"`, `"<<\//"`},
		{`"plain é"`, `"plain é"`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		writeScriptSafe(w, []byte(tt.in))
		w.Flush()
		if buf.String() != tt.want {
			t.Errorf("writeScriptSafe(%q) = %q, want %q", tt.in, buf.String(), tt.want)
		}
		var a, b string
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(buf.Bytes(), &b); err != nil || a != b {
			t.Errorf("writeScriptSafe(%q) decodes to %q (%v), want %q", tt.in, b, err, a)
		}
	}
}

// bigDiff is a 3-node diff of n differing rows: every third row is missing on n2, every third
// only exists on n2, the rest differ in value on n3. Row 1 carries a script as a value.
func bigDiff(n int) *Diff {
	d := summaryFixture()
	d.Key, d.KeySource = []string{"id"}, "primary key"
	d.Columns = []Column{
		{Name: "id", Type: "bigint"}, {Name: "customer", Type: "text"}, {Name: "amount", Type: "numeric"},
		{Name: "note", Type: "text"}, {Name: "updated_at", Type: "timestamp with time zone"},
	}
	d.Summary = Summary{
		Status:        StatusDiffer,
		RowsCompared:  map[string]int64{"n1": 1_000_000, "n2": 1_000_000, "n3": 1_000_000},
		DifferingKeys: n,
		Pairs:         map[string]int{"n1/n2": 2 * n / 3, "n1/n3": 2 * n / 3, "n2/n3": n},
		MissingOn:     map[string]int{"n1": n / 3, "n2": n / 3, "n3": n / 3},
		Ranges:        1000, RangesDiffering: 1000, DurationSeconds: 42.5,
	}
	d.Transient = nil
	d.Rows = make([]Row, n)
	for i := range d.Rows {
		id := json.Number(fmt.Sprint(i + 1))
		rec := func(note any, amount string) *Record {
			return &Record{
				{Name: "id", Value: id}, {Name: "customer", Value: fmt.Sprintf("customer %d", (i*7919)%10007)},
				{Name: "amount", Value: amount}, {Name: "note", Value: note},
				{Name: "updated_at", Value: "2024-05-01 12:00:00+00"},
			}
		}
		r := Row{Key: Record{{Name: "id", Value: id}}, Values: map[string]*Record{}}
		switch i % 3 {
		case 0:
			note := any("ok")
			if i == 0 {
				note = evilValue
			}
			r.Values["n1"], r.Values["n3"] = rec(note, "10.00"), rec(nil, "10.00")
		case 1:
			r.Values["n1"], r.Values["n2"], r.Values["n3"] = rec("ok", "5.00"), rec("ok", "5.00"), rec("ok", "5.01")
		case 2:
			r.Values["n2"] = rec(strings.Repeat("long value ", 30), "1.00")
		}
		d.Rows[i] = r
	}
	return d
}

const chromium = "/usr/bin/chromium"

// runChromium runs headless chromium on the page with no network and returns its stdout.
func runChromium(t *testing.T, page string, extra ...string) ([]byte, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000",
	}
	args = append(args, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish in 60s: %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return out, took
}

// needChromium skips the test when chromium is not installed, unless CI is set.
func needChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found (apt-get install chromium); skipping the browser test", chromium)
		}
		t.Fatalf("%s is required when CI is set: %v", chromium, err)
	}
}

// renderInChromium writes d as HTML into a temporary directory and returns the DOM chromium
// rendered from it.
func renderInChromium(t *testing.T, d *Diff) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := runChromium(t, page, "--dump-dom")
	return string(dom)
}

func TestHTMLInChromiumSmall(t *testing.T) {
	needChromium(t)

	match := summaryFixture()
	match.Summary = Summary{Status: StatusMatch, RowsCompared: map[string]int64{"n1": 5, "n2": 5, "n3": 5}}
	match.Rows, match.Transient = nil, nil

	whole := summaryFixture()
	whole.Key, whole.KeySource = nil, "whole row"
	whole.Columns = []Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "text"}}
	whole.Rows = []Row{{
		Key:    Record{{Name: "row_hash", Value: "9f3c0a"}},
		Values: map[string]*Record{"n1": {{Name: "a", Value: json.Number("1")}, {Name: "b", Value: nil}}},
		Counts: map[string]int64{"n1": 2, "n2": 0, "n3": 1},
	}}

	tests := []struct {
		name string
		diff *Diff
		want []string
	}{
		{"match", match, []string{
			`<span id="status" class="badge status-match">match</span>`,
			`<p id="empty">No differing rows.</p>`,
			`<span id="page-info" aria-live="polite">0 rows</span>`,
		}},
		{"whole row", whole, []string{
			`<th>Copies</th>`,
			`<td class="count diff-cell">2</td>`,
			`<td class="count diff-cell">0</td><td class="missing" colspan="2">missing on n2</td>`,
			`<td class="node">n3</td><td class="count diff-cell">1</td><td class="val">1</td><td class="val"><span class="null">NULL</span></td>`,
			`<td class="key" rowspan="3" title="row_hash=9f3c0a">row_hash=9f3c0a</td>`,
		}},
		{"composite key", summaryFixture(), []string{
			`<td class="key" rowspan="3" title="region=eu, id=1">region=eu, id=1<select class="plan-action" aria-label="Repair action for region=eu, id=1"><option value="">repair: default</option><option value="take n1">take n1</option>`,
			`<td class="node">n3</td><td class="val">eu</td><td class="val">1</td><td class="val diff-cell">open</td><td class="val diff-cell"><span class="null">NULL</span></td>`,
			`<td class="node">n2</td><td class="val">us</td><td class="val">7</td><td class="val">paid</td><td class="val diff-cell">5.00</td>`,
			`<span id="page-info" aria-live="polite">1–3 of 3</span>`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dom := renderInChromium(t, tt.diff)
			for _, want := range tt.want {
				if !strings.Contains(dom, want) {
					t.Errorf("rendered page lacks %s", want)
				}
			}
		})
	}
}

// TestHTMLInChromium renders the report of a diff file of HTMLRows keys, written as table-diff
// writes it (WriteHTMLFromFile): every key is embedded, the first page is rendered.
func TestHTMLInChromium(t *testing.T) {
	needChromium(t)
	const n = HTMLRows
	d := bigDiff(n)
	dir := t.TempDir()
	diffPath := filepath.Join(dir, "d.json.zst")
	if err := WriteFile(diffPath, d); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	start := time.Now()
	if err := WriteHTMLFromFile(page, diffPath); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(page)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WriteHTMLFromFile of %d rows: %d bytes in %v", n, st.Size(), time.Since(start).Round(time.Millisecond))

	dom, took := runChromium(t, page, "--dump-dom")
	t.Logf("chromium --dump-dom: %v", took.Round(time.Millisecond))
	html := string(dom)
	for _, want := range []string{
		`<h1 id="table-name">public.orders</h1>`,
		`<div class="value" id="differing-keys">100,000</div>`,
		`<span id="page-info" aria-live="polite">1–100 of 100,000</span>`,
		`<td class="missing" colspan="5">missing on n2</td>`,
		`<td class="key" rowspan="3" title="id=1">id=1<select class="plan-action"`,
		`<td class="val diff-cell"><span class="null">NULL</span></td>`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	if !regexp.MustCompile(`<td class="val[^"]*\bdiff-cell\b`).MatchString(html) {
		t.Error("rendered page has no diff-cell")
	}
	if strings.Contains(html, "alert(1)</script>") {
		t.Error("the script value was injected as an element")
	}
	if strings.Contains(html, `id="more-rows"`) || strings.Contains(html, "listed in this report") {
		t.Error("a report embedding every key says some are only in the diff file")
	}
	// The first page only: 100 row groups, so 100 key cells.
	if got := strings.Count(html, `<td class="key"`); got != 100 {
		t.Errorf("%d rows rendered, want the first page of 100", got)
	}
	if t.Failed() {
		body := html
		if k := strings.Index(html, "<body"); k >= 0 {
			body = html[k:]
		}
		t.Logf("dumped DOM (first 4000 bytes of the body):\n%s", body[:min(4000, len(body))])
	}

	shot := filepath.Join(dir, "report.png")
	_, took = runChromium(t, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
	info, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if info.Size() <= 10_000 {
		t.Errorf("screenshot %s is %d bytes, want > 10KB", shot, info.Size())
	}
	t.Logf("chromium --screenshot: %v, %s (%d bytes)", took.Round(time.Millisecond), shot, info.Size())
	if keep := os.Getenv("PGPARITY_KEEP_REPORT"); keep != "" {
		for _, name := range []string{"report.html", "report.png"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				err = os.WriteFile(filepath.Join(keep, name), b, 0o644)
			}
			if err != nil {
				t.Errorf("keep %s: %v", name, err)
			}
		}
	}
}

// planFixtureYAML is the plan TestHTMLRepairPlan makes the page build; internal/repair parses the
// same text (TestPlanFromReport), so the report and the plan reader cannot drift apart.
const planFixtureYAML = `# Repair plan built in the pgparity report of public.orders.
# Use: pgparity table-repair --diff-file DIFF_FILE --plan THIS_FILE [--dry-run]
version: 1
overrides:
  - key: {"region":"eu","id":"1"}
    action: take n3
  - key: {"region":"us","id":"9"}
    action: delete
default: take n1
`

// chromiumWithScript renders page with script run after the report's own and returns the DOM.
func chromiumWithScript(t *testing.T, page, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(strings.Replace(page, "</body>", "<script>"+script+"</script></body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := runChromium(t, path, "--dump-dom")
	return string(dom)
}

// planIn returns the plan a script put into <pre id="plan-out">.
func planIn(t *testing.T, dom string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<pre id="plan-out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no plan in the page:\n%s", dom)
	}
	return html.UnescapeString(m[1])
}

// TestHTMLInChromiumBeyondLimit renders the report of a diff file with more keys than the page
// embeds: the page says so, pages through the embedded keys only, and its plan builder works
// on them (the first and the last embedded key).
func TestHTMLInChromiumBeyondLimit(t *testing.T) {
	needChromium(t)
	diffPath := writeDiffFile(t, bigDiff(2500), "public_orders_diff.json.gz")
	page := htmlFromFile(t, diffPath, 1000)
	dom := chromiumWithScript(t, page, `
for (var i = 0; i < 9; i++) document.getElementById("next").click();
window.pgparityPlan.choose(999, "take n2");
window.pgparityPlan.choose(0, "delete");
var pre = document.createElement("pre"); pre.id = "plan-out";
pre.textContent = window.pgparityPlan.yaml(); document.body.appendChild(pre);`)
	for _, want := range []string{
		`<div class="value" id="differing-keys">2,500</div><div class="note">1,000 listed in this report</div>`,
		`this page lists the first 1,000 differing keys of the diff file; 1,500 more keys are only in the diff file <code>public_orders_diff.json.gz</code>.`,
		`<span id="page-info" aria-live="polite">901–1,000 of 1,000</span>`,
		`<button id="next" type="button" title="Next page" disabled="">Next ›</button>`,
		`<td class="key" rowspan="3" title="id=1000">id=1000<select class="plan-action"`,
		`<span id="plan-count">2</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	if got := strings.Count(dom, `<td class="key"`); got != 100 {
		t.Errorf("%d rows rendered on the last page, want 100", got)
	}
	if strings.Contains(dom, `title="id=1001"`) || strings.Contains(dom, `title="id=900"`) {
		t.Error("the last page shows a key outside 901..1000")
	}
	const wantPlan = `# Repair plan built in the pgparity report of public.orders.
# Use: pgparity table-repair --diff-file DIFF_FILE --plan THIS_FILE [--dry-run]
version: 1
overrides:
  - key: {"id":"1"}
    action: delete
  - key: {"id":"1000"}
    action: take n2
default: skip
`
	if got := planIn(t, dom); got != wantPlan {
		t.Errorf("plan:\n%s\nwant:\n%s", got, wantPlan)
	}
}

// TestHTMLRepairPlan drives the page's plan builder as a user would (an action per key, a
// default) and checks the YAML it offers for download.
func TestHTMLRepairPlan(t *testing.T) {
	needChromium(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, summaryFixture()); err != nil {
		t.Fatal(err)
	}
	script := `<script>
window.pgparityPlan.choose(2, "delete");
window.pgparityPlan.choose(0, "take n3");
window.pgparityPlan.choose(1, "skip");
window.pgparityPlan.choose(1, "");
document.getElementById("plan-default").value = "take n1";
var pre = document.createElement("pre"); pre.id = "plan-out";
pre.textContent = window.pgparityPlan.yaml(); document.body.appendChild(pre);
</script>`
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, []byte(strings.Replace(buf.String(), "</body>", script+"</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, _ := runChromium(t, page, "--dump-dom")
	m := regexp.MustCompile(`(?s)<pre id="plan-out">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no plan in the page:\n%s", dom)
	}
	if got := html.UnescapeString(string(m[1])); got != planFixtureYAML {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, planFixtureYAML)
	}
	if !strings.Contains(string(dom), `<span id="plan-count">2</span>`) {
		t.Error("the download button does not count the 2 chosen keys")
	}
}

// writeDiffFile writes d to a diff file named name in a temporary directory and returns its path.
func writeDiffFile(t *testing.T, d *Diff, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	return path
}

// htmlFromFile returns the page WriteHTMLFromFileLimit writes for the diff file at diffPath.
func htmlFromFile(t *testing.T, diffPath string, maxRows int) string {
	t.Helper()
	page := filepath.Join(filepath.Dir(diffPath), "report.html")
	if err := WriteHTMLFromFileLimit(page, diffPath, maxRows); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHTMLFromFileSameAsInMemory: a diff file whose keys all fit gives byte for byte the page of
// the same diff in memory (plain, gzip and zstd files; keyed with transient keys, and whole-row).
func TestHTMLFromFileSameAsInMemory(t *testing.T) {
	whole := summaryFixture()
	whole.Key, whole.KeySource = []string{}, "whole row"
	whole.Columns = []Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "text"}}
	whole.Transient = nil
	whole.Rows = []Row{{
		Key:    Record{{Name: RowHashField, Value: json.Number("-77")}},
		Values: map[string]*Record{"n1": {{Name: "a", Value: json.Number("1")}, {Name: "b", Value: nil}}},
		Counts: map[string]int64{"n1": 2, "n2": 0, "n3": 1},
	}}
	for name, d := range map[string]*Diff{"keyed": summaryFixture(), "big": bigDiff(300), "whole": whole} {
		var want bytes.Buffer
		if err := WriteHTML(&want, d); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", ".gz", ".zst"} {
			got := htmlFromFile(t, writeDiffFile(t, d, "d.json"+suffix), 300)
			if got != want.String() {
				t.Errorf("%s%s: the page of the diff file differs from the page of the diff in memory", name, suffix)
			}
		}
	}
}

// TestHTMLFromFileBeyondLimit: a diff file with more keys than the limit embeds the first keys
// only (in file order, transient keys apart), and the page says how many more are only in the
// diff file, naming it.
func TestHTMLFromFileBeyondLimit(t *testing.T) {
	d := bigDiff(250)
	for i := 0; i < 130; i++ {
		id := json.Number(fmt.Sprint(10_000 + i))
		d.Transient = append(d.Transient, Row{Key: Record{{Name: "id", Value: id}}})
	}
	d.Summary.Transient = 130
	path := writeDiffFile(t, d, "public_orders_diff_20240501T120000.json.zst")
	page := htmlFromFile(t, path, 100)

	var data struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal([]byte(htmlDataBlock(t, page)), &data); err != nil {
		t.Fatal(err)
	}
	// The embedded rows are exactly those of the first 100 keys in memory.
	first := *d
	first.Rows, first.Transient = d.Rows[:100], nil
	var buf bytes.Buffer
	if err := WriteHTML(&buf, &first); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal([]byte(htmlDataBlock(t, buf.String())), &want); err != nil {
		t.Fatal(err)
	}
	if len(data.Rows) != 100 || !reflect.DeepEqual(data.Rows, want.Rows) {
		t.Fatalf("%d rows embedded, want the first 100 keys", len(data.Rows))
	}
	if got := string(data.Rows[99]); !strings.HasPrefix(got, `{"k":["100"],`) {
		t.Errorf("last embedded row %s, want key 100", got)
	}
	for _, want := range []string{
		`<div class="value" id="differing-keys">250</div><div class="note">100 listed in this report</div>`,
		`<p class="warning" id="more-rows"><strong>Not every key is listed here:</strong> this page lists the first 100 differing keys of the diff file; 150 more keys are only in the diff file <code>public_orders_diff_20240501T120000.json.zst</code>. Filtering, copying keys and per-key repair choices cover the listed keys; a repair plan's default action applies to every key of the diff file.</p>`,
		`<summary>Transient keys (130): differed at first, agreed when re-read</summary>`,
		`<li><code>id=10099</code></li><li class="muted">and 30 more</li></ul>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(page, "<li><code>id=1"); n != 100 {
		t.Errorf("%d transient keys listed, want 100", n)
	}

	// One key beyond the limit: the notice speaks of one key.
	page = htmlFromFile(t, writeDiffFile(t, bigDiff(101), "one.json"), 100)
	if !strings.Contains(page, "; 1 more key is only in the diff file <code>one.json</code>.") {
		t.Error("the page does not name the one key beyond the limit")
	}
	// Exactly at the limit: no notice, no "listed" note.
	page = htmlFromFile(t, writeDiffFile(t, bigDiff(100), "all.json"), 100)
	if strings.Contains(page, `id="more-rows"`) || strings.Contains(page, "listed in this report") {
		t.Error("a page holding every key says some are missing")
	}
}
