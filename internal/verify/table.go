package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// candidate is a key that differed at a fence and is being classified.
type candidate struct {
	key   diff.Key
	entry report.Entry // as the latest fenced comparison saw it
	// stable counts the consecutive fenced comparisons in which the key differed while the
	// publisher row did not change between the publisher's snapshot and a later re-read.
	stable int
}

// confirmAfter is how many consecutive stable comparisons confirm a difference: two, so that a
// subscriber snapshot that missed the very commit that moved the origin past the fence (the
// origin advances an instant before the commit becomes visible) never confirms anything.
const confirmAfter = 2

// verifyTable compares one table of a pair: a range pass at a fence, then rounds of re-checks
// of the differing keys at fresh fences until each is confirmed, transient or (after
// opts.Rounds rounds) unsettled. A *LagError is returned as an error.
func verifyTable(ctx context.Context, pp *pairPlan, f *fencer, tp tablePlan, pr *PairResult, opts Options) (TableResult, error) {
	restricted := false
	tr, err := compareTable(ctx, pp, f, tp, pr, opts, &restricted)
	tr.Restricted = restricted
	return tr, err
}

// compareTable is verifyTable; it sets restricted when only the published part of the table is
// compared (a row filter, or a column list that leaves compared columns out).
func compareTable(ctx context.Context, pp *pairPlan, f *fencer, tp tablePlan, pr *PairResult, opts Options, restricted *bool) (TableResult, error) {
	started := time.Now().UTC()
	switch {
	case tp.state == "":
		return inconclusive(tp, fmt.Sprintf("table %s is published to subscription %s on %s but the subscription does not hold it: run ALTER SUBSCRIPTION %s REFRESH PUBLICATION on %s",
			tp.ref, pr.Subscription, pr.Publisher, pr.Subscription, pr.Subscriber)), nil
	case tp.state != "r":
		return inconclusive(tp, fmt.Sprintf("table %s is not synchronised yet on %s (pg_subscription_rel state %s)", tp.ref, pr.Subscriber, tp.state)), nil
	}
	c, columnsCut, err := prepare(ctx, pp, tp, opts)
	*restricted = tp.filter != "" || columnsCut
	if fault.IsInput(err) {
		return inconclusive(tp, "cannot compare: "+err.Error()), nil
	}
	if err != nil {
		return TableResult{}, err
	}
	if c.Table().Table.KeyKind == catalog.KeyNone {
		return verifyWhole(ctx, pp, f, tp, c, pr, opts)
	}
	tr := TableResult{Table: tp.ref.String(), RowsCompared: map[string]int64{}, Rounds: 1}
	sp, err := report.NewSpool("pgparity-verify-", c.Header(started))
	if err != nil {
		return tr, err
	}
	defer sp.Close()
	if _, err := c.Open(ctx, opts.Concurrency, f.hook); err != nil {
		return tr, err
	}
	tr.FenceLSN = f.last.String()
	rows, err := scan(ctx, c, sp)
	c.Close(ctx)
	if err != nil {
		return tr, err
	}
	for i, n := range c.Nodes() {
		tr.RowsCompared[n] = rows[i]
	}
	r, err := sp.Open()
	if err != nil {
		return tr, err
	}
	defer r.Close()
	w := &confirmer{c: c, pr: pr, tp: tp, tr: &tr, started: started, opts: opts}
	defer w.abort()
	for {
		cands, err := nextBatch(r)
		if err != nil {
			return tr, err
		}
		if len(cands) == 0 {
			break
		}
		if err := classify(ctx, c, f, cands, &tr, opts, w); err != nil {
			return tr, err
		}
	}
	tr.CoveragePct = coverage(rows[0], tr.Unsettled)
	switch {
	case tr.Confirmed > 0:
		tr.Status = StatusDiffer
		if err := w.finish(); err != nil {
			return tr, err
		}
	case tr.CoveragePct < opts.MinCoverage:
		tr.Status = StatusInconclusive
		tr.Message = fmt.Sprintf("%d key(s) kept changing on %s across %d fences: coverage %.4g%% is below --min-coverage %g%%", tr.Unsettled, pr.Publisher, tr.Rounds, tr.CoveragePct, opts.MinCoverage)
	default:
		tr.Status = StatusMatch
	}
	return tr, nil
}

// classify settles one batch of candidates: their publisher rows re-read, then rounds of
// re-checks at fresh fences until each is confirmed (handed to w), transient or (after
// opts.Rounds rounds) unsettled. It adds to tr's counts and raises tr.Rounds to the rounds used.
func classify(ctx context.Context, c *diff.Comparer, f *fencer, cands []*candidate, tr *TableResult, opts Options, w *confirmer) error {
	var err error
	for round := 1; len(cands) > 0; round++ {
		var later []*int64
		if round == 1 {
			if later, err = c.ReadHashes(ctx, 0, keysOf(cands)); err != nil {
				return err
			}
		} else {
			if round > 1+opts.Rounds {
				break
			}
			tr.Rounds = max(tr.Rounds, round)
			var agreed int
			if cands, later, agreed, err = recheck(ctx, c, f, cands); err != nil {
				return err
			}
			tr.Transient += agreed
		}
		var done []*candidate
		var agreed int
		cands, done, agreed = settle(cands, later)
		tr.Transient += agreed
		entries := make([]report.Entry, len(done))
		for i, cd := range done {
			entries[i] = cd.entry
		}
		if err := w.add(entries); err != nil {
			return err
		}
	}
	tr.Unsettled += len(cands)
	return nil
}

// prepare readies the comparison of a table over [publisher, subscriber], restricted to the
// published columns when the publication has a column list (the subscriber may lack the others),
// and to its row filter.
func prepare(ctx context.Context, pp *pairPlan, tp tablePlan, opts Options) (c *diff.Comparer, columnsCut bool, err error) {
	o := diff.Options{
		Cluster: opts.Cluster, Schema: tp.ref.Schema, Table: tp.ref.Name, BlockSize: opts.BlockSize,
		Concurrency: opts.Concurrency, Where: tp.filter, Tool: opts.Tool,
	}
	c, err = diff.Prepare(ctx, poolsOf(pp), o)
	switch {
	case len(tp.columns) == 0:
		return c, false, err
	case err == nil && len(tp.columns) >= len(c.Table().Columns):
		return c, false, nil // every compared column is published
	case err != nil && !fault.IsInput(err):
		return nil, false, err
	}
	o.Columns = tp.columns
	c, err = diff.Prepare(ctx, poolsOf(pp), o)
	return c, true, err
}

// coverage is the percentage of total rows verified when unsettled keys were not.
func coverage(total int64, unsettled int) float64 {
	if unsettled == 0 {
		return 100
	}
	if total <= int64(unsettled) {
		return 0
	}
	return 100 * float64(total-int64(unsettled)) / float64(total)
}

// scan is the range pass in the open snapshots: every range hashed on both nodes, differing
// sub-ranges drilled into. The differing keys' entries go to sp; it returns the rows read per
// node.
func scan(ctx context.Context, c *diff.Comparer, sp *report.Spool) ([]int64, error) {
	ranges, err := c.PlanRanges(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]int64, len(c.Nodes()))
	var mu sync.Mutex
	work := make(chan diff.Range)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, r := range ranges {
			select {
			case work <- r:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	for w := 0; w < c.Workers(); w++ {
		g.Go(func() error {
			for r := range work {
				sums, err := c.HashRange(gctx, w, r)
				if err != nil {
					return err
				}
				var found []report.Entry
				for _, sub := range diff.DifferingSubs(sums, len(r.Subs)) {
					entries, err := c.DrillDown(gctx, w, r, sums, sub)
					if err != nil {
						return err
					}
					found = append(found, entries...)
				}
				mu.Lock()
				for i, s := range sums {
					for _, rs := range s {
						rows[i] += rs.Count
					}
				}
				mu.Unlock()
				for i := range found {
					if err := sp.Entry(&found[i]); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return rows, g.Wait()
}

// recheck compares the candidates' keys again at a fresh fence, and re-reads them on the
// publisher right after the subscriber's snapshot is taken (the shortest window in which an
// in-flight key can change again). It returns the candidates that still differ (their entries
// updated) with their re-read publisher rows, and how many agree now (transient: in flight).
func recheck(ctx context.Context, c *diff.Comparer, f *fencer, cands []*candidate) ([]*candidate, []*int64, int, error) {
	if _, err := c.Open(ctx, 1, f.hook); err != nil {
		return nil, nil, 0, err
	}
	defer c.Close(ctx)
	keys := keysOf(cands)
	later, err := c.ReadHashes(ctx, 0, keys)
	if err != nil {
		return nil, nil, 0, err
	}
	entries, err := c.FetchEntries(ctx, 0, keys)
	if err != nil {
		return nil, nil, 0, err
	}
	now := make(map[string]report.Entry, len(entries))
	for _, e := range entries {
		now[keyID(e.Key)] = e
	}
	out, outLater := cands[:0], later[:0]
	for i, cd := range cands {
		e, ok := now[keyID(cd.key)]
		if !ok {
			continue
		}
		cd.entry = e
		out, outLater = append(out, cd), append(outLater, later[i])
	}
	return out, outLater, len(cands) - len(out), nil
}

func keysOf(cands []*candidate) []diff.Key {
	keys := make([]diff.Key, len(cands))
	for i, cd := range cands {
		keys[i] = cd.key
	}
	return keys
}

// settle classifies the candidates by their publisher rows re-read (later) after the snapshots
// they were compared in. A key whose subscriber row equals the publisher's later row was in flight (the subscriber
// had applied commits past the publisher's snapshot): it agrees, at that later point. Otherwise
// the comparison is stable when the publisher row did not change in between, or when the
// subscriber lacked a row the publisher held at both reads (an UPDATE of a row the subscriber
// lacks is skipped by the apply worker: such a row stays missing whatever the publisher does to
// it). It returns the candidates still open, those now confirmed, and how many agreed.
func settle(cands []*candidate, later []*int64) (open, confirmed []*candidate, agreed int) {
	for i, cd := range cands {
		pubAt := versionHash(&cd.entry, 0)
		subAt := versionHash(&cd.entry, 1)
		if sameRow(subAt, later[i]) {
			agreed++
			continue
		}
		unchanged := sameRow(pubAt, later[i])
		lostRow := subAt == nil && pubAt != nil && later[i] != nil
		if unchanged || lostRow {
			cd.stable++
		} else {
			cd.stable = 0
		}
		if cd.stable >= confirmAfter {
			confirmed = append(confirmed, cd)
		} else {
			open = append(open, cd)
		}
	}
	return open, confirmed, agreed
}

// sameRow reports whether two row hashes (nil: no row) are the same row.
func sameRow(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// versionHash returns the row hash node holds in e, nil when it lacks the row.
func versionHash(e *report.Entry, node int) *int64 {
	v := e.VersionOf(node)
	if v < 0 {
		return nil
	}
	return &e.Versions[v].Hash
}

func keyID(k []string) string { return strings.Join(k, "\x00") }
