package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/report"
)

// rowCandidate is a row hash (of a table without a key) whose copies differed at a fence.
type rowCandidate struct {
	entry  report.Entry // Versions[0] is the row, Counts the copies on [publisher, subscriber]
	stable int
}

// entryLog is a report.Sink keeping a whole-row comparison's entries in memory.
type entryLog struct{ entries []report.Entry }

func (l *entryLog) Begin(*report.Diff) error { return nil }
func (l *entryLog) End(*report.Diff) error   { return nil }
func (l *entryLog) Entry(e *report.Entry) error {
	l.entries = append(l.entries, *e)
	return nil
}

// verifyWhole verifies a table without a key as a multiset of whole rows: a full comparison at a
// fence, then, for the row hashes whose copies differed, the publisher's copies re-counted later
// and full comparisons at fresh fences, classified like keys (a row whose subscriber copies equal
// the publisher's later count agrees; one whose publisher count did not change is stable; two
// consecutive stable comparisons confirm it). A *LagError is returned as an error.
func verifyWhole(ctx context.Context, pp *pairPlan, f *fencer, tp tablePlan, c *diff.Comparer, pr *PairResult, opts Options) (TableResult, error) {
	started := time.Now().UTC()
	tr := TableResult{Table: tp.ref.String(), RowsCompared: map[string]int64{}, Rounds: 1}
	cols := make([]string, len(c.Table().Columns))
	for i, col := range c.Table().Columns {
		cols[i] = col.Name
	}
	o := diff.Options{
		Cluster: opts.Cluster, Schema: tp.ref.Schema, Table: tp.ref.Name, BlockSize: opts.BlockSize,
		Concurrency: opts.Concurrency, Where: tp.filter, Columns: cols, Tool: opts.Tool, SnapshotHook: f.hook,
	}
	compare := func() (map[int64]report.Entry, error) {
		log := &entryLog{}
		d, err := diff.Run(ctx, poolsOf(pp), o, log)
		if err != nil {
			return nil, err
		}
		if tr.FenceLSN == "" {
			tr.FenceLSN = f.last.String()
			for n, rows := range d.Summary.RowsCompared {
				tr.RowsCompared[n] = rows
			}
		}
		out := make(map[int64]report.Entry, len(log.entries))
		for _, e := range log.entries {
			out[e.Versions[0].Hash] = e
		}
		return out, nil
	}
	first, err := compare()
	if err != nil {
		return tr, err
	}
	cands := make([]*rowCandidate, 0, len(first))
	for _, e := range first {
		cands = append(cands, &rowCandidate{entry: e})
	}
	var confirmed []*rowCandidate
	for round := 1; len(cands) > 0; round++ {
		if round > 1 {
			if round > 1+opts.Rounds {
				break
			}
			tr.Rounds = round
			now, err := compare()
			if err != nil {
				return tr, err
			}
			open := cands[:0]
			for _, cd := range cands {
				if e, ok := now[cd.entry.Versions[0].Hash]; ok {
					cd.entry = e
					open = append(open, cd)
				} else {
					tr.Transient++
				}
			}
			cands = open
		}
		hashes := make([]int64, len(cands))
		for i, cd := range cands {
			hashes[i] = cd.entry.Versions[0].Hash
		}
		later, err := c.CountHashes(ctx, 0, hashes)
		if err != nil {
			return tr, err
		}
		open := cands[:0]
		for i, cd := range cands {
			pubAt, subAt := cd.entry.Counts[0], cd.entry.Counts[1]
			switch {
			case subAt == later[i]:
				tr.Transient++
				continue
			case pubAt == later[i]:
				cd.stable++
			default:
				cd.stable = 0
			}
			if cd.stable >= confirmAfter {
				confirmed = append(confirmed, cd)
			} else {
				open = append(open, cd)
			}
		}
		cands = open
	}
	tr.Unsettled = len(cands)
	tr.CoveragePct = coverage(tr.RowsCompared[pr.Publisher], len(cands))
	switch {
	case len(confirmed) > 0:
		tr.Status = StatusDiffer
		entries := make([]report.Entry, len(confirmed))
		for i, cd := range confirmed {
			entries[i] = cd.entry
		}
		w := &confirmer{c: c, pr: pr, tp: tp, tr: &tr, started: started, opts: opts}
		defer w.abort()
		if err := w.add(entries); err != nil {
			return tr, err
		}
		if err := w.finish(); err != nil {
			return tr, err
		}
	case tr.CoveragePct < opts.MinCoverage:
		tr.Status = StatusInconclusive
		tr.Message = fmt.Sprintf("%d row(s) kept changing on %s across %d fences: coverage %.4g%% is below --min-coverage %g%%", tr.Unsettled, pr.Publisher, tr.Rounds, tr.CoveragePct, opts.MinCoverage)
	default:
		tr.Status = StatusMatch
	}
	return tr, nil
}
