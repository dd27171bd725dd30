package repair

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
)

// Undo entries of keyed repairs are encoded here by hand, straight from the column texts the
// guard read and the diff's records: an entry of a wide row through encoding/json costs several
// times more, and the undo file of a large repair is written while the node waits for it. The
// output is the JSON encoding/json produces for an undoEntry (ReadUndo reads both).

// jsonKind is how a column's text becomes a JSON value (encode.JSONValue's rule).
type jsonKind uint8

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
)

// jsonKinds classifies the columns by asking encode.JSONValue, which owns the rule.
func jsonKinds(cols []catalog.Column) []jsonKind {
	one := "1"
	out := make([]jsonKind, len(cols))
	for i, c := range cols {
		switch encode.JSONValue(c, &one).(type) {
		case json.Number:
			out[i] = jsonNumber
		case bool:
			out[i] = jsonBool
		}
	}
	return out
}

// appendUndoHead starts an entry: {"node":..,"op":..,"key":{..}
func appendUndoHead(b []byte, node string, op Kind, key report.Record) ([]byte, error) {
	b = appendUndoOp(b, node, op)
	return appendRecord(b, key)
}

// appendUndoOp starts an entry up to its key: {"node":..,"op":..,"key":
func appendUndoOp(b []byte, node string, op Kind) []byte {
	b = append(b, `{"node":`...)
	b = report.AppendJSONString(b, node)
	b = append(b, `,"op":`...)
	b = report.AppendJSONString(b, string(op))
	return append(b, `,"key":`...)
}

// jsonRow encodes rows of given columns as JSON objects: each column's name, quoted once, and
// how its text becomes a JSON value.
type jsonRow struct {
	names [][]byte // "name":
	kinds []jsonKind
}

func newJSONRow(cols []catalog.Column) *jsonRow {
	j := &jsonRow{names: make([][]byte, len(cols)), kinds: jsonKinds(cols)}
	for i, c := range cols {
		j.names[i] = append(report.AppendJSONString(nil, c.Name), ':')
	}
	return j
}

// appendKey appends a key given as texts (in key order, never NULL) as a JSON object.
func (j *jsonRow) appendKey(b []byte, texts []string) []byte {
	b = append(b, '{')
	for i, name := range j.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, name...)
		var t string
		if i < len(texts) {
			t = texts[i]
		}
		b = appendKind(b, j.kinds[i], t)
	}
	return append(b, '}')
}

// appendStrs appends a row given as texts by column position (nil = NULL) as a JSON object, the
// values converted as encode.JSONValue does.
func (j *jsonRow) appendStrs(b []byte, vals []*string) []byte {
	b = append(b, '{')
	for i, name := range j.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, name...)
		if i >= len(vals) || vals[i] == nil {
			b = append(b, "null"...)
			continue
		}
		b = appendKind(b, j.kinds[i], *vals[i])
	}
	return append(b, '}')
}

// appendTexts appends a row read as column texts (nil = NULL) as a JSON object.
func (j *jsonRow) appendTexts(b []byte, texts [][]byte) []byte {
	b = append(b, '{')
	for i, name := range j.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, name...)
		if t := texts[i]; t == nil {
			b = append(b, "null"...)
		} else {
			b = appendKind(b, j.kinds[i], t)
		}
	}
	return append(b, '}')
}

// appendKind appends a non-NULL text as the JSON value of its kind. A text that is not a valid
// JSON number (it always is for the integer types that get jsonNumber) is written as a string.
func appendKind[T ~string | ~[]byte](b []byte, k jsonKind, t T) []byte {
	switch {
	case k == jsonNumber && validNumber(t):
		return append(b, t...)
	case k == jsonBool:
		return strconv.AppendBool(b, string(t) == "true")
	}
	return report.AppendJSONString(b, t)
}

// appendRecord appends a diff record as a JSON object in column order.
func appendRecord(b []byte, r report.Record) ([]byte, error) {
	b = append(b, '{')
	for i, f := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = report.AppendJSONString(b, f.Name)
		b = append(b, ':')
		switch v := f.Value.(type) {
		case nil:
			b = append(b, "null"...)
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			b = report.AppendJSONString(b, v)
		case json.Number:
			if !validNumber(string(v)) {
				return nil, fmt.Errorf("field %s: invalid number %q", f.Name, string(v))
			}
			b = append(b, v...)
		default: // anything else: encoding/json encodes or refuses it
			m, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			b = append(b, m...)
		}
	}
	return append(b, '}'), nil
}

// rawInt8 decodes a bigint result column in either wire format.
func rawInt8(b []byte, format int16) (int64, error) {
	if b == nil {
		return 0, fmt.Errorf("unexpected NULL")
	}
	if format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("bigint of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// validNumber reports whether s is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber[T ~string | ~[]byte](s T) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
