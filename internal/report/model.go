// Package report owns what a comparison leaves behind: the versioned JSON diff file, the
// self-contained HTML report and the short text summary.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Format is the version tag of diff files this build writes and reads.
const Format = "pgparity.diff/v1"

// Status values of Summary.Status.
const (
	StatusMatch   = "match"
	StatusDiffer  = "differ"
	StatusPartial = "partial"
)

// Diff is the content of a diff file: what was compared, how, and every differing row N-way.
type Diff struct {
	Format     string    `json:"format"`
	Tool       string    `json:"tool"`
	Cluster    string    `json:"cluster"`
	Table      TableRef  `json:"table"`
	Key        []string  `json:"key"`
	KeySource  string    `json:"key_source"`
	Nodes      []string  `json:"nodes"`
	Columns    []Column  `json:"columns"`
	Skipped    []Skipped `json:"skipped_columns,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Options    Options   `json:"options"`
	Summary    Summary   `json:"summary"`
	Rows       []Row     `json:"rows"` // must stay the last field: Write streams it
	// Transient holds keys that differed at first but agreed when re-read after --recheck.
	Transient []Row `json:"transient,omitempty"`
}

// TableRef names a table.
type TableRef struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String returns schema.name as written by a user (unquoted).
func (t TableRef) String() string { return t.Schema + "." + t.Name }

// Column is one compared column with its type as format_type prints it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Skipped is a column present in the table but not compared, with the reason.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Options records the options the comparison ran with.
type Options struct {
	BlockSize      int      `json:"block_size"`
	Concurrency    int      `json:"concurrency"`
	Where          string   `json:"where,omitempty"`
	Columns        []string `json:"columns,omitempty"`
	ExcludeColumns []string `json:"exclude_columns,omitempty"`
	MaxDiffRows    int      `json:"max_diff_rows"`
	Strict         bool     `json:"strict"`
	Recheck        string   `json:"recheck,omitempty"`
	RowHash        string   `json:"row_hash"`
}

// Summary is the outcome in numbers.
type Summary struct {
	Status          string           `json:"status"`
	PartialReason   string           `json:"partial_reason,omitempty"`
	RowsCompared    map[string]int64 `json:"rows_compared"`
	DifferingKeys   int              `json:"differing_keys"`
	Pairs           map[string]int   `json:"pairs"`
	MissingOn       map[string]int   `json:"missing_on"`
	Transient       int              `json:"transient"`
	Ranges          int              `json:"ranges"`
	RangesDiffering int              `json:"ranges_differing"`
	DurationSeconds float64          `json:"duration_seconds"`
}

// Row is one differing key: each node's full row, or nil where the node lacks it. In whole-row
// mode (no key) Key holds the row hash and Counts how many copies each node has.
type Row struct {
	Key    Record             `json:"key"`
	Values map[string]*Record `json:"values"`
	Counts map[string]int64   `json:"counts,omitempty"`
}

// Field is one column value: nil (SQL NULL), bool, json.Number (integer types) or string
// (PostgreSQL's text output under pgparity's pinned session settings).
type Field struct {
	Name  string
	Value any
}

// Record is an ordered set of fields; it marshals as a JSON object in column order.
type Record []Field

// Get returns the value of the named field and whether it exists.
func (r Record) Get(name string) (any, bool) {
	for _, f := range r {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the fields as an object, in order.
func (r Record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object keeping field order; numbers stay json.Number (lossless).
func (r *Record) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("record: expected an object")
	}
	out := Record{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("record: expected a field name")
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("record field %s: %w", name, err)
		}
		switch v.(type) {
		case nil, bool, json.Number, string:
		default:
			return fmt.Errorf("record field %s: values must be null, boolean, number or string", name)
		}
		out = append(out, Field{Name: name, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*r = out
	return nil
}

// PairKey names the pair of nodes a and b in Summary.Pairs ("n1/n2"), in the given order.
func PairKey(a, b string) string { return a + "/" + b }

// Write encodes d as indented JSON. Rows are encoded one at a time, so writing a large diff
// never holds a second copy of it in memory.
func Write(w io.Writer, d *Diff) error {
	head := *d
	head.Rows, head.Transient = nil, nil
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// head ends with `"rows": null` then "}": replace that field with the streamed arrays.
	const tail = ",\n  \"rows\": null\n}"
	if !bytes.HasSuffix(b, []byte(tail)) {
		return fmt.Errorf("diff encoding: unexpected layout")
	}
	bw := &errWriter{w: w}
	bw.write(b[:len(b)-len(tail)])
	writeRows(bw, "rows", d.Rows)
	if len(d.Transient) > 0 {
		writeRows(bw, "transient", d.Transient)
	}
	bw.write([]byte("\n}\n"))
	return bw.err
}

func writeRows(bw *errWriter, name string, rows []Row) {
	bw.write([]byte(",\n  \"" + name + "\": ["))
	for i := range rows {
		if i > 0 {
			bw.write([]byte(","))
		}
		b, err := json.Marshal(&rows[i])
		if err != nil {
			bw.err = err
			return
		}
		bw.write([]byte("\n    "))
		bw.write(b)
	}
	if len(rows) > 0 {
		bw.write([]byte("\n  "))
	}
	bw.write([]byte("]"))
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
