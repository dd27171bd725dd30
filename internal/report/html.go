package report

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

// The page is one file with no network references: the template renders the summary (visible
// without JavaScript), the rows travel as JSON in a data block, and the script renders them a
// page at a time, so a report of 100,000 rows never puts 100,000 rows into the DOM.
//
//go:embed html/report.html.tmpl html/report.css html/report.js
var htmlAssets embed.FS

var (
	pageTemplate = template.Must(template.ParseFS(htmlAssets, "html/report.html.tmpl"))
	reportCSS    = mustAsset("html/report.css")
	reportJS     = mustAsset("html/report.js")
)

func mustAsset(name string) []byte {
	b, err := htmlAssets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	if bytes.Contains(bytes.ToLower(b), []byte("</script")) {
		panic(name + " must not contain </script")
	}
	return b
}

// transientListed caps the transient keys listed in the summary section.
const transientListed = 100

// WriteHTML writes d as one self-contained HTML page: inline CSS and script, no network
// references. The summary is rendered server-side; the differing rows are embedded as JSON and
// rendered in the browser with filtering and pagination.
func WriteHTML(w io.Writer, d *Diff) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := pageTemplate.Execute(bw, newHTMLPage(d)); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	bw.WriteString(`<script type="application/json" id="diff-data">`)
	if err := writeHTMLData(bw, d); err != nil {
		return fmt.Errorf("html report data: %w", err)
	}
	bw.WriteString("</script>\n<script>\n")
	bw.Write(reportJS)
	bw.WriteString("</script>\n</body>\n</html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// htmlPage is what the template renders: every value already formatted for display.
type htmlPage struct {
	CSS           template.CSS
	Table         string
	Cluster       string
	Status        string
	PartialReason string
	Tool          string
	Format        string
	Key           string
	KeySource     string
	Nodes         []htmlNode
	Pairs         []htmlPair
	DifferingKeys string
	Listed        string // rows in the file, when fewer than DifferingKeys
	Transient     string
	// TransientListed counts the transient keys the file lists.
	TransientListed string
	Ranges          string
	Duration        string
	Started         string
	Finished        string
	Options         []htmlOption
	Columns         []Column
	Skipped         []Skipped
	TransientKeys   []string
	TransientMore   string
}

type htmlNode struct{ Name, Compared, Missing string }

type htmlPair struct{ Name, Count string }

type htmlOption struct{ Name, Value string }

func newHTMLPage(d *Diff) *htmlPage {
	s := d.Summary
	p := &htmlPage{
		CSS:             template.CSS(reportCSS),
		Table:           d.Table.String(),
		Cluster:         d.Cluster,
		Status:          s.Status,
		PartialReason:   s.PartialReason,
		Tool:            d.Tool,
		Format:          d.Format,
		Key:             strings.Join(d.Key, ", "),
		KeySource:       d.KeySource,
		DifferingKeys:   groupDigits(int64(s.DifferingKeys)),
		Transient:       groupDigits(int64(s.Transient)),
		TransientListed: groupDigits(int64(len(d.Transient))),
		Duration:        duration(d),
		Started:         timeText(d.StartedAt),
		Finished:        timeText(d.FinishedAt),
		Options:         htmlOptions(d.Options),
		Columns:         d.Columns,
		Skipped:         d.Skipped,
	}
	if p.Status == "" {
		p.Status = "unknown"
	}
	if len(d.Rows) < s.DifferingKeys {
		p.Listed = groupDigits(int64(len(d.Rows)))
	}
	if s.Ranges > 0 {
		p.Ranges = groupDigits(int64(s.RangesDiffering)) + " of " + groupDigits(int64(s.Ranges))
	}
	for _, n := range d.Nodes {
		p.Nodes = append(p.Nodes, htmlNode{
			Name:     n,
			Compared: groupDigits(s.RowsCompared[n]),
			Missing:  groupDigits(int64(s.MissingOn[n])),
		})
	}
	for _, pc := range orderedPairs(d) {
		p.Pairs = append(p.Pairs, htmlPair{Name: pc.Name, Count: groupDigits(int64(pc.Count))})
	}
	for i, r := range d.Transient {
		if i == transientListed {
			p.TransientMore = groupDigits(int64(len(d.Transient) - i))
			break
		}
		p.TransientKeys = append(p.TransientKeys, keyText(r.Key))
	}
	return p
}

func htmlOptions(o Options) []htmlOption {
	orDefault := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	out := []htmlOption{
		{"where", orDefault(o.Where, "(all rows)")},
		{"columns", orDefault(strings.Join(o.Columns, ", "), "(all)")},
	}
	if len(o.ExcludeColumns) > 0 {
		out = append(out, htmlOption{"exclude columns", strings.Join(o.ExcludeColumns, ", ")})
	}
	out = append(out,
		htmlOption{"strict", strconv.FormatBool(o.Strict)},
		htmlOption{"recheck", orDefault(o.Recheck, "off")},
		htmlOption{"row hash", orDefault(o.RowHash, "(default)")},
		htmlOption{"block size", groupDigits(int64(o.BlockSize))},
		htmlOption{"concurrency", strconv.Itoa(o.Concurrency)},
		htmlOption{"max diff rows", groupDigits(int64(o.MaxDiffRows))},
	)
	return out
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// groupDigits writes n with thousands separators: 100000 -> "100,000".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// htmlData heads the JSON data block; the rows follow it, one htmlRow each.
type htmlData struct {
	Nodes    []string `json:"nodes"`
	Columns  []string `json:"columns"`
	Types    []string `json:"types"`
	Key      []string `json:"key"`
	WholeRow bool     `json:"whole_row"`
}

// htmlRow is one differing key as the script reads it: key values (k), indexes of the columns
// that differ (d), per node in node order the column values or null where the node lacks the
// row (v), and in whole-row mode the copies per node (c). Values are text or null, so bigint
// and numeric values keep every digit in JavaScript.
type htmlRow struct {
	K []*string   `json:"k"`
	D []int       `json:"d"`
	V [][]*string `json:"v"`
	C []int64     `json:"c,omitempty"`
}

func writeHTMLData(w *bufio.Writer, d *Diff) error {
	cols := columnNames(d)
	head := htmlData{Nodes: d.Nodes, Columns: cols, Types: make([]string, len(cols)), Key: d.Key}
	if head.Nodes == nil {
		head.Nodes = []string{}
	}
	if len(head.Key) == 0 && len(d.Rows) > 0 {
		// Whole-row mode has no key columns; the rows name what stands in for one (row_hash).
		head.Key = make([]string, len(d.Rows[0].Key))
		for i, f := range d.Rows[0].Key {
			head.Key[i] = f.Name
		}
	}
	if head.Key == nil {
		head.Key = []string{}
	}
	for i := range cols {
		if i < len(d.Columns) {
			head.Types[i] = d.Columns[i].Type
		}
	}
	for _, r := range d.Rows {
		if r.Counts != nil {
			head.WholeRow = true
			break
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		return err
	}
	// Reopen the head object to append the rows array.
	b := bytes.TrimRight(buf.Bytes(), "\n")
	writeScriptSafe(w, b[:len(b)-1])
	w.WriteString(`,"rows":[`)
	for i := range d.Rows {
		buf.Reset()
		if err := enc.Encode(newHTMLRow(d, cols, &d.Rows[i])); err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if i > 0 {
			w.WriteString(",\n")
		}
		writeScriptSafe(w, bytes.TrimRight(buf.Bytes(), "\n"))
	}
	_, err := w.WriteString("]}")
	return err
}

func newHTMLRow(d *Diff, cols []string, r *Row) htmlRow {
	hr := htmlRow{K: make([]*string, len(r.Key)), D: diffColumns(d, cols, r), V: make([][]*string, len(d.Nodes))}
	if hr.D == nil {
		hr.D = []int{}
	}
	for i, f := range r.Key {
		hr.K[i] = fieldText(f.Value)
	}
	for i, n := range d.Nodes {
		rec := presentRecord(d, r, n)
		if rec == nil {
			continue
		}
		vals := make([]*string, len(cols))
		for j, c := range cols {
			v, _ := rec.Get(c)
			vals[j] = fieldText(v)
		}
		hr.V[i] = vals
	}
	if r.Counts != nil {
		hr.C = make([]int64, len(d.Nodes))
		for i, n := range d.Nodes {
			hr.C[i] = r.Counts[n]
		}
	}
	return hr
}

// fieldText is a value's display text, nil for SQL NULL.
func fieldText(v any) *string {
	s, null := valueText(v)
	if null {
		return nil
	}
	return &s
}

// writeScriptSafe copies JSON text into a <script> element so that no value can end the
// element or change how the HTML parser reads it: "</" becomes "<\/", "<!--" becomes
// "\u003c!--" (which could otherwise start the double-escaped script state), and U+2028 and
// U+2029 are written as escapes. These sequences only occur inside JSON strings, where the
// replacements decode to the same text.
func writeScriptSafe(w *bufio.Writer, b []byte) {
	start := 0
	for i := 0; i < len(b); i++ {
		var rep string
		skip := 1
		switch {
		case b[i] == '<' && i+1 < len(b) && b[i+1] == '/':
			rep = `<\/`
			skip = 2
		case b[i] == '<' && bytes.HasPrefix(b[i:], []byte("<!--")):
			rep = `\u003c`
		case b[i] == 0xe2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9):
			rep = `\u2028`
			if b[i+2] == 0xa9 {
				rep = `\u2029`
			}
			skip = 3
		default:
			continue
		}
		w.Write(b[start:i])
		w.WriteString(rep)
		i += skip - 1
		start = i + 1
	}
	w.Write(b[start:])
}
