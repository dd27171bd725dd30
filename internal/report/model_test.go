package report

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
)

func sampleDiff(rows, transient int) *Diff {
	d := &Diff{
		Format: Format, Tool: "pgparity test", Cluster: "c",
		Table: TableRef{Schema: "public", Name: "t"}, Key: []string{"id"}, KeySource: "primary key",
		Nodes: []string{"n1", "n2"}, Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "v", Type: "text"}},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), FinishedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Summary: Summary{Status: StatusDiffer, RowsCompared: map[string]int64{"n1": 3, "n2": 2}},
		Rows:    []Row{},
	}
	for i := 0; i < rows; i++ {
		id := json.Number("900719925474099" + string(rune('0'+i%10)))
		rec := Record{{Name: "id", Value: id}, {Name: "v", Value: "a\"</script>\n"}}
		d.Rows = append(d.Rows, Row{Key: Record{{Name: "id", Value: id}}, Values: map[string]*Record{"n1": &rec, "n2": nil}})
	}
	for i := 0; i < transient; i++ {
		d.Transient = append(d.Transient, Row{Key: Record{{Name: "id", Value: json.Number("1")}}, Values: map[string]*Record{"n1": nil, "n2": nil}})
	}
	return d
}

// TestWriteRoundTrip checks the streamed encoding is valid JSON that reads back to the same diff,
// with integers exact and field order kept.
func TestWriteRoundTrip(t *testing.T) {
	for _, c := range []struct{ rows, transient int }{{0, 0}, {1, 0}, {3, 2}} {
		d := sampleDiff(c.rows, c.transient)
		var buf bytes.Buffer
		if err := Write(&buf, d); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(buf.Bytes()) {
			t.Fatalf("rows=%d: invalid JSON:\n%s", c.rows, buf.String())
		}
		dec := json.NewDecoder(&buf)
		dec.UseNumber()
		var got Diff
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, d) {
			t.Errorf("rows=%d transient=%d: round trip differs:\n got %+v\nwant %+v", c.rows, c.transient, got, *d)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, sampleDiff(0, 0)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"rows": []`) || strings.Contains(buf.String(), "transient\": [") {
		t.Errorf("empty diff must have rows: [] and no transient array:\n%s", buf.String())
	}
}

// TestRecordUnmarshalMatchesEncodingJSON checks the fast record parser against encoding/json on
// escapes, unicode, numbers and every value kind, and that it keeps field order.
func TestRecordUnmarshalMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`,
		` { "a" : 1 , "b":"x" } `,
		`{"id":9007199254740993,"n":-1.5e-7,"t":true,"f":false,"z":null,"s":"tab\there \"q\" \\ \u00e9 \ud83d\ude00 </script>"}`,
		`{"Quote\"d":"", "émoji 😀":"ü","k":"\u0000x"}`,
		"{\"bad\":\"\xff\xfe\"}",
	}
	for _, c := range cases {
		var got Record
		if err := json.Unmarshal([]byte(c), &got); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		dec := json.NewDecoder(strings.NewReader(c))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d fields, want %d", c, len(got), len(want))
		}
		for _, f := range got {
			if !reflect.DeepEqual(f.Value, want[f.Name]) {
				t.Errorf("%s: field %q = %#v, want %#v", c, f.Name, f.Value, want[f.Name])
			}
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(`{"z":1,"a":2,"m":3}`), &r); err != nil {
		t.Fatal(err)
	}
	if r[0].Name != "z" || r[1].Name != "a" || r[2].Name != "m" {
		t.Errorf("field order lost: %v", r)
	}
	for _, bad := range []string{`[]`, `{"a":{}}`, `{"a":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s must be refused", bad)
		}
	}
}

// TestReadStreamsAndValidates reads a written diff back through Read and refuses truncated,
// trailing and wrongly versioned files.
func TestReadStreamsAndValidates(t *testing.T) {
	dir := t.TempDir()
	d := sampleDiff(3, 1)
	path := dir + "/d.json"
	if err := WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("read back differs:\n got %+v\nwant %+v", *got, *d)
	}
	full, _ := os.ReadFile(path)
	for name, content := range map[string]string{
		"truncated": string(full[:len(full)/2]),
		"trailing":  string(full) + "{}",
		"version":   strings.Replace(string(full), Format, "pgparity.diff/v9", 1),
		"not json":  "hello",
	} {
		p := dir + "/" + strings.ReplaceAll(name, " ", "_") + ".json"
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); err == nil || !fault.IsInput(err) {
			t.Errorf("%s: want an input error, got %v", name, err)
		}
	}
}
