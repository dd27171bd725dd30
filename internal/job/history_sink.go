package job

import (
	"context"
	"strconv"

	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
)

// sinkBatch is how many keys a DivergenceSink hands to its writer at once, and sinkQueue how many
// such batches may wait: a sink holds at most sinkQueue+2 batches (one filling, the waiting ones,
// one being written), whatever the number of differing keys.
const (
	sinkBatch = 1000
	sinkQueue = 2
)

// DivergenceSink is a report.Sink recording the differing keys of one table's comparison as
// sightings of its run (transient keys are not sightings). Keys are written by a goroutine of
// their own, in batches, while the comparison goes on: the comparison waits for the store only
// when sinkQueue batches are already waiting. Put it in a report.Tee after the sinks whose
// failure must stop the comparison; it never fails the comparison itself. End (or Close when the
// comparison failed) waits until every key handed to it is written.
type DivergenceSink struct {
	nodes   []string
	batch   []history.Seen
	queue   chan []history.Seen // nil: recording nothing
	stopped chan struct{}       // closed when the writer returned
	closed  bool
}

// Divergences returns a sink recording the keys a comparison of table (schema.name) finds as
// sightings of the run. Call Resolve for the table after its End, when the comparison covered
// the whole table.
func (r *Recorder) Divergences(ctx context.Context, table string) *DivergenceSink {
	s := &DivergenceSink{}
	if r.store == nil {
		return s
	}
	s.queue, s.stopped = make(chan []history.Seen, sinkQueue), make(chan struct{})
	queue := s.queue
	go func() {
		defer close(s.stopped)
		r.Seen(ctx, table, func(yield func(history.Seen) bool) {
			for b := range queue {
				for _, k := range b {
					if !yield(k) {
						return
					}
				}
			}
		})
	}()
	return s
}

// Begin implements report.Sink.
func (s *DivergenceSink) Begin(d *report.Diff) error {
	s.nodes = d.Nodes
	return nil
}

// Entry implements report.Sink.
func (s *DivergenceSink) Entry(e *report.Entry) error {
	if s.queue == nil || e.Transient || s.closed {
		return nil
	}
	if s.batch == nil {
		s.batch = make([]history.Seen, 0, sinkBatch)
	}
	s.batch = append(s.batch, history.Seen{Key: HistoryKey(e), Nodes: s.nodes})
	if len(s.batch) == sinkBatch {
		s.send()
	}
	return nil
}

// send hands the batch to the writer, unless the writer gave up (its error is logged).
func (s *DivergenceSink) send() {
	select {
	case s.queue <- s.batch:
	case <-s.stopped:
	}
	s.batch = nil
}

// End implements report.Sink: it waits until every key is recorded.
func (s *DivergenceSink) End(*report.Diff) error {
	s.Close()
	return nil
}

// Close ends the stream of keys and waits until those handed over are recorded. It is safe to
// call more than once, and after End.
func (s *DivergenceSink) Close() {
	if s.queue == nil || s.closed {
		return
	}
	s.closed = true
	if len(s.batch) > 0 {
		s.send()
	}
	close(s.queue)
	<-s.stopped
}

// HistoryKey returns the key a diff entry is recorded under in the history store: the key's column
// texts, or in whole-row mode (a table without a key) "row_hash:" and the row hash.
func HistoryKey(e *report.Entry) history.Key {
	if e.Key != nil || len(e.Versions) == 0 {
		return history.Key(e.Key)
	}
	return history.Key{"row_hash:" + strconv.FormatInt(e.Versions[0].Hash, 10)}
}
