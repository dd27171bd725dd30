package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// summaryFixture is a 3-node diff with a missing row, differing values, a NULL, a composite
// key and pairs named in both orders.
func summaryFixture() *Diff {
	rec := func(kv ...any) *Record {
		var r Record
		for i := 0; i < len(kv); i += 2 {
			r = append(r, Field{Name: kv[i].(string), Value: kv[i+1]})
		}
		return &r
	}
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return &Diff{
		Format:    Format,
		Tool:      "pgparity test",
		Cluster:   "prod",
		Table:     TableRef{Schema: "public", Name: "orders"},
		Key:       []string{"region", "id"},
		KeySource: "primary key",
		Nodes:     []string{"n1", "n2", "n3"},
		Columns: []Column{
			{Name: "region", Type: "text"}, {Name: "id", Type: "bigint"},
			{Name: "status", Type: "text"}, {Name: "amount", Type: "numeric(12,2)"},
		},
		StartedAt:  start,
		FinishedAt: start.Add(1234 * time.Millisecond),
		Options:    Options{BlockSize: 10000, Concurrency: 4, MaxDiffRows: 1000, RowHash: "record"},
		Summary: Summary{
			Status:          StatusDiffer,
			RowsCompared:    map[string]int64{"n1": 1000, "n2": 999, "n3": 1000},
			DifferingKeys:   3,
			Pairs:           map[string]int{"n1/n2": 2, "n3/n1": 1, "n2/n3": 3},
			MissingOn:       map[string]int{"n2": 1},
			Transient:       1,
			Ranges:          12,
			RangesDiffering: 2,
			DurationSeconds: 1.2345,
		},
		Rows: []Row{
			{
				Key: *rec("region", "eu", "id", json.Number("1")),
				Values: map[string]*Record{
					"n1": rec("region", "eu", "id", json.Number("1"), "status", "paid", "amount", "10.00"),
					"n3": rec("region", "eu", "id", json.Number("1"), "status", "open", "amount", nil),
				},
			},
			{
				Key: *rec("region", "us", "id", json.Number("7")),
				Values: map[string]*Record{
					"n1": rec("region", "us", "id", json.Number("7"), "status", "paid", "amount", "5.00"),
					"n2": rec("region", "us", "id", json.Number("7"), "status", "paid", "amount", "5.00"),
					"n3": rec("region", "us", "id", json.Number("7"), "status", "paid", "amount", "6.00"),
				},
			},
			{
				Key: *rec("region", "us", "id", json.Number("9")),
				Values: map[string]*Record{
					"n2": rec("region", "us", "id", json.Number("9"), "status", "new", "amount", "1.00"),
				},
			},
		},
		Transient: []Row{{Key: *rec("region", "eu", "id", json.Number("4"))}},
	}
}

func TestWriteSummary(t *testing.T) {
	match := summaryFixture()
	match.Summary = Summary{
		Status:       StatusMatch,
		RowsCompared: map[string]int64{"n1": 1000, "n2": 1000, "n3": 1000},
		Pairs:        map[string]int{"n1/n2": 0, "n1/n3": 0, "n2/n3": 0},
	}
	match.Rows, match.Transient = nil, nil

	many := summaryFixture()
	many.Nodes = []string{"a", "b"}
	many.Key, many.KeySource = []string{"id"}, "unique index orders_id_key"
	many.Columns = []Column{{Name: "id", Type: "integer"}, {Name: "note", Type: "text"}}
	many.Summary = Summary{
		Status:        StatusPartial,
		PartialReason: "stopped after --max-diff-rows 12",
		RowsCompared:  map[string]int64{"a": 50, "b": 50},
		DifferingKeys: 40,
		Pairs:         map[string]int{"a/b": 40},
	}
	many.Rows = nil
	for i := 1; i <= 12; i++ {
		id := json.Number(fmt.Sprint(i))
		many.Rows = append(many.Rows, Row{
			Key: Record{{Name: "id", Value: id}},
			Values: map[string]*Record{
				"a": {{Name: "id", Value: id}, {Name: "note", Value: "x"}},
				"b": {{Name: "id", Value: id}, {Name: "note", Value: ""}},
			},
		})
	}

	whole := summaryFixture()
	whole.Key, whole.KeySource = nil, "whole row"
	whole.Columns = []Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "text"}}
	whole.Summary.DifferingKeys = 1
	whole.Summary.Pairs = map[string]int{"n1/n2": 1, "n1/n3": 0, "n2/n3": 1}
	whole.Summary.MissingOn = map[string]int{}
	whole.Summary.Transient = 0
	whole.Summary.Ranges = 0
	whole.Rows = []Row{{
		Key:    Record{{Name: "row_hash", Value: "9f3c0a"}},
		Values: map[string]*Record{"n1": {{Name: "a", Value: json.Number("1")}, {Name: "b", Value: nil}}},
		Counts: map[string]int64{"n1": 2, "n2": 0, "n3": 2},
	}}

	tests := []struct {
		name string
		diff *Diff
	}{
		{"differ", summaryFixture()},
		{"match", match},
		{"partial_many_keys", many},
		{"whole_row", whole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSummary(&buf, tt.diff); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "summary_"+tt.name+".golden")
			if *updateGolden {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("summary differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestDiffColumns(t *testing.T) {
	d := summaryFixture()
	cols := columnNames(d)
	tests := []struct {
		row  int
		want []int
	}{
		{0, []int{2, 3}}, // status and amount differ between n1 and n3; n2 lacks the row
		{1, []int{3}},    // amount differs on n3 only: the column is flagged for every node
		{2, nil},         // only n2 has the row: nothing to compare
	}
	for _, tt := range tests {
		got := diffColumns(d, cols, &d.Rows[tt.row])
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("row %d: diffColumns = %v, want %v", tt.row, got, tt.want)
		}
	}
}

// TestWriteSummaryFromSamples: the summary of a streamed comparison (its header and summary, and
// the first keys kept by a Samples sink, expanded) is the summary of the same diff in memory.
func TestWriteSummaryFromSamples(t *testing.T) {
	for _, name := range []string{"differ", "partial_many_keys"} {
		d := summaryFixture()
		if name == "partial_many_keys" {
			d.Nodes = []string{"a", "b"}
			d.Key, d.KeySource = []string{"id"}, "unique index orders_id_key"
			d.Columns = []Column{{Name: "id", Type: "integer"}, {Name: "note", Type: "text"}}
			d.Summary = Summary{Status: StatusPartial, PartialReason: "stopped after --max-diff-rows 12",
				RowsCompared: map[string]int64{"a": 50, "b": 50}, DifferingKeys: 40, Pairs: map[string]int{"a/b": 40}}
			d.Rows, d.Transient = nil, nil
			for i := 1; i <= 12; i++ {
				id := json.Number(fmt.Sprint(i))
				d.Rows = append(d.Rows, Row{Key: Record{{Name: "id", Value: id}}, Values: map[string]*Record{
					"a": {{Name: "id", Value: id}, {Name: "note", Value: "x"}},
					"b": {{Name: "id", Value: id}, {Name: "note", Value: ""}},
				}})
			}
		}
		samples := &Samples{Max: 20}
		src := FromDiff(d)
		for {
			e, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := samples.Entry(e); err != nil {
				t.Fatal(err)
			}
		}
		shown := *d
		shown.Rows, shown.Transient = nil, nil
		for i := range samples.Entries {
			shown.Rows = append(shown.Rows, d.Expand(&samples.Entries[i]))
		}
		var buf bytes.Buffer
		if err := WriteSummary(&buf, &shown); err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "summary_"+name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if buf.String() != string(want) {
			t.Errorf("%s: summary from samples:\n%s--- want\n%s", name, buf.String(), want)
		}
	}
}
