package repair

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// UndoFormat is the version tag of undo files.
const UndoFormat = "pgparity.undo/v1"

// undoHeader is the first line of an undo file.
type undoHeader struct {
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
	h := undoHeader{Format: UndoFormat, Cluster: p.Cluster, Table: p.Table, Key: p.Key, Columns: p.Columns,
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
	if len(s.buf) >= undoChunk {
		s.ch <- s.buf
		s.buf = make([]byte, 0, undoChunk+undoChunk/4)
	}
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

// UndoFile is a parsed undo file.
type UndoFile struct {
	Header  undoHeader
	Entries []undoEntry
	Status  map[string]string // node -> last status line
}

// ReadUndo reads an undo file, refusing unknown formats and corrupt lines.
func ReadUndo(path string) (*UndoFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Input("cannot read undo file %s: %v", path, err)
	}
	u := &UndoFile{Status: map[string]string{}}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.UseNumber()
		if i == 0 {
			if err := dec.Decode(&u.Header); err != nil {
				return nil, fault.Input("undo file %s is corrupt (line 1): %v", path, err)
			}
			if u.Header.Format != UndoFormat {
				return nil, fault.Input("undo file %s has format %q; this pgparity reads %q", path, u.Header.Format, UndoFormat)
			}
			continue
		}
		var e undoEntry
		if err := dec.Decode(&e); err != nil {
			return nil, fault.Input("undo file %s is corrupt (line %d): %v", path, i+1, err)
		}
		if e.Status != "" {
			u.Status[e.Node] = e.Status
			continue
		}
		u.Entries = append(u.Entries, e)
	}
	if u.Header.Format == "" {
		return nil, fault.Input("%s is not a pgparity undo file", path)
	}
	return u, nil
}

// Plan returns the plan that restores every row the repair changed on the nodes that committed
// or may have ("commit failed": the connection can break after the server committed; or no
// status recorded): the expected row is what the repair wrote, the new row what was there
// before, so the stale guard leaves rows that changed since, or never changed, alone.
func (u *UndoFile) Plan() (*Plan, error) {
	h := u.Header
	p := &Plan{Cluster: h.Cluster, Table: h.Table, Key: h.Key, Columns: h.Columns, Strict: h.Strict,
		Nodes: h.Nodes, Mode: "undo", Changes: map[string][]Change{}}
	for i, e := range u.Entries {
		if s := u.Status[e.Node]; s == "rolled back" || s == "failed" {
			continue // the node rolled back: nothing of it to undo
		}
		c := Change{Row: i, Key: e.Key}
		switch {
		case len(h.Key) == 0 && e.Op == Insert:
			c.Kind, c.Expected, c.Copies, c.ExpectCount = Delete, e.Row, e.Copies, e.CountAfter
		case len(h.Key) == 0 && e.Op == Delete:
			c.Kind, c.New, c.Copies, c.ExpectCount = Insert, e.Row, e.Copies, e.CountAfter
		case e.Op == Insert:
			c.Kind, c.Expected = Delete, e.After
		case e.Op == Delete:
			c.Kind, c.New = Insert, e.Before
		case e.Op == Update:
			c.Kind, c.Expected, c.New = Update, e.After, e.Before
		default:
			return nil, fault.Input("undo file line %d: unknown op %q", i+2, e.Op)
		}
		if (c.Kind != Insert && c.Expected == nil) || (c.Kind != Delete && c.New == nil) {
			return nil, fault.Input("undo file: entry %d (%s on %s) lacks its row", i+1, e.Op, e.Node)
		}
		p.Changes[e.Node] = append(p.Changes[e.Node], c)
	}
	return p, nil
}

func (u *UndoFile) String() string {
	return fmt.Sprintf("undo of %s (%d rows)", u.Header.Table, len(u.Entries))
}
