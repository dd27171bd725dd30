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
// page at a time, so a report of 100,000 rows never puts 100,000 rows into the DOM. Rows are
// rendered one at a time from a stream (htmlContent.next), so writing a page holds one row.
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

// WriteHTML writes d (an in-memory diff) as one self-contained HTML page: inline CSS and
// script, no network references. The summary is rendered server-side; every row of d is embedded
// as JSON and rendered in the browser with filtering and pagination. Reports of diff files use
// WriteHTMLFromFile, which streams the file and embeds at most HTMLRows keys.
func WriteHTML(w io.Writer, d *Diff) error {
	c := &htmlContent{d: d, listed: len(d.Rows), transient: len(d.Transient)}
	for i := range d.Transient {
		if i == transientListed {
			break
		}
		c.transientKeys = append(c.transientKeys, keyText(d.Transient[i].Key))
	}
	i := 0
	c.next = func() (*Row, error) {
		if i == len(d.Rows) {
			return nil, io.EOF
		}
		i++
		return &d.Rows[i-1], nil
	}
	return writeHTMLPage(w, c)
}

// htmlContent is what a page shows: the diff's header and summary, the transient keys, and the
// embedded rows as a stream.
type htmlContent struct {
	d *Diff // header and summary; its Rows and Transient are not read
	// listed is how many rows next yields; more is how many further differing keys the diff
	// file holds beyond them, named by file.
	listed, more int
	file         string
	// transient counts the transient keys; transientKeys holds the first transientListed.
	transient     int
	transientKeys []string
	// next yields the embedded rows in order, then io.EOF.
	next func() (*Row, error)
}

func writeHTMLPage(w io.Writer, c *htmlContent) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := pageTemplate.Execute(bw, newHTMLPage(c)); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	bw.WriteString(`<script type="application/json" id="diff-data">`)
	if err := writeHTMLData(bw, c); err != nil {
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
	Listed        string // rows in the page, when fewer than DifferingKeys
	// More counts the differing keys of the diff file not embedded in the page (DiffFile names
	// the file), "" when every key of the file is.
	More      string
	MoreOne   bool
	DiffFile  string
	Transient string
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

func newHTMLPage(c *htmlContent) *htmlPage {
	d := c.d
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
		TransientListed: groupDigits(int64(c.transient)),
		TransientKeys:   c.transientKeys,
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
	if c.listed < s.DifferingKeys || c.more > 0 {
		p.Listed = groupDigits(int64(c.listed))
	}
	if c.more > 0 {
		p.More, p.MoreOne, p.DiffFile = groupDigits(int64(c.more)), c.more == 1, c.file
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
	if c.transient > len(c.transientKeys) && len(c.transientKeys) > 0 {
		p.TransientMore = groupDigits(int64(c.transient - len(c.transientKeys)))
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

func writeHTMLData(w *bufio.Writer, c *htmlContent) error {
	d := c.d
	first, err := c.next()
	if err != nil && err != io.EOF {
		return err
	}
	cols := columnNames(d)
	if len(cols) == 0 && first != nil {
		// A file without a column list: the fields of its first row.
		cols = columnNames(&Diff{Nodes: d.Nodes, Rows: []Row{*first}})
	}
	head := htmlData{Nodes: d.Nodes, Columns: cols, Types: make([]string, len(cols)), Key: d.Key}
	if head.Nodes == nil {
		head.Nodes = []string{}
	}
	if len(head.Key) == 0 && first != nil {
		// Whole-row mode has no key columns; the rows name what stands in for one (row_hash).
		head.Key = make([]string, len(first.Key))
		for i, f := range first.Key {
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
	head.WholeRow = first != nil && first.Counts != nil
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
	for i, r := 0, first; r != nil; i++ {
		buf.Reset()
		if err := enc.Encode(newHTMLRow(d, cols, r)); err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if i > 0 {
			w.WriteString(",\n")
		}
		writeScriptSafe(w, bytes.TrimRight(buf.Bytes(), "\n"))
		if r, err = c.next(); err == io.EOF {
			r = nil
		} else if err != nil {
			return err
		}
	}
	_, err = w.WriteString("]}")
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
