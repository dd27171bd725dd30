package report

import (
	"fmt"
	"io"
)

// Sink receives a comparison's outcome as it is found: the header once, every differing key once
// (and forgotten by the sender), then the finished header with its summary. A sink may keep what
// it is given. An error from any call stops the comparison.
type Sink interface {
	Begin(d *Diff) error
	Entry(e *Entry) error
	End(d *Diff) error
}

// Tee returns a sink passing everything to each of sinks in turn (nil sinks are skipped).
func Tee(sinks ...Sink) Sink {
	var out tee
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

type tee []Sink

func (t tee) Begin(d *Diff) error {
	for _, s := range t {
		if err := s.Begin(d); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Entry(e *Entry) error {
	for _, s := range t {
		if err := s.Entry(e); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) End(d *Diff) error {
	for _, s := range t {
		if err := s.End(d); err != nil {
			return err
		}
	}
	return nil
}

// Tally computes a summary's counters from entries: differing keys, transient keys, per node
// pair the keys on which the pair disagrees, per node the keys it lacks. Its memory is the
// number of nodes squared, whatever the number of entries.
type Tally struct {
	nodes                    []string
	DifferingKeys, Transient int
	pairs                    []int // i*n+j, i<j
	missing                  []int
}

// NewTally returns a tally over the given nodes.
func NewTally(nodes []string) *Tally {
	n := len(nodes)
	return &Tally{nodes: nodes, pairs: make([]int, n*n), missing: make([]int, n)}
}

// Add counts one entry.
func (t *Tally) Add(e *Entry) {
	if e.Transient {
		t.Transient++
		return
	}
	t.DifferingKeys++
	n := len(t.nodes)
	// state[i]: which version (keyed) or how many copies (whole-row) node i holds; -1 = none.
	state := make([]int64, n)
	for i := range state {
		state[i] = -1
		if e.Counts != nil {
			if i < len(e.Counts) && e.Counts[i] > 0 {
				state[i] = e.Counts[i]
			}
			continue
		}
	}
	if e.Counts == nil {
		for v := range e.Versions {
			for _, i := range e.Versions[v].Nodes {
				if i < n {
					state[i] = int64(v)
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		if state[i] < 0 {
			t.missing[i]++
		}
		for j := i + 1; j < n; j++ {
			if state[i] != state[j] {
				t.pairs[i*n+j]++
			}
		}
	}
}

// Fill sets s's counters from the tally.
func (t *Tally) Fill(s *Summary) {
	n := len(t.nodes)
	s.DifferingKeys, s.Transient = t.DifferingKeys, t.Transient
	s.Pairs, s.MissingOn = map[string]int{}, map[string]int{}
	for i, a := range t.nodes {
		s.MissingOn[a] = t.missing[i]
		for j := i + 1; j < n; j++ {
			s.Pairs[PairKey(a, t.nodes[j])] = t.pairs[i*n+j]
		}
	}
}

// Collector is a sink that keeps everything in memory as an expanded Diff: for tests and for
// callers that know the diff is small. Never use it where the number of differences is unbounded.
type Collector struct {
	Diff *Diff
}

// Begin implements Sink.
func (c *Collector) Begin(d *Diff) error {
	h := *d
	h.Rows, h.Transient = []Row{}, nil
	c.Diff = &h
	return nil
}

// Entry implements Sink.
func (c *Collector) Entry(e *Entry) error {
	if c.Diff == nil {
		return fmt.Errorf("collector: entry before the header")
	}
	r := c.Diff.Expand(e)
	if e.Transient {
		c.Diff.Transient = append(c.Diff.Transient, r)
	} else {
		c.Diff.Rows = append(c.Diff.Rows, r)
	}
	return nil
}

// End implements Sink.
func (c *Collector) End(d *Diff) error {
	rows, transient := c.Diff.Rows, c.Diff.Transient
	h := *d
	h.Rows, h.Transient = rows, transient
	c.Diff = &h
	return nil
}

// Samples is a sink keeping the first Max non-transient entries (the terminal summary shows a
// few keys).
type Samples struct {
	Max     int
	Entries []Entry
}

// Begin implements Sink.
func (s *Samples) Begin(*Diff) error { return nil }

// Entry implements Sink.
func (s *Samples) Entry(e *Entry) error {
	if !e.Transient && len(s.Entries) < s.Max {
		s.Entries = append(s.Entries, *e)
	}
	return nil
}

// End implements Sink.
func (s *Samples) End(*Diff) error { return nil }

func errMissingKey(k string) error { return fmt.Errorf("key column %q missing or null", k) }

func errBadHash(node string) error { return fmt.Errorf("row hash of node %s is not an integer", node) }

// Source is a stream of a diff's entries: a diff file (*Reader) or an in-memory diff (FromDiff).
// Next returns io.EOF after the last entry.
type Source interface {
	Header() *Diff
	Next() (*Entry, error)
}

// Header implements Source.
func (r *Reader) Header() *Diff { return r.Diff }

// FromDiff returns an in-memory diff's rows (then its transient rows) as a Source.
func FromDiff(d *Diff) Source { return &memSource{d: d} }

type memSource struct {
	d *Diff
	i int
}

func (m *memSource) Header() *Diff { return m.d }

func (m *memSource) Next() (*Entry, error) {
	if m.i >= len(m.d.Rows)+len(m.d.Transient) {
		return nil, io.EOF
	}
	i := m.i
	m.i++
	var row *Row
	transient := i >= len(m.d.Rows)
	if transient {
		row = &m.d.Transient[i-len(m.d.Rows)]
	} else {
		row = &m.d.Rows[i]
	}
	e, err := m.d.Compact(row)
	if err != nil {
		return nil, fmt.Errorf("row %d: %w", i+1, err)
	}
	e.Transient = transient
	return &e, nil
}
