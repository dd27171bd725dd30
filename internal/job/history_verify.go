package job

import (
	"context"

	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/verify"
)

// historyOptions are the options a verify run records.
func (o *Verify) historyOptions() map[string]any {
	m := map[string]any{"max_wait": o.MaxWait.String(), "min_coverage": o.MinCoverage}
	if o.Publication != "" {
		m["publication"] = o.Publication
	}
	return m
}

// verifySeen returns the verify.Options.Confirmed that records confirmed keys, as the run
// confirms them, as divergences between the pair's nodes (memory does not grow with their number).
func verifySeen(ctx context.Context, rec *Recorder) func(*verify.PairResult, string, [][]string) {
	return func(pr *verify.PairResult, table string, keys [][]string) {
		nodes := []string{pr.Publisher, pr.Subscriber}
		rec.Seen(ctx, table, func(yield func(history.Seen) bool) {
			for _, k := range keys {
				if !yield(history.Seen{Key: k, Nodes: nodes}) {
					return
				}
			}
		})
	}
}

// recordVerify records a verify run (verifySeen recorded its confirmed keys as divergences as
// they were confirmed) and, for a table every node of the cluster took part in, verified in
// full (100 % coverage at a fence, no row filter or column list cut it), the resolution of the
// table's other open divergences. Transient and unsettled keys are not divergences: they were in
// flight.
func recordVerify(ctx context.Context, rec *Recorder, res *verify.Result, clusterNodes int, err error) {
	if res == nil {
		rec.Finish(ctx, history.Result{}, err)
		return
	}
	type tableState struct {
		nodes map[string]bool
		full  bool
	}
	tables := map[string]*tableState{}
	var order []string
	var files []string
	for _, p := range res.Pairs {
		for _, t := range p.Tables {
			rec.AddTable(t.Table)
			st := tables[t.Table]
			if st == nil {
				st = &tableState{nodes: map[string]bool{}, full: true}
				tables[t.Table] = st
				order = append(order, t.Table)
			}
			st.nodes[p.Publisher], st.nodes[p.Subscriber] = true, true
			st.full = st.full && t.Status != verify.StatusInconclusive && t.CoveragePct >= 100 && !t.Restricted
			if t.DiffFile != nil {
				files = append(files, *t.DiffFile)
			}
		}
	}
	for _, name := range order {
		st := tables[name]
		rec.Resolve(ctx, name, err == nil && st.full && len(st.nodes) >= clusterNodes)
	}
	confirmed, transient, _ := res.Counts()
	out := history.Result{Status: history.Status(res.Status), DifferingKeys: int64(confirmed), TransientKeys: int64(transient)}
	if len(files) == 1 {
		out.DiffFile = absPath(files[0])
	}
	if cov, ok := res.Coverage(); ok {
		out.Coverage = &cov
	}
	rec.Finish(ctx, out, err)
}
