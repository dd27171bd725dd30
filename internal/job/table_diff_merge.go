package job

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// FinishTableDiffSplit ends a split table-diff begun at started: it streams the candidate files
// of its batches (parts, in key order), re-reads every candidate key on every node in one fresh
// snapshot per node, and writes the diff file of the keys that differ then, as RunTableDiff
// would (Out or DefaultName in output_dir, HTML report, history run). The summary's rows
// compared, ranges and differing ranges are the batches' sums.
func FinishTableDiffSplit(ctx context.Context, env *Env, o TableDiff, parts []string, started time.Time) (*DiffResult, error) {
	if len(parts) == 0 {
		return nil, fault.Input("a split table-diff needs at least one batch")
	}
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	src := &partsSource{paths: parts}
	defer src.Close()
	if err := src.open(0); err != nil {
		return nil, err
	}
	name := src.Header().Table.String()
	s := env.Settings
	rec := env.StartRun(ctx, RunInfo{Command: "table-diff", Cluster: cl.Name, Tables: []string{name}, Options: o.historyOptions(s)})
	hist := rec.Divergences(ctx, name)
	res, err := func() (*DiffResult, error) {
		pools, err := env.connectNodes(ctx, cl, o.Nodes)
		if err != nil {
			return nil, err
		}
		defer pools.Close()
		out := &DiffOutput{Path: o.Out, Dir: s.OutputDir, HTML: o.HTML}
		defer out.Abort()
		sink := &splitSummary{next: report.Tee(out, hist), src: src, started: started}
		if _, err := diff.Rerun(ctx, pools, src, o.Tool, sink); err != nil {
			return nil, err
		}
		return out.Result()
	}()
	hist.Close()
	recordDiff(ctx, rec, name, res, len(cl.Nodes), err)
	return res, err
}

// partsSource reads the candidate files of a split run one after the other as one source; it
// adds up their summaries as it reaches their ends.
type partsSource struct {
	paths []string
	i     int
	cur   *report.Reader
	first *report.Diff
	skip  bool

	rows      map[string]int64
	ranges    int
	differing int
}

func (p *partsSource) open(i int) error {
	r, err := report.OpenDiff(p.paths[i])
	if err != nil {
		return err
	}
	if p.skip {
		r.SkipValues()
	}
	p.i, p.cur = i, r
	if p.first == nil {
		p.first = r.Diff
		p.rows = map[string]int64{}
	} else if fmt.Sprint(r.Diff.Nodes) != fmt.Sprint(p.first.Nodes) || fmt.Sprint(r.Diff.Key) != fmt.Sprint(p.first.Key) {
		return fault.Input("batch file %s is not of the same comparison as %s", p.paths[i], p.paths[0])
	}
	return nil
}

// Header implements report.Source: the first batch's header.
func (p *partsSource) Header() *report.Diff { return p.first }

// SkipValues reads keys only (as report.Reader.SkipValues).
func (p *partsSource) SkipValues() {
	p.skip = true
	if p.cur != nil {
		p.cur.SkipValues()
	}
}

// Next implements report.Source.
func (p *partsSource) Next() (*report.Entry, error) {
	for {
		if p.cur == nil {
			return nil, io.EOF
		}
		e, err := p.cur.Next()
		if err != io.EOF {
			return e, err
		}
		sum := p.cur.Diff.Summary
		for n, c := range sum.RowsCompared {
			p.rows[n] += c
		}
		p.ranges += sum.Ranges
		p.differing += sum.RangesDiffering
		p.cur.Close()
		p.cur = nil
		if p.i+1 < len(p.paths) {
			if err := p.open(p.i + 1); err != nil {
				return nil, err
			}
		}
	}
}

// Close releases the file being read.
func (p *partsSource) Close() {
	if p.cur != nil {
		p.cur.Close()
	}
}

// splitSummary passes a rerun's output on, with the header and summary of the whole split run:
// its start, the rows its batches hashed, its ranges.
type splitSummary struct {
	next    report.Sink
	src     *partsSource
	started time.Time
}

func (s *splitSummary) Begin(d *report.Diff) error {
	d.StartedAt = s.started
	return s.next.Begin(d)
}

func (s *splitSummary) Entry(e *report.Entry) error { return s.next.Entry(e) }

func (s *splitSummary) End(d *report.Diff) error {
	if s.src.cur != nil {
		return fmt.Errorf("split table-diff: batch %s was not read to its end", s.src.paths[s.src.i])
	}
	d.StartedAt = s.started
	d.Summary.RowsCompared = s.src.rows
	d.Summary.Ranges, d.Summary.RangesDiffering = s.src.ranges, s.src.differing
	d.Summary.DurationSeconds = d.FinishedAt.Sub(s.started).Seconds()
	if d.Summary.RangesDiffering > 0 && d.Summary.DifferingKeys == 0 {
		d.Summary.Warnings = append(d.Summary.Warnings, fmt.Sprintf("%d ranges differed while hashed but every candidate key agrees when re-read (rows changed meanwhile)", d.Summary.RangesDiffering))
	}
	return s.next.End(d)
}
