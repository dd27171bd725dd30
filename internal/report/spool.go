package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Spool keeps entries in a temporary diff file instead of memory until they are read back
// (table-diff's --recheck, verify's classification). It is a Sink whose Begin and End do nothing:
// the header is written when the spool is created, the summary by Open. Entry is safe for
// concurrent use.
type Spool struct {
	dir, path string
	mu        sync.Mutex
	f         *FileSink
	d         *Diff
	n         int
}

// NewSpool creates an empty spool (in a temporary directory named after prefix) for entries of
// the diff d describes.
func NewSpool(prefix string, d *Diff) (*Spool, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, path: filepath.Join(dir, "found.jsonl"), d: d}
	if s.f, err = CreateFile(s.path); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.f.Begin(d); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Begin implements Sink (the header is already written).
func (s *Spool) Begin(*Diff) error { return nil }

// Entry implements Sink: it appends e to the spool.
func (s *Spool) Entry(e *Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.f.Entry(e)
}

// End implements Sink (Open writes the summary).
func (s *Spool) End(*Diff) error { return nil }

// Len returns how many entries the spool holds.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Open finishes the spool and opens it for reading from its first entry.
func (s *Spool) Open() (*Reader, error) {
	s.d.FinishedAt = time.Now().UTC()
	if err := s.f.End(s.d); err != nil {
		return nil, err
	}
	return OpenDiff(s.path)
}

// Close removes the spool.
func (s *Spool) Close() {
	s.f.Abort()
	os.RemoveAll(s.dir)
}
