package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// FormatV1 is the format of diff files written by builds before v2 (one indented JSON document,
// every node's row per key). They stay readable: repair and rerun accept them.
const FormatV1 = "pgparity.diff/v1"

// v1Reader streams a v1 document: the header fields come first and "rows" (then "transient")
// last, as every v1 writer wrote them, so rows can be decoded one at a time.
type v1Reader struct {
	dec         *json.Decoder
	d           *Diff
	inTransient bool
	inArray     bool
	done        bool
}

func newV1Reader(src io.Reader) (*v1Reader, error) {
	dec := json.NewDecoder(src)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	r := &v1Reader{dec: dec}
	head := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if key == "rows" || key == "transient" {
			r.inTransient = key == "transient"
			if err := expectDelim(dec, '['); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			r.inArray = true
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		head[key] = raw
	}
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	var d Diff
	hd := json.NewDecoder(bytes.NewReader(b))
	hd.UseNumber()
	if err := hd.Decode(&d); err != nil {
		return nil, err
	}
	d.Rows, d.Transient = nil, nil
	r.d = &d
	if !r.inArray {
		r.done = true
		if err := r.end(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// next returns the next row of "rows", then of "transient", then io.EOF.
func (r *v1Reader) next() (*Row, error) {
	for !r.done {
		if r.inArray && r.dec.More() {
			var row Row
			if err := r.dec.Decode(&row); err != nil {
				return nil, err
			}
			if len(row.Key) == 0 {
				return nil, fmt.Errorf("a row has no key")
			}
			return &row, nil
		}
		if r.inArray {
			if err := expectDelim(r.dec, ']'); err != nil {
				return nil, err
			}
			r.inArray = false
		}
		if !r.dec.More() {
			r.done = true
			if err := r.end(); err != nil {
				return nil, err
			}
			break
		}
		tok, err := r.dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if key != "rows" && key != "transient" {
			return nil, fmt.Errorf("unexpected field %q after the rows", key)
		}
		r.inTransient = key == "transient"
		if err := expectDelim(r.dec, '['); err != nil {
			return nil, err
		}
		r.inArray = true
	}
	return nil, io.EOF
}

func (r *v1Reader) end() error {
	if err := expectDelim(r.dec, '}'); err != nil {
		return err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the diff")
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}
