// Package report owns what a comparison leaves behind: the versioned JSON diff file, the
// self-contained HTML report and the short text summary.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
	"unique"
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
	// RowHashVersion is encode.RowHashVersion of the build that wrote the file (0 in files of
	// builds before version 2, which summed unmixed row hashes).
	RowHashVersion int    `json:"row_hash_version,omitempty"`
	Checksum       string `json:"checksum,omitempty"`
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
// mode (no key) Key holds the row hash and Counts how many copies each node has. Hashes holds,
// in keyed mode, each present node's row hash (the rule in Options.RowHash): a repair's stale
// guard compares against it without re-hashing the recorded values.
type Row struct {
	Key    Record                 `json:"key"`
	Values map[string]*Record     `json:"values"`
	Counts map[string]int64       `json:"counts,omitempty"`
	Hashes map[string]json.Number `json:"hashes,omitempty"`
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

// UnmarshalJSON reads an object keeping field order; numbers stay json.Number (lossless). A
// record is flat (every value null, boolean, number or string), which lets this scan the bytes
// directly: diff files of hundreds of thousands of rows are read several times faster than
// through json.Decoder tokens.
func (r *Record) UnmarshalJSON(data []byte) error {
	p := recordParser{b: data}
	out, err := p.record()
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	*r = out
	return nil
}

type recordParser struct {
	b []byte
	i int
}

func (p *recordParser) record() (Record, error) {
	p.space()
	if !p.eat('{') {
		return nil, fmt.Errorf("expected an object")
	}
	out := Record{}
	p.space()
	if p.eat('}') {
		return out, p.end()
	}
	for {
		p.space()
		name, err := p.str()
		if err != nil {
			return nil, fmt.Errorf("field name: %w", err)
		}
		p.space()
		if !p.eat(':') {
			return nil, fmt.Errorf("expected ':' after %q", name)
		}
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		out = append(out, Field{Name: unique.Make(name).Value(), Value: v}) // one copy of each name
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return out, p.end()
		}
		return nil, fmt.Errorf("expected ',' or '}' after field %s", name)
	}
}

func (p *recordParser) end() error {
	p.space()
	if p.i != len(p.b) {
		return fmt.Errorf("unexpected data after the object")
	}
	return nil
}

func (p *recordParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *recordParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *recordParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, fmt.Errorf("missing value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.str()
	case c == 'n' && bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return nil, nil
	case c == 't' && bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return true, nil
	case c == 'f' && bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return false, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-0123456789.eE", p.b[p.i]) >= 0 {
			p.i++
		}
		// encoding/json has validated the whole document before calling UnmarshalJSON.
		return json.Number(p.b[start:p.i]), nil
	}
	return nil, fmt.Errorf("values must be null, boolean, number or string")
}

// str reads a JSON string; only strings with escapes go through encoding/json.
func (p *recordParser) str() (string, error) {
	if !p.eat('"') {
		return "", fmt.Errorf("expected a string")
	}
	start := p.i
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c == '"':
			p.i++
			if !escaped && utf8.Valid(p.b[start:p.i-1]) {
				return string(p.b[start : p.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start-1:p.i], &s); err != nil {
				return "", err
			}
			return s, nil
		case c < 0x20:
			return "", fmt.Errorf("control character in string")
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated string")
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
