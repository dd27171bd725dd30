package verify

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
)

// batchSize is how many differing keys are classified at a time (re-read, re-checked at their
// own fences): memory holds at most this many candidates, whatever the number of differences.
// A variable so that tests can use several batches on small tables.
var batchSize = 10000

// maxConfirmedKeys caps TableResult.ConfirmedKeys.
const maxConfirmedKeys = 1000

// nextBatch reads up to batchSize candidates from r (none at the end).
func nextBatch(r *report.Reader) ([]*candidate, error) {
	var out []*candidate
	for len(out) < batchSize {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, &candidate{key: e.Key, entry: *e})
	}
	return out, nil
}

// confirmer receives a table's confirmed entries as they are confirmed: it counts them, keeps
// the first maxConfirmedKeys keys, hands the keys to opts.Confirmed and writes the entries to the
// table's output (opened at the first one).
type confirmer struct {
	c       *diff.Comparer
	pr      *PairResult
	tp      tablePlan
	tr      *TableResult
	started time.Time
	opts    Options
	out     Output
	d       *report.Diff
	tally   *report.Tally
}

// add records confirmed entries.
func (w *confirmer) add(entries []report.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	keys := make([][]string, len(entries))
	for i := range entries {
		keys[i] = entries[i].Key
		if entries[i].Key == nil { // whole-row: the row hash stands for the key
			keys[i] = []string{fmt.Sprint(entries[i].Versions[0].Hash)}
		}
	}
	w.tr.Confirmed += len(entries)
	room := max(0, maxConfirmedKeys-len(w.tr.ConfirmedKeys))
	w.tr.ConfirmedKeys = append(w.tr.ConfirmedKeys, keys[:min(room, len(keys))]...)
	w.tr.ConfirmedKeysOmitted += len(keys) - min(room, len(keys))
	if w.opts.Confirmed != nil {
		w.opts.Confirmed(w.pr, w.tr.Table, keys)
	}
	if w.opts.Output == nil {
		return nil
	}
	if w.out == nil {
		out, err := w.opts.Output(w.pr, w.tp.ref)
		if err != nil {
			return err
		}
		w.out, w.d, w.tally = out, w.c.Header(w.started), report.NewTally(w.c.Nodes())
		if err := w.out.Begin(w.d); err != nil {
			return err
		}
	}
	for i := range entries {
		w.tally.Add(&entries[i])
		if err := w.out.Entry(&entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// finish ends the output (when one was opened) and names its file in the table result.
func (w *confirmer) finish() error {
	if w.out == nil {
		return nil
	}
	d := w.d
	d.FinishedAt = time.Now().UTC()
	d.Summary.RowsCompared = w.tr.RowsCompared
	d.Summary.DurationSeconds = d.FinishedAt.Sub(w.started).Seconds()
	w.tally.Fill(&d.Summary)
	d.Summary.Status = report.StatusDiffer
	if err := w.out.End(d); err != nil {
		return err
	}
	file := w.out.File()
	w.tr.DiffFile = &file
	w.out = nil
	return nil
}

// abort discards an output that was not finished.
func (w *confirmer) abort() {
	if w.out != nil {
		w.out.Abort()
		w.out = nil
	}
}
