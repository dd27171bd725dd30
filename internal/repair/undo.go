package repair

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// UndoFormat is the version tag of undo files.
const UndoFormat = "pgparity.undo/v1"

// UndoHeader is the first line of an undo file.
type UndoHeader struct {
	Format    string          `json:"format"`
	Cluster   string          `json:"cluster"`
	Table     report.TableRef `json:"table"`
	Key       []string        `json:"key"`
	Columns   []report.Column `json:"columns"`
	Strict    bool            `json:"strict"`
	Nodes     []string        `json:"nodes"`
	DiffFile  string          `json:"diff_file,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// undoEntry is one changed row of one node: its version before the repair (nil: the repair
// inserted it) and the version the repair wrote (nil: the repair deleted it). In whole-row mode
// Row is the row, Copies how many copies were inserted or deleted, and the counts the copies the
// node held before and after.
type undoEntry struct {
	Node        string         `json:"node"`
	Op          Kind           `json:"op"`
	Key         report.Record  `json:"key"`
	Before      *report.Record `json:"before,omitempty"`
	After       *report.Record `json:"after,omitempty"`
	Row         *report.Record `json:"row,omitempty"`
	Copies      int64          `json:"copies,omitempty"`
	CountBefore int64          `json:"count_before,omitempty"`
	CountAfter  int64          `json:"count_after,omitempty"`
	Status      string         `json:"status,omitempty"` // status lines only: committed, rolled back, failed, commit failed
}

// undoWriter appends JSON lines to an undo file; every node's entries are fsync'd before the
// node commits.
type undoWriter struct {
	mu sync.Mutex
	f  *os.File
}

func createUndo(path string, p *Plan, diffFile string) (*undoWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fault.Input("cannot create undo file %s: %v", path, err)
	}
	u := &undoWriter{f: f}
	h := UndoHeader{Format: UndoFormat, Cluster: p.Cluster, Table: p.Table, Key: p.Key, Columns: p.Columns,
		Strict: p.Strict, Nodes: p.Nodes, DiffFile: diffFile, CreatedAt: time.Now().UTC()}
	if err := u.write([]any{h}); err != nil {
		f.Close()
		return nil, err
	}
	// The file's directory entry must survive a crash too.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return u, nil
}

func (u *undoWriter) write(lines []any) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := bufio.NewWriterSize(u.f, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return u.f.Sync()
}

// append writes whole lines to the file (no fsync: undoStream.close does it).
func (u *undoWriter) append(b []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, err := u.f.Write(b)
	return err
}

// undoChunk is how many bytes of encoded entries a node gathers before handing them to its
// writer goroutine.
const undoChunk = 1 << 20

// undoStream writes one node's undo entries while the node's transaction goes on: the node
// appends encoded lines to buf, full chunks go to a goroutine that appends them to the file
// (whole lines, so nodes sharing the file interleave only between entries), and close writes the
// rest, fsyncs and returns the first error. Memory stays at a few chunks whatever the number of
// rows.
type undoStream struct {
	buf    []byte
	ch     chan []byte
	done   chan error
	closed bool
	err    error
	held   bool // entries stay in buf until release or drop (see hold)
}

func (u *undoWriter) stream() *undoStream {
	s := &undoStream{buf: make([]byte, 0, undoChunk+undoChunk/4), ch: make(chan []byte, 2), done: make(chan error, 1)}
	go func() {
		var err error
		for b := range s.ch {
			if err == nil {
				err = u.append(b)
			}
		}
		if err == nil {
			err = u.f.Sync()
		}
		s.done <- err
	}()
	return s
}

// endLine ends the entry just appended to buf and hands a full chunk to the writer.
func (s *undoStream) endLine() {
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= undoChunk && !s.held {
		s.ch <- s.buf
		s.buf = make([]byte, 0, undoChunk+undoChunk/4)
	}
}

// hold keeps the entries appended from now on in memory until release or drop: the entries of
// writes that may still be rolled back to a savepoint must not reach the undo file before the
// writes stand. It returns the mark to drop back to.
func (s *undoStream) hold() int {
	s.held = true
	return len(s.buf)
}

// release lets the held entries go to the undo file.
func (s *undoStream) release() {
	s.held = false
	if len(s.buf) >= undoChunk {
		s.ch <- s.buf
		s.buf = make([]byte, 0, undoChunk+undoChunk/4)
	}
}

// drop forgets the entries appended since hold returned mark.
func (s *undoStream) drop(mark int) {
	s.held = false
	s.buf = s.buf[:mark]
}

// entry appends an entry encoded by encoding/json (whole-row mode: few, small entries).
func (s *undoStream) entry(e *undoEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.buf = append(s.buf, b...)
	s.endLine()
	return nil
}

// close writes what is left, waits for the writer and its fsync, and returns the first error. It
// may be called more than once.
func (s *undoStream) close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if len(s.buf) > 0 {
		s.ch <- s.buf
	}
	s.buf = nil
	close(s.ch)
	s.err = <-s.done
	return s.err
}

func (u *undoWriter) writeStatus(node, status string) error {
	return u.write([]any{undoEntry{Node: node, Status: status}})
}

func (u *undoWriter) close() { u.f.Close() }

// UndoFile is a parsed undo file, read whole into memory (tests, small files); Undo streams.
type UndoFile struct {
	Header  UndoHeader
	Entries []undoEntry
	Status  map[string]string // node -> last status line
}

// ReadUndo reads a whole undo file, refusing unknown formats and corrupt lines.
func ReadUndo(path string) (*UndoFile, error) {
	r, err := openUndo(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	u := &UndoFile{Header: r.head, Status: map[string]string{}}
	for {
		e, err := r.next()
		if err == io.EOF {
			return u, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Status != "" {
			u.Status[e.Node] = e.Status
			continue
		}
		u.Entries = append(u.Entries, *e)
	}
}

// ReadUndoHeader reads the header line of an undo file.
func ReadUndoHeader(path string) (*UndoHeader, error) {
	r, err := openUndo(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return &r.head, nil
}

// undoReader reads an undo file one line at a time.
type undoReader struct {
	path  string
	f     *os.File
	br    *bufio.Reader
	head  UndoHeader
	line  []byte
	n     int // lines read
	bytes int // bytes read
}

func openUndo(path string) (*undoReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Input("cannot read undo file %s: %v", path, err)
	}
	r := &undoReader{path: path, f: f, br: bufio.NewReaderSize(f, 1<<16)}
	line, err := r.readLine()
	if err != nil && len(line) == 0 {
		r.close()
		return nil, fault.Input("%s is not a pgparity undo file", path)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&r.head); err != nil {
		r.close()
		return nil, fault.Input("undo file %s is corrupt (line 1): %v", path, err)
	}
	if r.head.Format == "" {
		r.close()
		return nil, fault.Input("%s is not a pgparity undo file", path)
	}
	if r.head.Format != UndoFormat {
		r.close()
		return nil, fault.Input("undo file %s has format %q; this pgparity reads %q", path, r.head.Format, UndoFormat)
	}
	return r, nil
}

func (r *undoReader) close() { r.f.Close() }

// readLine returns the next line without its newline, in a buffer reused by the next call.
func (r *undoReader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		r.n++
		r.bytes += len(r.line)
		if n := len(r.line); n > 0 && r.line[n-1] == '\n' {
			r.line = r.line[:n-1]
		}
		return r.line, err
	}
}

// next returns the next entry or status line, io.EOF after the last.
func (r *undoReader) next() (*undoEntry, error) {
	for {
		line, err := r.readLine()
		if len(bytes.TrimSpace(line)) == 0 {
			if err == io.EOF {
				return nil, io.EOF
			}
			if err != nil {
				return nil, fault.Input("cannot read undo file %s: %v", r.path, err)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, fault.Input("cannot read undo file %s: %v", r.path, err)
		}
		var e undoEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			return nil, fault.Input("undo file %s is corrupt (line %d): %v", r.path, r.n, err)
		}
		return &e, nil
	}
}

// undoStatuses reads the status lines of an undo file: node -> its last status. They follow the
// entries, so a first pass over the file finds them; only lines that may be one are decoded.
func undoStatuses(path string) (map[string]string, error) {
	r, err := openUndo(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	out := map[string]string{}
	for {
		line, err := r.readLine()
		if len(line) > 0 && bytes.Contains(line, []byte(`"status":`)) && bytes.Contains(line, []byte(`"op":""`)) {
			var e undoEntry
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				return nil, fault.Input("undo file %s is corrupt (line %d): %v", path, r.n, jerr)
			}
			if e.Status != "" {
				out[e.Node] = e.Status
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fault.Input("cannot read undo file %s: %v", path, err)
		}
	}
}

func (h *UndoHeader) plan() *Plan {
	return &Plan{Cluster: h.Cluster, Table: h.Table, Key: h.Key, Columns: h.Columns, Strict: h.Strict,
		Nodes: h.Nodes, Mode: "undo"}
}

// undoPlanner turns undo entries into the changes that restore every row the repair changed on
// the nodes that committed or may have ("commit failed": the connection can break after the
// server committed; or no status recorded): the expected row is what the repair wrote, the new
// row what was there before, so the stale guard leaves rows that changed since, or never
// changed, alone.
type undoPlanner struct {
	head   *Plan
	status map[string]string
}

// add adds the change undoing entry e (on line line of the file) to p.
func (up *undoPlanner) add(p *Plan, line int, e *undoEntry) error {
	if e.Status != "" {
		return nil
	}
	if s := up.status[e.Node]; s == "rolled back" || s == "failed" {
		return nil // the node rolled back: nothing of it to undo
	}
	h := up.head
	c := Change{Row: line - 1}
	switch {
	case len(h.Key) == 0 && e.Op == Insert:
		c.Kind, c.Expected, c.Copies, c.ExpectCount = Delete, up.values(e.Row), e.Copies, e.CountAfter
	case len(h.Key) == 0 && e.Op == Delete:
		c.Kind, c.New, c.Copies, c.ExpectCount = Insert, up.values(e.Row), e.Copies, e.CountAfter
	case e.Op == Insert:
		c.Kind, c.Expected = Delete, up.values(e.After)
	case e.Op == Delete:
		c.Kind, c.New = Insert, up.values(e.Before)
	case e.Op == Update:
		c.Kind, c.Expected, c.New = Update, up.values(e.After), up.values(e.Before)
	default:
		return fault.Input("undo file line %d: unknown op %q", line, e.Op)
	}
	if (c.Kind != Insert && c.Expected == nil) || (c.Kind != Delete && c.New == nil) {
		return fault.Input("undo file line %d (%s on %s) lacks its row", line, e.Op, e.Node)
	}
	names := h.Key
	if len(names) == 0 {
		names = []string{report.RowHashField}
	}
	c.Key = make([]string, len(names))
	for i, k := range names {
		v, _ := e.Key.Get(k)
		s, ok := encode.Text(v)
		if !ok {
			return fault.Input("undo file line %d: key column %q missing or null", line, k)
		}
		c.Key[i] = s
	}
	known := false
	for _, n := range h.Nodes {
		known = known || n == e.Node
	}
	if !known {
		return fault.Input("undo file line %d: node %q is not a node of the undo file", line, e.Node)
	}
	p.Changes[e.Node] = append(p.Changes[e.Node], c)
	return nil
}

// values returns a recorded row as texts by column position (nil: no row).
func (up *undoPlanner) values(rec *report.Record) []*string {
	if rec == nil {
		return nil
	}
	out := make([]*string, len(up.head.Columns))
	for i, c := range up.head.Columns {
		v, _ := fieldAt(*rec, i, c.Name)
		if s, ok := encode.Text(v); ok {
			out[i] = &s
		}
	}
	return out
}

// fieldAt returns the value of column name, the i-th column, in rec: records the repair wrote are
// in the columns' order; anything else is looked up by name.
func fieldAt(rec report.Record, i int, name string) (any, bool) {
	if i < len(rec) && rec[i].Name == name {
		return rec[i].Value, true
	}
	return rec.Get(name)
}

func (u *UndoFile) String() string {
	return fmt.Sprintf("undo of %s (%d rows)", u.Header.Table, len(u.Entries))
}

// Undo restores the rows an undo file recorded, on the nodes that committed, with the stale
// guard: a row is restored only while it still holds what the repair wrote. The file is read
// twice, streaming (its status lines, then its entries batch by batch), so memory is bounded by
// a batch. It returns fault.ErrDiffer when every node committed but some rows could not be
// restored (skipped as stale): the undo is then incomplete, and must not look like a success.
func Undo(ctx context.Context, pools cluster.Pools, path string, ao ApplyOptions) (*Result, error) {
	status, err := undoStatuses(path)
	if err != nil {
		return nil, err
	}
	r, err := openUndo(path)
	if err != nil {
		return nil, err
	}
	defer r.close()
	up := &undoPlanner{head: r.head.plan(), status: status}
	size := ao.batchSize()
	next := func(context.Context) (*Plan, error) {
		p := up.head.header()
		p.Changes = map[string][]Change{}
		for n, start := 0, r.bytes; n < size && r.bytes-start < batchBytes; {
			e, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			before := len(p.Changes[e.Node])
			if err := up.add(p, r.n, e); err != nil {
				return nil, err
			}
			n += len(p.Changes[e.Node]) - before
		}
		if p.Total() == 0 {
			return nil, io.EOF
		}
		return p, nil
	}
	ao.NoStaleGuard = false
	res, err := apply(ctx, pools, up.head, next, ao)
	if err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
		return res, err
	}
	if res.Status == StatusUnresolved {
		return res, fault.ErrDiffer
	}
	return res, nil
}
