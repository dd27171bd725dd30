package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
)

func sp(s string) *string { return &s }

// keyedDiff is a 3-node diff over (id bigint, v text, ok boolean, amount numeric) with rows
// differing keys and transient keys, expanded the way Read returns rows: every node in Values
// (nil where it lacks the row) and each present node's row hash.
func keyedDiff(rows, transient int) *Diff {
	d := &Diff{
		Format: Format, Tool: "pgparity test", Cluster: "c",
		Table: TableRef{Schema: "public", Name: "t"}, Key: []string{"id"}, KeySource: "primary key",
		Nodes: []string{"n1", "n2", "n3"},
		Columns: []Column{
			{Name: "id", Type: "bigint"}, {Name: "v", Type: "text"},
			{Name: "ok", Type: "boolean"}, {Name: "amount", Type: "numeric(12,2)"},
		},
		Skipped:   []Skipped{{Name: "blob", Reason: "excluded by --exclude-columns"}},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), FinishedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Options: Options{BlockSize: 10000, Concurrency: 4, MaxDiffRows: 100, RowHash: "record", RowHashVersion: 2, Checksum: "sum"},
		Summary: Summary{
			Status: StatusDiffer, RowsCompared: map[string]int64{"n1": 3, "n2": 2, "n3": 3},
			DifferingKeys: rows, Pairs: map[string]int{"n1/n2": rows, "n1/n3": rows, "n2/n3": rows},
			MissingOn: map[string]int{"n1": 0, "n2": rows, "n3": 0}, Transient: transient, Ranges: 4, RangesDiffering: 1,
			DurationSeconds: 1.5,
		},
		Rows: []Row{},
	}
	rec := func(id json.Number, v any, ok any, amount any) *Record {
		return &Record{{Name: "id", Value: id}, {Name: "v", Value: v}, {Name: "ok", Value: ok}, {Name: "amount", Value: amount}}
	}
	for i := 0; i < rows; i++ {
		id := json.Number("900719925474099" + string(rune('0'+i%10)))
		d.Rows = append(d.Rows, Row{
			Key:    Record{{Name: "id", Value: id}},
			Values: map[string]*Record{"n1": rec(id, "a\"</script>\n", true, "1.50"), "n2": nil, "n3": rec(id, "b", false, nil)},
			Hashes: map[string]json.Number{"n1": "-9223372036854775808", "n3": json.Number("4" + string(rune('0'+i%10)))},
		})
	}
	for i := 0; i < transient; i++ {
		id := json.Number(string(rune('1' + i%9)))
		same := rec(id, "", nil, "0.00")
		d.Transient = append(d.Transient, Row{
			Key:    Record{{Name: "id", Value: id}},
			Values: map[string]*Record{"n1": same, "n2": same, "n3": same},
			Hashes: map[string]json.Number{"n1": "7", "n2": "7", "n3": "7"},
		})
	}
	return d
}

// wholeRowDiff is a 3-node diff in whole-row mode (no key): one row with 2 copies on n1, none on
// n2 and one on n3.
func wholeRowDiff() *Diff {
	d := keyedDiff(0, 0)
	d.Key, d.KeySource = []string{}, "whole row"
	d.Columns = []Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "text"}}
	d.Skipped = nil
	d.Summary.DifferingKeys = 1
	rec := &Record{{Name: "a", Value: json.Number("1")}, {Name: "b", Value: nil}}
	d.Rows = []Row{{
		Key:    Record{{Name: RowHashField, Value: json.Number("-42")}},
		Values: map[string]*Record{"n1": rec, "n2": nil, "n3": rec},
		Counts: map[string]int64{"n1": 2, "n2": 0, "n3": 1},
	}}
	return d
}

// TestWriteFileReadRoundTrip writes in-memory diffs with WriteFile and reads them back with Read,
// plain and compressed: the same diff comes back, integers exact and field order kept.
func TestWriteFileReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, suffix := range []string{"", ".gz", ".zst"} {
		for name, d := range map[string]*Diff{
			"empty": keyedDiff(0, 0), "one": keyedDiff(1, 0), "rows and transient": keyedDiff(3, 2), "whole row": wholeRowDiff(),
		} {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json"+suffix)
			if err := WriteFile(path, d); err != nil {
				t.Fatalf("%s%s: %v", name, suffix, err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatalf("%s%s: %v", name, suffix, err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Errorf("%s%s: read back differs:\n got %+v\nwant %+v", name, suffix, *got, *d)
			}
		}
	}
}

// sampleEntries are the entries of keyedDiff(2, 1) in compact form.
func sampleEntries() []Entry {
	return []Entry{
		{Key: []string{"9007199254740990"}, Versions: []Version{
			{Nodes: []int{0}, Hash: -9223372036854775808, Values: []*string{sp("9007199254740990"), sp("a\"</script>\n"), sp("true"), sp("1.50")}},
			{Nodes: []int{2}, Hash: 40, Values: []*string{sp("9007199254740990"), sp("b"), sp("false"), nil}},
		}},
		{Key: []string{"9007199254740991"}, Versions: []Version{
			{Nodes: []int{1, 2}, Hash: 9223372036854775807, Values: []*string{sp("9007199254740991"), sp(""), nil, sp("2.00")}},
		}},
		{Key: []string{"1"}, Transient: true, Versions: []Version{
			{Nodes: []int{0, 1, 2}, Hash: 7, Values: []*string{sp("1"), sp(""), nil, sp("0.00")}},
		}},
	}
}

// writeEntries streams a diff file through CreateFile: d's header, the entries, d's summary.
func writeEntries(t *testing.T, path string, d *Diff, entries []Entry) {
	t.Helper()
	f, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if err := f.Begin(d); err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		if err := f.Entry(&entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.End(d); err != nil {
		t.Fatal(err)
	}
}

// readEntries reads every entry of a diff file through OpenDiff and returns them with the header
// (summary included).
func readEntries(t *testing.T, path string) (*Diff, []Entry) {
	t.Helper()
	r, err := OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Diff, readAll(t, r)
}

// readAll reads r's entries to its end.
func readAll(t *testing.T, r *Reader) []Entry {
	t.Helper()
	var out []Entry
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *e)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
	return out
}

// TestCreateFileOpenDiffRoundTrip streams entries through CreateFile and OpenDiff, plain, gzip
// and zstd: the same header, entries and summary come back; compression follows the suffix on
// write and the magic bytes on read (a compressed file renamed without its suffix still reads).
func TestCreateFileOpenDiffRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := keyedDiff(0, 0)
	d.Rows = nil
	entries := sampleEntries()
	for _, tc := range []struct {
		suffix string
		magic  []byte
	}{
		{"", []byte(`{"format":"pgparity.diff/v2",`)},
		{".gz", []byte{0x1f, 0x8b}},
		{".zst", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	} {
		path := filepath.Join(dir, "d.json"+tc.suffix)
		writeEntries(t, path, d, entries)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, tc.magic) {
			t.Errorf("%q: file starts with % x, want % x", tc.suffix, raw[:min(len(raw), 8)], tc.magic)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("%q: mode %v, want 0600", tc.suffix, fi.Mode().Perm())
		}
		renamed := filepath.Join(dir, "renamed"+strings.ReplaceAll(tc.suffix, ".", "_"))
		if err := os.WriteFile(renamed, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, renamed} {
			got, gotEntries := readEntries(t, p)
			want := *d
			want.Rows = nil
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("%s: header and summary differ:\n got %+v\nwant %+v", p, *got, want)
			}
			if !reflect.DeepEqual(gotEntries, entries) {
				t.Errorf("%s: entries differ:\n got %+v\nwant %+v", p, gotEntries, entries)
			}
		}
	}
	names, err := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if err != nil || len(names) != 0 {
		t.Errorf("temporary files left behind: %v %v", names, err)
	}
}

// TestFileLines checks the exact lines of a v2 file: header, entries typed by column (integers as
// numbers, booleans as true/false, everything else as strings, NULL as null), counts in whole-row
// mode, transient marked, and the summary last.
func TestFileLines(t *testing.T) {
	dir := t.TempDir()
	d := keyedDiff(0, 0)
	path := filepath.Join(dir, "d.json")
	writeEntries(t, path, d, sampleEntries())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := []string{
		`{"format":"pgparity.diff/v2","tool":"pgparity test","cluster":"c","table":{"schema":"public","name":"t"},"key":["id"],"key_source":"primary key","nodes":["n1","n2","n3"],"columns":[{"name":"id","type":"bigint"},{"name":"v","type":"text"},{"name":"ok","type":"boolean"},{"name":"amount","type":"numeric(12,2)"}],"skipped_columns":[{"name":"blob","reason":"excluded by --exclude-columns"}],"started_at":"2026-01-02T03:04:05.000006Z","options":{"block_size":10000,"concurrency":4,"max_diff_rows":100,"strict":false,"row_hash":"record","row_hash_version":2,"checksum":"sum"}}`,
		`{"key":[9007199254740990],"versions":[{"nodes":["n1"],"hash":-9223372036854775808,"values":[9007199254740990,"a\"</script>\n",true,"1.50"]},{"nodes":["n3"],"hash":40,"values":[9007199254740990,"b",false,null]}]}`,
		`{"key":[9007199254740991],"versions":[{"nodes":["n2","n3"],"hash":9223372036854775807,"values":[9007199254740991,"",null,"2.00"]}]}`,
		`{"key":[1],"versions":[{"nodes":["n1","n2","n3"],"hash":7,"values":[1,"",null,"0.00"]}],"transient":true}`,
		`{"summary":{"status":"differ","rows_compared":{"n1":3,"n2":2,"n3":3},"differing_keys":0,"pairs":{"n1/n2":0,"n1/n3":0,"n2/n3":0},"missing_on":{"n1":0,"n2":0,"n3":0},"transient":0,"ranges":4,"ranges_differing":1,"duration_seconds":1.5},"finished_at":"2026-01-02T03:04:06Z"}`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	w := wholeRowDiff()
	path = filepath.Join(dir, "w.json")
	if err := WriteFile(path, w); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(string(raw), "\n")
	if !strings.Contains(lines[0], `"key":[],"key_source":"whole row"`) {
		t.Errorf("whole-row header: %s", lines[0])
	}
	if want := `{"versions":[{"nodes":["n1","n3"],"hash":-42,"values":[1,null]}],"counts":{"n1":2,"n2":0,"n3":1}}`; lines[1] != want {
		t.Errorf("whole-row entry:\n got %s\nwant %s", lines[1], want)
	}
}

// TestFileStringsExact checks that texts survive a v2 file byte for byte, in keys and values:
// quotes, backslashes, every control character, unicode (with U+2028/U+2029), and NULL apart
// from the empty string.
func TestFileStringsExact(t *testing.T) {
	var ctl strings.Builder
	for c := 0; c < 0x20; c++ {
		ctl.WriteByte(byte(c))
	}
	ctl.WriteByte(0x7f)
	texts := []string{
		`"quoted" 'single'`, `back\slash \\ \"`, ctl.String(), "tab\tnew\nline\r\n",
		"é ü 中文 😀 \u2028\u2029 \ufeff", `</script><!--`, "", " ", "null", "NULL", `{"a":1}`,
	}
	d := keyedDiff(0, 0)
	d.Key = []string{"v"}
	d.Columns = []Column{{Name: "v", Type: "text"}, {Name: "w", Type: "text"}}
	var entries []Entry
	for _, s := range texts {
		entries = append(entries, Entry{Key: []string{s}, Versions: []Version{
			{Nodes: []int{0}, Hash: 1, Values: []*string{sp(s), sp(s)}},
			{Nodes: []int{1}, Hash: 2, Values: []*string{sp(s), nil}},
			{Nodes: []int{2}, Hash: 3, Values: []*string{sp(s), sp("")}},
		}})
	}
	for _, suffix := range []string{"", ".zst"} {
		path := filepath.Join(t.TempDir(), "s.json"+suffix)
		writeEntries(t, path, d, entries)
		_, got := readEntries(t, path)
		if !reflect.DeepEqual(got, entries) {
			for i := range entries {
				if i < len(got) && !reflect.DeepEqual(got[i], entries[i]) {
					t.Errorf("%q: text %q came back as %+v", suffix, texts[i], got[i])
				}
			}
			t.Fatalf("%q: %d entries back, want %d", suffix, len(got), len(entries))
		}
		if suffix != "" {
			continue
		}
		// Every line is JSON that encoding/json decodes to the same texts.
		raw, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		for i, s := range texts {
			var e struct {
				Key      []string
				Versions []struct{ Values []*string }
			}
			if err := json.Unmarshal([]byte(lines[i+1]), &e); err != nil {
				t.Fatalf("line %d is not JSON: %v", i+2, err)
			}
			if e.Key[0] != s || *e.Versions[0].Values[1] != s || e.Versions[1].Values[1] != nil || *e.Versions[2].Values[1] != "" {
				t.Errorf("encoding/json reads line %d as %+v, want %q", i+2, e, s)
			}
		}
	}
}

// v1File is a diff file as builds before v2 wrote it: one indented document, the summary before
// the rows, per node every row, transient keys last.
const v1File = `{
  "format": "pgparity.diff/v1",
  "tool": "pgparity 0.9",
  "cluster": "c",
  "table": {"schema": "public", "name": "t"},
  "key": ["id"],
  "key_source": "primary key",
  "nodes": ["n1", "n2", "n3"],
  "columns": [{"name": "id", "type": "bigint"}, {"name": "v", "type": "text"}, {"name": "ok", "type": "boolean"}],
  "started_at": "2025-06-01T10:00:00Z",
  "finished_at": "2025-06-01T10:00:02Z",
  "options": {"block_size": 1000, "concurrency": 2, "max_diff_rows": 0, "strict": false, "row_hash": "record"},
  "summary": {
    "status": "differ",
    "rows_compared": {"n1": 10, "n2": 9, "n3": 10},
    "differing_keys": 2,
    "pairs": {"n1/n2": 2, "n1/n3": 1, "n2/n3": 1},
    "missing_on": {"n2": 1},
    "transient": 1,
    "ranges": 1,
    "ranges_differing": 1,
    "duration_seconds": 2
  },
  "rows": [
    {
      "key": {"id": 9007199254740993},
      "values": {
        "n1": {"id": 9007199254740993, "v": "x \"q\" \\ \u00e9", "ok": true},
        "n2": null,
        "n3": {"id": 9007199254740993, "v": "", "ok": null}
      },
      "hashes": {"n1": 11, "n3": -12}
    },
    {
      "key": {"id": 5},
      "values": {
        "n1": {"id": 5, "v": "a", "ok": false},
        "n2": {"id": 5, "v": "b", "ok": false},
        "n3": {"id": 5, "v": "a", "ok": false}
      },
      "hashes": {"n1": 21, "n2": 22, "n3": 21}
    }
  ],
  "transient": [
    {
      "key": {"id": 6},
      "values": {"n1": {"id": 6, "v": null, "ok": true}, "n2": {"id": 6, "v": null, "ok": true}, "n3": {"id": 6, "v": null, "ok": true}},
      "hashes": {"n1": 31, "n2": 31, "n3": 31}
    }
  ]
}
`

// TestReadV1 reads a v1 file with Read and with OpenDiff: the rows, transient keys and summary of
// the file, entries grouped into versions by row hash.
func TestReadV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(path, []byte(v1File), 0o600); err != nil {
		t.Fatal(err)
	}
	wantEntries := []Entry{
		{Key: []string{"9007199254740993"}, Versions: []Version{
			{Nodes: []int{0}, Hash: 11, Values: []*string{sp("9007199254740993"), sp(`x "q" \ é`), sp("true")}},
			{Nodes: []int{2}, Hash: -12, Values: []*string{sp("9007199254740993"), sp(""), nil}},
		}},
		{Key: []string{"5"}, Versions: []Version{
			{Nodes: []int{0, 2}, Hash: 21, Values: []*string{sp("5"), sp("a"), sp("false")}},
			{Nodes: []int{1}, Hash: 22, Values: []*string{sp("5"), sp("b"), sp("false")}},
		}},
		{Key: []string{"6"}, Transient: true, Versions: []Version{
			{Nodes: []int{0, 1, 2}, Hash: 31, Values: []*string{sp("6"), nil, sp("true")}},
		}},
	}
	hd, entries := readEntries(t, path)
	if !reflect.DeepEqual(entries, wantEntries) {
		t.Errorf("entries:\n got %+v\nwant %+v", entries, wantEntries)
	}
	wantSummary := Summary{
		Status: StatusDiffer, RowsCompared: map[string]int64{"n1": 10, "n2": 9, "n3": 10}, DifferingKeys: 2,
		Pairs: map[string]int{"n1/n2": 2, "n1/n3": 1, "n2/n3": 1}, MissingOn: map[string]int{"n2": 1},
		Transient: 1, Ranges: 1, RangesDiffering: 1, DurationSeconds: 2,
	}
	if hd.Format != FormatV1 || hd.Tool != "pgparity 0.9" || !reflect.DeepEqual(hd.Summary, wantSummary) ||
		!hd.FinishedAt.Equal(time.Date(2025, 6, 1, 10, 0, 2, 0, time.UTC)) || hd.Options.RowHash != "record" {
		t.Errorf("header: %+v", *hd)
	}

	d, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id json.Number, v, ok any) *Record {
		return &Record{{Name: "id", Value: id}, {Name: "v", Value: v}, {Name: "ok", Value: ok}}
	}
	a, b := rec("5", "a", false), rec("5", "b", false)
	six := rec("6", nil, true)
	wantRows := []Row{
		{
			Key:    Record{{Name: "id", Value: json.Number("9007199254740993")}},
			Values: map[string]*Record{"n1": rec("9007199254740993", `x "q" \ é`, true), "n2": nil, "n3": rec("9007199254740993", "", nil)},
			Hashes: map[string]json.Number{"n1": "11", "n3": "-12"},
		},
		{
			Key:    Record{{Name: "id", Value: json.Number("5")}},
			Values: map[string]*Record{"n1": a, "n2": b, "n3": a},
			Hashes: map[string]json.Number{"n1": "21", "n2": "22", "n3": "21"},
		},
	}
	wantTransient := []Row{{
		Key:    Record{{Name: "id", Value: json.Number("6")}},
		Values: map[string]*Record{"n1": six, "n2": six, "n3": six},
		Hashes: map[string]json.Number{"n1": "31", "n2": "31", "n3": "31"},
	}}
	if !reflect.DeepEqual(d.Rows, wantRows) || !reflect.DeepEqual(d.Transient, wantTransient) || !reflect.DeepEqual(d.Summary, wantSummary) {
		t.Errorf("Read v1:\n got rows %+v transient %+v summary %+v\nwant rows %+v transient %+v", d.Rows, d.Transient, d.Summary, wantRows, wantTransient)
	}
}

// TestOpenDiffRefuses checks that unreadable files are input errors naming the file: a truncated
// v2 file (no summary line, plain and compressed), unknown formats, files that are no diff.
func TestOpenDiffRefuses(t *testing.T) {
	dir := t.TempDir()
	d := keyedDiff(0, 0)
	full := filepath.Join(dir, "full.json")
	writeEntries(t, full, d, sampleEntries())
	raw, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	noTrailer := strings.Join(lines[:len(lines)-2], "")
	fullZst := filepath.Join(dir, "full.json.zst")
	writeEntries(t, fullZst, d, sampleEntries())
	zraw, err := os.ReadFile(fullZst)
	if err != nil {
		t.Fatal(err)
	}
	// A gzip file of many entries cut before its end: the entries before the cut are read.
	many := make([]Entry, 5000)
	for i := range many {
		many[i] = sampleEntries()[i%2]
	}
	fullGz := filepath.Join(dir, "full.json.gz")
	writeEntries(t, fullGz, d, many)
	graw, err := os.ReadFile(fullGz)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		want          string // the message, %s standing for the path
	}{
		{"no_trailer.json", noTrailer, "diff file %s is truncated: it ends after 3 entries without its summary line"},
		{"half_line.json", noTrailer[:len(noTrailer)-20], "diff file %s: entry 3: "},
		{"header_only.json", lines[0], "diff file %s is truncated: it ends after 0 entries without its summary line"},
		{"cut.json.zst", string(zraw[:len(zraw)-12]), "diff file %s is empty or unreadable: unexpected EOF"},
		{"cut.json.gz", string(graw[:len(graw)-12]), "cannot read diff file %s: unexpected EOF"},
		{"trailing.json", string(raw) + "{}\n", "diff file %s has data after its summary line"},
		{"v9.json", strings.Replace(string(raw), Format, "pgparity.diff/v9", 1), `diff file %s has format "pgparity.diff/v9"; this pgparity reads "pgparity.diff/v2" and "pgparity.diff/v1"`},
		{"v9_indented.json", strings.Replace(v1File, FormatV1, "pgparity.diff/v9", 1), `diff file %s has format "pgparity.diff/v9"; this pgparity reads "pgparity.diff/v2" and "pgparity.diff/v1"`},
		{"no_format.json", `{"tool":"x"}` + "\n", `%s is not a pgparity diff file (no "format" field)`},
		{"not_json.json", "hello\n", "diff file %s is corrupt or truncated: header: "},
		{"empty.json", "", "diff file %s is empty or unreadable: EOF"},
	} {
		p := write(tc.name, tc.content)
		_, err := Read(p)
		want := strings.Replace(tc.want, "%s", p, 1)
		if err == nil || !fault.IsInput(err) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want an input error starting %q", tc.name, err, want)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, err := Read(missing); err == nil || !fault.IsInput(err) || err.Error() != "cannot read diff file "+missing+": open "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

// TestFileSinkAbort checks that an aborted or unfinished diff file never appears under its name.
func TestFileSinkAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.json")
	f, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := keyedDiff(0, 0)
	e := sampleEntries()[0]
	if err := f.Begin(d); err != nil {
		t.Fatal(err)
	}
	if err := f.Entry(&e); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("diff file visible before End: %v", err)
	}
	f.Abort()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("after Abort the directory holds %v (%v)", entries, err)
	}
}

// TestFromDiff streams an in-memory diff's rows, then its transient rows, as entries; a diff with
// transient rows only works too.
func TestFromDiff(t *testing.T) {
	for _, tc := range []struct{ rows, transient int }{{0, 0}, {2, 1}, {0, 2}} {
		d := keyedDiff(tc.rows, tc.transient)
		src := FromDiff(d)
		var got []Entry
		for {
			e, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, *e)
		}
		if len(got) != tc.rows+tc.transient {
			t.Fatalf("%+v: %d entries", tc, len(got))
		}
		for i, e := range got {
			want := d.Rows
			j := i
			if i >= tc.rows {
				want, j = d.Transient, i-tc.rows
			}
			if e.Transient != (i >= tc.rows) || !reflect.DeepEqual(d.Expand(&e), want[j]) {
				t.Errorf("%+v: entry %d = %+v", tc, i, e)
			}
		}
	}
}

// TestSkipValues: with SkipValues, entries come back whole but for their versions' values (nil),
// and the summary is read as usual.
func TestSkipValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	d := keyedDiff(0, 0)
	d.Rows = nil
	entries := sampleEntries()
	writeEntries(t, path, d, entries)
	r, err := OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SkipValues()
	got := readAll(t, r)
	want := make([]Entry, len(entries))
	for i, e := range entries {
		want[i] = e
		want[i].Versions = make([]Version, len(e.Versions))
		for v := range e.Versions {
			want[i].Versions[v] = e.Versions[v]
			want[i].Versions[v].Values = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries differ:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(r.Diff.Summary, d.Summary) {
		t.Errorf("summary %+v, want %+v", r.Diff.Summary, d.Summary)
	}
}
