package repair

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Input opens the diff to repair for reading from its first entry; a repair opens it twice: to
// repair, then to verify. done releases what open took.
type Input func() (src report.Source, done func(), err error)

// FromFile reads a diff file (v2, optionally compressed, or v1), streaming.
func FromFile(path string) Input {
	return func() (report.Source, func(), error) {
		r, err := report.OpenDiff(path)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	}
}

// FromDiff reads an in-memory diff (tests, small diffs).
func FromDiff(d *report.Diff) Input {
	return func() (report.Source, func(), error) { return report.FromDiff(d), func() {}, nil }
}

// VerifyKeys is how many keys still differing after a repair its result lists.
const VerifyKeys = 100

// Repair reads the diff batch by batch, plans each batch and applies it (see apply), and unless
// it is a dry run re-reads every key of the diff on every node. Memory is bounded by a batch,
// whatever the number of keys. pools must hold every node with changes to make. It returns
// fault.ErrDiffer when every node committed but some keys still differ; the result is set
// whatever happens once the diff's header was read.
func Repair(ctx context.Context, pools cluster.Pools, in Input, o Options, ao ApplyOptions, tool string) (*Result, error) {
	src, done, err := in()
	if err != nil {
		return nil, err
	}
	defer done()
	d := src.Header()
	fail := func(res *Result, err error) (*Result, error) {
		if res == nil {
			res = newResult(&Plan{Cluster: d.Cluster, Table: d.Table, Nodes: d.Nodes, Mode: o.Mode, Source: o.Source}, ao)
		}
		res.Status, res.Error = StatusFailed, err.Error()
		return res, err
	}
	if err := o.validate(d); err != nil {
		return fail(nil, err)
	}
	lk := newLookups(pools, d)
	var warnings []string
	times := o.Mode == ModePlan && o.Rules.needsCommitTimes()
	if times {
		if warnings, err = lk.checkCommitTimes(ctx, o.Rules.Fallback != nil); err != nil {
			return fail(nil, err)
		}
	}
	var pr *preserve
	if ao.PreserveOrigin {
		if pr, err = checkPreserve(ctx, lk, d, o, ao); err != nil {
			return fail(nil, err)
		}
	}
	keys := 0
	b, next := planBatches(src, d, o, lk, times, pr, ao.batchSize(), &keys)
	res, err := apply(ctx, pools, b.head, next, ao)
	// A v2 file's summary is known once it is read to its end.
	if d.Summary.Status == report.StatusPartial {
		warnings = append(warnings, fmt.Sprintf("the diff is partial (%s): only its %d keys are repaired; "+
			"run table-diff again afterwards to find the rest", d.Summary.PartialReason, keys))
	}
	if pr != nil && pr.local > 0 {
		warnings = append(warnings, fmt.Sprintf("--preserve-origin: %d rows of source %s were committed locally (no replication origin): "+
			"without --origin their commit time is not preserved (they commit with the repair's)", pr.local, o.Source))
	}
	res.Warnings = append(warnings, res.Warnings...)
	slog.Debug("repair applied", "keys", keys, "seconds", res.DurationSeconds)
	if err != nil {
		return fail(res, err)
	}
	if ao.DryRun {
		return res, nil
	}
	start := time.Now()
	v, err := verify(ctx, pools, in, tool, keys)
	slog.Debug("repair verified", "seconds", time.Since(start).Seconds())
	if err != nil {
		if len(res.Committed()) > 0 {
			// Nodes changed: whatever the cause, this is no longer "bad input, nothing changed".
			return fail(res, fmt.Errorf("verify after the commits: %s", err))
		}
		return fail(res, fmt.Errorf("verify: %w", err))
	}
	res.Verify = v
	if !v.Agree {
		res.Status = StatusUnresolved
		return res, fault.ErrDiffer
	}
	res.Status = StatusRepaired
	return res, nil
}

// planBatches returns the builder of a repair and its batches: it reads the diff's entries a batch
// at a time (size keys, or batchBytes of values), reads what the plan needs from the nodes for
// that batch (commit times, keys outside the --where filter) and plans it. keys counts the keys
// read. Repair applies these batches; WriteSQL prints them.
func planBatches(src report.Source, d *report.Diff, o Options, lk *lookups, times bool, pr *preserve, size int, keys *int) (*builder, batches) {
	where := len(d.Key) > 0 && d.Options.Where != ""
	b := newBuilder(d, o)
	next := func(ctx context.Context) (*Plan, error) {
		batch := make([]report.Entry, 0, size)
		for bytes := 0; len(batch) < size && bytes < batchBytes; {
			e, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if !e.Transient {
				batch = append(batch, *e)
				bytes += entryBytes(e)
			}
		}
		if len(batch) == 0 {
			return nil, io.EOF
		}
		first := *keys
		*keys += len(batch)
		if times {
			t, err := lk.commitTimes(ctx, batch, first)
			if err != nil {
				return nil, err
			}
			b.o.CommitTimes = t
		}
		if where {
			outside, err := lk.outsideWhere(ctx, batch, first)
			if err != nil {
				return nil, err
			}
			b.o.OutsideWhere = outside
		}
		for i := range batch {
			if err := b.entry(first+i, &batch[i]); err != nil {
				return nil, fault.AsInput(err)
			}
		}
		p := b.take()
		if pr != nil {
			s, err := lk.stamps(ctx, o.Source, batch, first)
			if err != nil {
				return nil, err
			}
			groupChanges(p, s, pr.fallback, &pr.local)
		}
		return p, nil
	}
	return b, next
}

// entryBytes is the size of an entry's texts.
func entryBytes(e *report.Entry) int {
	n := 0
	for _, k := range e.Key {
		n += len(k)
	}
	for v := range e.Versions {
		for _, t := range e.Versions[v].Values {
			if t != nil {
				n += len(*t)
			}
		}
	}
	return n
}

// verify re-reads every key of the diff on every node (as table-rerun does), streaming, and
// counts those that still differ. When the diff's keys are many compared with the table (a
// truncated node refilled), one range pass over the whole table costs less than looking every
// key up on every node: when it finds every node equal, every key of the diff agrees (and more);
// when it finds anything, the keys are re-read one by one as usual, so that only the diff's own
// keys are counted.
func verify(ctx context.Context, pools cluster.Pools, in Input, tool string, keys int) (*Verify, error) {
	src, done, err := in()
	if err != nil {
		return nil, err
	}
	defer done()
	if d := src.Header(); keys >= rangeVerifyMinKeys && d.Options.Until == "" {
		rows, err := estimatedRows(ctx, pools, d.Table)
		if err != nil {
			return nil, err
		}
		if rows > 0 && float64(keys)*rangeVerifyShare >= rows {
			equal, err := equalByRanges(ctx, pools, d, tool)
			if err != nil {
				return nil, err
			}
			slog.Debug("repair verified by one range pass", "keys", keys, "estimated_rows", rows, "equal", equal)
			if equal {
				return &Verify{By: "ranges", Agree: true}, nil
			}
		}
	}
	s := &verifySink{}
	if _, err := diff.Rerun(ctx, pools, src, tool, s); err != nil {
		return nil, err
	}
	return &Verify{By: "keys", Agree: s.n == 0, StillDiffering: s.n, Keys: s.keys}, nil
}

// A repair of at least rangeVerifyMinKeys keys, that are at least 1/rangeVerifyShare of the
// table's estimated rows, is verified by a range pass first (see verify).
const (
	rangeVerifyMinKeys = 10000
	rangeVerifyShare   = 4
)

// estimatedRows returns the largest row estimate of the table among the nodes (0: unknown).
func estimatedRows(ctx context.Context, pools cluster.Pools, t report.TableRef) (float64, error) {
	est := 0.0
	for _, p := range pools {
		tab, err := catalog.Load(ctx, p, t.Schema, t.Name)
		if err != nil {
			return 0, &cluster.NodeError{Node: p.Node.Name, Err: fmt.Errorf("read %s: %w", t, err)}
		}
		est = max(est, tab.EstRows)
	}
	return est, nil
}

// equalByRanges compares the diff's table on every node as table-diff does (same filter,
// columns and comparison rule), stopping at the first differing key.
func equalByRanges(ctx context.Context, pools cluster.Pools, d *report.Diff, tool string) (bool, error) {
	cols := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = c.Name
	}
	res, err := diff.Run(ctx, pools, diff.Options{
		Cluster: d.Cluster, Schema: d.Table.Schema, Table: d.Table.Name,
		BlockSize: max(d.Options.BlockSize, 10), Concurrency: max(d.Options.Concurrency, 1),
		Where: d.Options.Where, Columns: cols, Strict: d.Options.Strict, Tool: tool, MaxDiffRows: 1,
	}, &report.Samples{})
	if err != nil {
		return false, err
	}
	return res.Summary.Status != report.StatusPartial && res.Summary.DifferingKeys == 0, nil
}

// verifySink counts the keys that still differ and keeps the first VerifyKeys of them.
type verifySink struct {
	d    *report.Diff
	n    int
	keys []report.Record
}

func (s *verifySink) Begin(d *report.Diff) error { s.d = d; return nil }

func (s *verifySink) Entry(e *report.Entry) error {
	if e.Transient {
		return nil
	}
	s.n++
	if len(s.keys) < VerifyKeys {
		s.keys = append(s.keys, s.d.Expand(e).Key)
	}
	return nil
}

func (s *verifySink) End(*report.Diff) error { return nil }
