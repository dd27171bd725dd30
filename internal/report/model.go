// Package report owns what a comparison leaves behind: the versioned JSON diff file, the
// self-contained HTML report and the short text summary.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unique"
)

// Format is the version tag of diff files this build writes and reads.
const Format = "pgparity.diff/v2"

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
	// Rows and Transient hold the differing keys of an in-memory diff (Collector, Read); a
	// streamed comparison hands them to a Sink instead and leaves these empty.
	Rows []Row `json:"rows"`
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
	// Base is the base type of a domain (format_type), or the type itself: integer and boolean
	// bases are written as JSON numbers and booleans.
	Base string `json:"base_type,omitempty"`
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
	// Until is --until (RFC 3339): only keys last committed at or before it were compared.
	Until   string `json:"until,omitempty"`
	RowHash string `json:"row_hash"`
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
	// Warnings say what makes the outcome less than it looks (e.g. 0 rows compared).
	Warnings []string `json:"warnings,omitempty"`
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

// recordParser reads JSON objects of the diff file formats. When s is set it holds b's bytes as a
// string, and strings without escapes are returned as substrings of it (no copy per value).
type recordParser struct {
	b []byte
	s string
	i int
	// skipValues: versions' values are skipped, not decoded.
	skipValues bool
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

// str reads a JSON string. Strings with escapes are unescaped here; invalid UTF-8 and lone
// surrogates go through encoding/json, which replaces them as it always did.
func (p *recordParser) str() (string, error) {
	if !p.eat('"') {
		return "", fmt.Errorf("expected a string")
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if jsonPlain[c] {
			p.i++
			continue
		}
		switch {
		case c == '"':
			p.i++
			return p.sub(start, p.i-1), nil
		case c == '\\':
			return p.unescape(start)
		case c < 0x20:
			return "", fmt.Errorf("control character in string")
		}
		// Multi-byte UTF-8: check the sequence.
		r, size := utf8.DecodeRune(p.b[p.i:])
		if r == utf8.RuneError && size <= 1 {
			return p.slowStr(start)
		}
		p.i += size
	}
	return "", fmt.Errorf("unterminated string")
}

// sub returns the bytes b[i:j] as a string.
func (p *recordParser) sub(i, j int) string {
	if p.s != "" {
		return p.s[i:j]
	}
	return string(p.b[i:j])
}

// unescape reads the rest of a string that holds an escape; start is the position after its
// opening quote, p.i the position of its first backslash.
func (p *recordParser) unescape(start int) (string, error) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", fmt.Errorf("control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return p.slowStr(start)
			}
			out = append(out, p.b[p.i:p.i+size]...)
			p.i += size
			continue
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", fmt.Errorf("unterminated string")
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if p.i+4 > len(p.b) {
				return "", fmt.Errorf("unterminated string")
			}
			r, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
			if err != nil {
				return "", fmt.Errorf("bad \\u escape in string")
			}
			if utf16.IsSurrogate(rune(r)) {
				return p.slowStr(start)
			}
			out = utf8.AppendRune(out, rune(r))
			p.i += 4
		default:
			return "", fmt.Errorf("bad escape \\%c in string", e)
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// slowStr reads the string opened before start with encoding/json.
func (p *recordParser) slowStr(start int) (string, error) {
	p.i = start
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			var s string
			if err := json.Unmarshal(p.b[start-1:p.i], &s); err != nil {
				return "", err
			}
			return s, nil
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated string")
}

// scalar reads a scalar as the PostgreSQL text it stands for (ok false = null), as
// untyped(value()) would, without boxing it.
func (p *recordParser) scalar() (s string, ok bool, err error) {
	if p.i >= len(p.b) {
		return "", false, fmt.Errorf("missing value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, err = p.str()
		return s, err == nil, err
	case c == 'n' && bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return "", false, nil
	case c == 't' && bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return "true", true, nil
	case c == 'f' && bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return "false", true, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("+-0123456789.eE", p.b[p.i]) >= 0 {
			p.i++
		}
		return p.sub(start, p.i), true, nil
	}
	return "", false, fmt.Errorf("values must be null, boolean, number or string")
}

// PairKey names the pair of nodes a and b in Summary.Pairs ("n1/n2"), in the given order.
func PairKey(a, b string) string { return a + "/" + b }
