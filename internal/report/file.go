package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgparity/pgparity/internal/fault"
)

// Read loads a diff file, refusing unknown format versions and files that are truncated or
// corrupt.
func Read(path string) (*Diff, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Input("cannot read diff file %s: %v", path, err)
	}
	defer f.Close()
	d, err := decode(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fault.Input("diff file %s is corrupt or truncated: %v", path, err)
	}
	if d.Format != Format {
		if d.Format == "" {
			return nil, fault.Input("%s is not a pgparity diff file (no \"format\" field)", path)
		}
		return nil, fault.Input("diff file %s has format %q; this pgparity reads %q", path, d.Format, Format)
	}
	if len(d.Nodes) < 2 || d.Table.Name == "" || d.Table.Schema == "" || len(d.Columns) == 0 {
		return nil, fault.Input("diff file %s is incomplete: it must name a table, its columns and at least 2 nodes", path)
	}
	known := map[string]bool{}
	for _, n := range d.Nodes {
		known[n] = true
	}
	for i, r := range d.Rows {
		if len(r.Key) == 0 {
			return nil, fault.Input("diff file %s: row %d has no key", path, i+1)
		}
		for n := range r.Values {
			if !known[n] {
				return nil, fault.Input("diff file %s: row %d has values for node %q, which the file does not list", path, i+1, n)
			}
		}
	}
	return d, nil
}

// decode reads a diff streaming its row arrays one row at a time: json.Decoder would otherwise
// buffer the whole document (hundreds of MB for a large diff) besides the decoded rows.
func decode(r io.Reader) (*Diff, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	head := map[string]json.RawMessage{}
	var d Diff
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch key {
		case "rows":
			d.Rows, err = decodeRows(dec)
		case "transient":
			d.Transient, err = decodeRows(dec)
		default:
			var raw json.RawMessage
			err = dec.Decode(&raw)
			head[key] = raw
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the diff")
	}
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	rows, transient := d.Rows, d.Transient
	hd := json.NewDecoder(bytes.NewReader(b))
	hd.UseNumber()
	if err := hd.Decode(&d); err != nil {
		return nil, err
	}
	d.Rows, d.Transient = rows, transient
	return &d, nil
}

func decodeRows(dec *json.Decoder) ([]Row, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	rows := []Row{}
	for dec.More() {
		var r Row
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("row %d: %w", len(rows)+1, err)
		}
		rows = append(rows, r)
	}
	return rows, expectDelim(dec, ']')
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

// WriteFile writes d to path atomically: a temporary file in the same directory, fsync'd, then
// renamed, so a crash never leaves half a diff file under the final name.
func WriteFile(path string, d *Diff) error {
	return WriteAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		if err := Write(w, d); err != nil {
			return err
		}
		return w.Flush()
	})
}

// WriteAtomic writes path through fill atomically: a temporary file in the same directory,
// fsync'd, then renamed (mode 0600), so a crash never leaves half a file under the final name.
func WriteAtomic(path string, fill func(*os.File) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fault.Input("cannot write %s: %v", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// DefaultName returns <schema>_<table>_diff_<UTC yyyymmddThhmmss>.json for d, with characters
// unsafe in file names replaced.
func DefaultName(d *Diff) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == 0 || r == ' ' {
				return '_'
			}
			return r
		}, s)
	}
	return fmt.Sprintf("%s_%s_diff_%s.json", clean(d.Table.Schema), clean(d.Table.Name), d.StartedAt.UTC().Format("20060102T150405"))
}

// WriteHTMLFile writes the HTML report of d to path atomically.
func WriteHTMLFile(path string, d *Diff) error {
	return WriteAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		if err := WriteHTML(w, d); err != nil {
			return err
		}
		return w.Flush()
	})
}
