package report

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pgparity/pgparity/internal/fault"
)

// A v2 diff file is JSON Lines: a header line (what was compared, how), one line per differing
// key (Entry), and a trailer line with the summary. It is written and read in one pass with
// memory bounded by one entry; a file without its trailer is truncated. See docs/diff-format.md.

// v2Header is the first line of a v2 diff file.
type v2Header struct {
	Format    string    `json:"format"`
	Tool      string    `json:"tool"`
	Cluster   string    `json:"cluster"`
	Table     TableRef  `json:"table"`
	Key       []string  `json:"key"`
	KeySource string    `json:"key_source"`
	Nodes     []string  `json:"nodes"`
	Columns   []Column  `json:"columns"`
	Skipped   []Skipped `json:"skipped_columns,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Options   Options   `json:"options"`
}

// v2Trailer is the last line of a v2 diff file.
type v2Trailer struct {
	Summary    *Summary  `json:"summary"`
	FinishedAt time.Time `json:"finished_at"`
}

// FileSink writes a v2 diff file as entries arrive: into a temporary file next to its path,
// renamed over the path by End (atomic: a failed or interrupted run never leaves half a diff file
// under the final name; call Abort then). A path ending in .gz or .zst is compressed.
type FileSink struct {
	path  string
	tmp   *os.File
	bw    *bufio.Writer
	comp  io.WriteCloser
	out   io.Writer
	d     *Diff
	ck    []jsonKind
	kk    []jsonKind
	buf   []byte
	count int
}

// CreateFile starts a diff file at path; nothing appears under path before End.
func CreateFile(path string) (*FileSink, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fault.Input("cannot write %s: %v", path, err)
	}
	f := &FileSink{path: path, tmp: tmp, bw: bufio.NewWriterSize(tmp, 1<<16)}
	f.out = f.bw
	switch {
	case strings.HasSuffix(path, ".gz"):
		f.comp = gzip.NewWriter(f.bw)
	case strings.HasSuffix(path, ".zst"):
		zw, err := zstd.NewWriter(f.bw, zstd.WithEncoderConcurrency(1))
		if err != nil {
			f.Abort()
			return nil, err
		}
		f.comp = zw
	}
	if f.comp != nil {
		f.out = f.comp
	}
	return f, nil
}

// Path returns the final path of the file.
func (f *FileSink) Path() string { return f.path }

// Begin implements Sink: the header line.
func (f *FileSink) Begin(d *Diff) error {
	f.d = d
	f.ck, f.kk = kinds(d.Columns), kinds(d.keyColumns())
	h := v2Header{Format: Format, Tool: d.Tool, Cluster: d.Cluster, Table: d.Table, Key: d.Key, KeySource: d.KeySource,
		Nodes: d.Nodes, Columns: d.Columns, Skipped: d.Skipped, StartedAt: d.StartedAt, Options: d.Options}
	if h.Key == nil {
		h.Key = []string{}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return f.write(append(b, '\n'))
}

// Entry implements Sink: one line.
func (f *FileSink) Entry(e *Entry) error {
	f.buf = appendEntry(f.buf[:0], f.d, f.ck, f.kk, e)
	f.buf = append(f.buf, '\n')
	f.count++
	return f.write(f.buf)
}

// End implements Sink: the trailer, then flush, sync and rename into place.
func (f *FileSink) End(d *Diff) error {
	s := d.Summary
	b, err := json.Marshal(v2Trailer{Summary: &s, FinishedAt: d.FinishedAt})
	if err != nil {
		return err
	}
	if err := f.write(append(b, '\n')); err != nil {
		return err
	}
	if f.comp != nil {
		if err := f.comp.Close(); err != nil {
			return f.fail("compress", err)
		}
	}
	if err := f.bw.Flush(); err != nil {
		return f.fail("write", err)
	}
	if err := f.tmp.Sync(); err != nil {
		return f.fail("sync", err)
	}
	if err := f.tmp.Close(); err != nil {
		return f.fail("close", err)
	}
	if err := os.Chmod(f.tmp.Name(), 0o600); err != nil {
		return f.fail("chmod", err)
	}
	if err := os.Rename(f.tmp.Name(), f.path); err != nil {
		return f.fail("rename", err)
	}
	f.tmp = nil
	return nil
}

// Abort removes the temporary file (after End, it does nothing).
func (f *FileSink) Abort() {
	if f.tmp != nil {
		f.tmp.Close()
		os.Remove(f.tmp.Name())
		f.tmp = nil
	}
}

func (f *FileSink) write(b []byte) error {
	if _, err := f.out.Write(b); err != nil {
		return f.fail("write", err)
	}
	return nil
}

func (f *FileSink) fail(step string, err error) error {
	f.Abort()
	return fmt.Errorf("%s %s: %w", step, f.path, err)
}

// appendEntry appends e as one JSON object (no newline).
func appendEntry(b []byte, d *Diff, ck, kk []jsonKind, e *Entry) []byte {
	b = append(b, '{')
	if e.Key != nil {
		b = append(b, `"key":[`...)
		for i, t := range e.Key {
			if i > 0 {
				b = append(b, ',')
			}
			k := kindString
			if i < len(kk) {
				k = kk[i]
			}
			b = appendValue(b, k, &t)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"versions":[`...)
	for v := range e.Versions {
		ver := &e.Versions[v]
		if v > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"nodes":[`...)
		for j, n := range ver.Nodes {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, d.Nodes[n])
		}
		b = append(b, `],"hash":`...)
		b = strconv.AppendInt(b, ver.Hash, 10)
		b = append(b, `,"values":[`...)
		for j, t := range ver.Values {
			if j > 0 {
				b = append(b, ',')
			}
			k := kindString
			if j < len(ck) {
				k = ck[j]
			}
			b = appendValue(b, k, t)
		}
		b = append(b, "]}"...)
	}
	b = append(b, ']')
	if e.Counts != nil {
		b = append(b, `,"counts":{`...)
		for i, n := range d.Nodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, n)
			b = append(b, ':')
			var c int64
			if i < len(e.Counts) {
				c = e.Counts[i]
			}
			b = strconv.AppendInt(b, c, 10)
		}
		b = append(b, '}')
	}
	if e.Transient {
		b = append(b, `,"transient":true`...)
	}
	return append(b, '}')
}

// appendValue appends a text as its JSON value of kind k.
func appendValue(b []byte, k jsonKind, t *string) []byte {
	switch {
	case t == nil:
		return append(b, "null"...)
	case k == kindNumber && validNumber(*t):
		return append(b, *t...)
	case k == kindBool && (*t == "true" || *t == "false"):
		return append(b, *t...)
	}
	return appendString(b, *t)
}

// validNumber reports whether s is a JSON integer (integer types' text always is).
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return AppendJSONString(b, s) }

// Reader reads a diff file (v2, or v1 of earlier builds) one entry at a time. Diff holds the
// header from Open on; its Summary and FinishedAt are complete once Next has returned io.EOF (v1
// files have them from the start).
type Reader struct {
	Diff *Diff
	path string
	f    *os.File
	dec  io.Closer // decompressor, if any
	br   *bufio.Reader
	line []byte
	n    int // entries read
	done bool
	v1   *v1Reader
	ids  map[string]int
	// skip: entries are read without their versions' values (SkipValues).
	skip bool
}

// SkipValues makes Next return entries without their versions' values (keys, node lists,
// hashes and counts only): a reader that re-reads keys on the nodes skips most of the file's
// bytes without decoding them. (A v1 file is still decoded whole.)
func (r *Reader) SkipValues() { r.skip = true }

// OpenDiff opens a diff file, reads its header and checks it.
func OpenDiff(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Input("cannot read diff file %s: %v", path, err)
	}
	r := &Reader{path: path, f: f}
	fail := func(err error) (*Reader, error) {
		r.Close()
		return nil, err
	}
	raw := bufio.NewReaderSize(f, 1<<16)
	magic, _ := raw.Peek(4)
	var src io.Reader = raw
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return fail(fault.Input("diff file %s is corrupt or truncated: %v", path, err))
		}
		r.dec, src = zr, zr
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fail(fault.Input("diff file %s is corrupt or truncated: %v", path, err))
		}
		r.dec, src = zr.IOReadCloser(), zr
	}
	r.br = bufio.NewReaderSize(src, 1<<16)
	first, err := r.readLine()
	if err != nil && len(first) == 0 {
		return fail(fault.Input("diff file %s is empty or unreadable: %v", path, err))
	}
	if strings.TrimSpace(string(first)) == "{" {
		// An indented v1 file: stream it from its beginning.
		v1, err := newV1Reader(io.MultiReader(strings.NewReader(string(first)+"\n"), r.br))
		if err != nil {
			return fail(fault.Input("diff file %s is corrupt or truncated: %v", path, err))
		}
		r.v1, r.Diff = v1, v1.d
		if r.Diff.Format != FormatV1 {
			return fail(formatError(path, r.Diff.Format))
		}
	} else {
		var h v2Header
		if err := json.Unmarshal(first, &h); err != nil {
			return fail(fault.Input("diff file %s is corrupt or truncated: header: %v", path, err))
		}
		if h.Format != Format {
			return fail(formatError(path, h.Format))
		}
		r.Diff = &Diff{Format: h.Format, Tool: h.Tool, Cluster: h.Cluster, Table: h.Table, Key: h.Key, KeySource: h.KeySource,
			Nodes: h.Nodes, Columns: h.Columns, Skipped: h.Skipped, StartedAt: h.StartedAt, Options: h.Options}
	}
	d := r.Diff
	if len(d.Nodes) < 2 || d.Table.Name == "" || d.Table.Schema == "" || len(d.Columns) == 0 {
		return fail(fault.Input("diff file %s is incomplete: it must name a table, its columns and at least 2 nodes", path))
	}
	r.ids = make(map[string]int, len(d.Nodes))
	for i, n := range d.Nodes {
		r.ids[n] = i
	}
	return r, nil
}

func formatError(path, format string) error {
	if format == "" {
		return fault.Input("%s is not a pgparity diff file (no \"format\" field)", path)
	}
	return fault.Input("diff file %s has format %q; this pgparity reads %q and %q", path, format, Format, FormatV1)
}

// readLine returns the next line without its newline, in a buffer reused by the next call.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if n := len(r.line); n > 0 && r.line[n-1] == '\n' {
			r.line = r.line[:n-1]
		}
		return r.line, err
	}
}

// Next returns the next entry, or io.EOF after the last (the summary is then in Diff). Errors
// are input errors naming the file and the entry.
func (r *Reader) Next() (*Entry, error) {
	if r.done {
		return nil, io.EOF
	}
	if r.v1 != nil {
		row, err := r.v1.next()
		if err == io.EOF {
			r.done = true
			return nil, io.EOF
		}
		if err != nil {
			return nil, fault.Input("diff file %s is corrupt or truncated: %v", r.path, err)
		}
		r.n++
		for n := range row.Values {
			if _, ok := r.ids[n]; !ok {
				return nil, fault.Input("diff file %s: row %d has values for node %q, which the file does not list", r.path, r.n, n)
			}
		}
		e, err := r.Diff.Compact(row)
		if err != nil {
			return nil, fault.Input("diff file %s: row %d: %v", r.path, r.n, err)
		}
		e.Transient = r.v1.inTransient
		return &e, nil
	}
	for {
		line, err := r.readLine()
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return nil, fault.Input("diff file %s is truncated: it ends after %d entries without its summary line", r.path, r.n)
			}
			return nil, fault.Input("cannot read diff file %s: %v", r.path, err)
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if isTrailer(line) {
			var t v2Trailer
			if err := json.Unmarshal(line, &t); err != nil || t.Summary == nil {
				return nil, fault.Input("diff file %s: summary line is corrupt: %v", r.path, err)
			}
			r.Diff.Summary, r.Diff.FinishedAt = *t.Summary, t.FinishedAt
			if err := r.checkEnd(); err != nil {
				return nil, err
			}
			r.done = true
			return nil, io.EOF
		}
		r.n++
		e, err := parseEntry(line, r.ids, len(r.Diff.Key) > 0, r.skip)
		if err != nil {
			return nil, fault.Input("diff file %s: entry %d: %v", r.path, r.n, err)
		}
		return e, nil
	}
}

// checkEnd reads what follows the summary line: nothing but blank space may, and a compressed
// stream must end there intact (its checksum is verified only when it is read to its end).
func (r *Reader) checkEnd() error {
	for {
		line, err := r.readLine()
		if len(strings.TrimSpace(string(line))) > 0 {
			return fault.Input("diff file %s has data after its summary line", r.path)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fault.Input("cannot read diff file %s: %v", r.path, err)
		}
	}
}

// Close releases the file.
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Close()
	}
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}

func isTrailer(line []byte) bool {
	s := strings.TrimLeft(string(line[:min(len(line), 32)]), " \t")
	return strings.HasPrefix(s, `{"summary"`)
}

// parseEntry reads one entry line.
func parseEntry(line []byte, ids map[string]int, keyed, skipValues bool) (*Entry, error) {
	p := recordParser{b: line, skipValues: skipValues}
	if !skipValues {
		// One copy of the line: the entry's texts are substrings of it.
		p.s = string(line)
	}
	e := &Entry{}
	p.space()
	err := p.members(func(name string) error {
		var err error
		switch name {
		case "key":
			vals, err := p.texts()
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			e.Key = make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					return fmt.Errorf("key: null value")
				}
				e.Key[i] = *v
			}
		case "versions":
			if e.Versions, err = p.versions(ids); err != nil {
				return fmt.Errorf("versions: %w", err)
			}
		case "counts":
			if e.Counts, err = p.counts(ids); err != nil {
				return fmt.Errorf("counts: %w", err)
			}
		case "transient":
			v, err := p.value()
			if err != nil {
				return err
			}
			e.Transient = v == true
		default:
			return fmt.Errorf("unknown field %q", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if keyed && len(e.Key) == 0 {
		return nil, fmt.Errorf("no key")
	}
	if !keyed && (e.Counts == nil || len(e.Versions) != 1) {
		return nil, fmt.Errorf("a whole-row entry needs counts and exactly one version")
	}
	return e, p.end()
}

// members reads an object at the current position, calling member for each member name with
// the parser positioned at its value (member must consume it).
func (p *recordParser) members(member func(name string) error) error {
	if !p.eat('{') {
		return fmt.Errorf("expected an object")
	}
	for first := true; ; first = false {
		p.space()
		if p.eat('}') {
			return nil
		}
		if !first && !p.eat(',') {
			return fmt.Errorf("expected ',' or '}'")
		}
		p.space()
		name, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if !p.eat(':') {
			return fmt.Errorf("expected ':' after %q", name)
		}
		p.space()
		if err := member(name); err != nil {
			return err
		}
	}
}

// texts reads an array of scalars as texts (nil = null). The texts share one backing array.
func (p *recordParser) texts() ([]*string, error) {
	if !p.eat('[') {
		return nil, fmt.Errorf("expected an array")
	}
	p.space()
	if p.eat(']') {
		return []*string{}, nil
	}
	vals := make([]string, 0, 16)
	var nulls []int
	for {
		p.space()
		v, ok, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if !ok {
			nulls = append(nulls, len(vals))
		}
		vals = append(vals, v)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			break
		}
		return nil, fmt.Errorf("expected ',' or ']'")
	}
	out := make([]*string, len(vals))
	for i := range vals {
		out[i] = &vals[i]
	}
	for _, i := range nulls {
		out[i] = nil
	}
	return out, nil
}

// skipArray moves past an array of scalars, checking its syntax but decoding nothing.
func (p *recordParser) skipArray() error {
	if !p.eat('[') {
		return fmt.Errorf("expected an array")
	}
	p.space()
	if p.eat(']') {
		return nil
	}
	for {
		p.space()
		if err := p.skipScalar(); err != nil {
			return err
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return nil
		}
		return fmt.Errorf("expected ',' or ']'")
	}
}

// skipScalar moves past a scalar; a string's escapes and UTF-8 are not checked.
func (p *recordParser) skipScalar() error {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		if p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] >= '0' && p.b[p.i] <= '9') {
			for p.i < len(p.b) && strings.IndexByte("+-0123456789.eE", p.b[p.i]) >= 0 {
				p.i++
			}
			return nil
		}
		_, _, err := p.scalar()
		return err
	}
	p.i++
	for {
		i := bytes.IndexByte(p.b[p.i:], '"')
		if i < 0 {
			return fmt.Errorf("unterminated string")
		}
		p.i += i + 1
		// The quote ends the string unless an odd number of backslashes precedes it.
		n := 0
		for j := p.i - 2; j >= 0 && p.b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return nil
		}
	}
}

func (p *recordParser) versions(ids map[string]int) ([]Version, error) {
	if !p.eat('[') {
		return nil, fmt.Errorf("expected an array")
	}
	var out []Version
	p.space()
	if p.eat(']') {
		return out, nil
	}
	for {
		p.space()
		var v Version
		err := p.members(func(name string) error {
			var err error
			switch name {
			case "nodes":
				names, err := p.texts()
				if err != nil {
					return err
				}
				for _, n := range names {
					if n == nil {
						return fmt.Errorf("null node name")
					}
					i, ok := ids[*n]
					if !ok {
						return fmt.Errorf("node %q is not a node of the file", *n)
					}
					v.Nodes = append(v.Nodes, i)
				}
			case "hash":
				x, err := p.value()
				if err != nil {
					return err
				}
				num, ok := x.(json.Number)
				if !ok {
					return fmt.Errorf("hash is not a number")
				}
				if v.Hash, err = strconv.ParseInt(string(num), 10, 64); err != nil {
					return fmt.Errorf("hash: %w", err)
				}
			case "values":
				if p.skipValues {
					return p.skipArray()
				}
				if v.Values, err = p.texts(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("unknown field %q", name)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return out, nil
		}
		return nil, fmt.Errorf("expected ',' or ']'")
	}
}

func (p *recordParser) counts(ids map[string]int) ([]int64, error) {
	rec, err := p.object()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(ids))
	for _, f := range rec {
		i, ok := ids[f.Name]
		if !ok {
			return nil, fmt.Errorf("node %q is not a node of the file", f.Name)
		}
		num, ok := f.Value.(json.Number)
		if !ok {
			return nil, fmt.Errorf("count of %s is not a number", f.Name)
		}
		if out[i], err = strconv.ParseInt(string(num), 10, 64); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// object reads a flat object at the current position (unlike record, more may follow it).
func (p *recordParser) object() (Record, error) {
	if !p.eat('{') {
		return nil, fmt.Errorf("expected an object")
	}
	out := Record{}
	p.space()
	if p.eat('}') {
		return out, nil
	}
	for {
		p.space()
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, fmt.Errorf("expected ':' after %q", name)
		}
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, Field{Name: name, Value: v})
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return out, nil
		}
		return nil, fmt.Errorf("expected ',' or '}'")
	}
}
