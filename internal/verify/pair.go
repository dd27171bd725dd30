package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/topology"
)

// verifyPair verifies the tables of one pair in turn. A subscriber that does not apply a fence in
// time makes the table being compared, and every later one, inconclusive (without waiting again).
func verifyPair(ctx context.Context, pp pairPlan, opts Options) (*PairResult, error) {
	s := pp.pair.Subscription
	pr := &PairResult{Publisher: pp.pub.Node.Name, Subscriber: pp.sub.Node.Name, Subscription: s.Name, Tables: []TableResult{}}
	var notes []string
	if len(pp.missingPubs) > 0 {
		notes = append(notes, fmt.Sprintf("publication(s) %s of the subscription do not exist on %s", strings.Join(pp.missingPubs, ", "), pr.Publisher))
	}
	f := newFencer(pp.pub, pp.sub, s.Name, s.Slot, opts.MaxWait)
	var lagged *LagError
	var fence topology.LSN
	for _, tp := range pp.tables {
		if lagged != nil {
			pr.Tables = append(pr.Tables, inconclusive(tp, "not compared: "+lagText(pr, lagged)))
			continue
		}
		tr, err := verifyTable(ctx, &pp, f, tp, pr, opts)
		if le, ok := asLag(err); ok {
			lagged = le
			pr.Tables = append(pr.Tables, inconclusive(tp, lagText(pr, le)))
			continue
		}
		if err != nil {
			return nil, err
		}
		if n := f.newErrors(); n > 0 && tr.Status == StatusMatch {
			tr.Status = StatusInconclusive
			tr.Message = fmt.Sprintf("the subscription reported %d new apply or sync error(s) during verification (see the server log of %s)", n, pr.Subscriber)
		}
		if tr.FenceLSN != "" {
			if l, err := topology.ParseLSN(tr.FenceLSN); err == nil && l > fence {
				fence = l
			}
		}
		pr.LagBytes = max(pr.LagBytes, f.lagAtIt)
		pr.Tables = append(pr.Tables, tr)
	}
	if fence > 0 {
		pr.FenceLSN = fence.String()
	}
	if lagged != nil {
		pr.Status = StatusInconclusive
		pr.FenceLSN = lagged.Fence.String()
		pr.LagBytes, pr.LagSeconds = lagged.LagBytes, lagged.Waited.Seconds()
		notes = append(notes, lagText(pr, lagged))
	}
	pr.Message = strings.Join(notes, "; ")
	return pr, nil
}

// lagText says which pair is behind, by how much and why.
func lagText(pr *PairResult, le *LagError) string {
	behind := ""
	if le.Waited >= 100*time.Millisecond {
		behind = fmt.Sprintf(", at least %s behind", le.Waited.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s: the subscriber is %d bytes behind fence %s (applied up to %s)%s: %s",
		describePair(pr), le.LagBytes, le.Fence, le.Applied, behind, le.Reason)
}

func inconclusive(tp tablePlan, msg string) TableResult {
	return TableResult{Table: tp.ref.String(), Status: StatusInconclusive, RowsCompared: map[string]int64{}, Message: msg}
}

// poolsOf returns the pools of a pair in comparison order: publisher first, so that its
// snapshot and fence come before the subscriber's snapshot.
func poolsOf(pp *pairPlan) cluster.Pools { return cluster.Pools{pp.pub, pp.sub} }
