package verify

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/topology"
)

// tablePlan is one table a subscription should replicate, as its publications publish it.
type tablePlan struct {
	ref     report.TableRef
	columns []string // published columns (every column when no column list)
	filter  string   // row filter ("" = none)
	// state is the subscriber's sync state (pg_subscription_rel); "" when the subscription does
	// not hold the table (its publication gained it after the last REFRESH PUBLICATION).
	state string
}

// pairPlan is one pair with the tables to verify.
type pairPlan struct {
	pair   topology.Pair
	pub    *cluster.Pool
	sub    *cluster.Pool
	tables []tablePlan
	// missingPubs are publications of the subscription that the publisher does not have.
	missingPubs []string
}

// Run verifies every publisher -> subscriber pair among pools (or those of opts.Publication),
// table by table, and returns a verdict per pair and table. Input problems (a named table or
// publication that no pair replicates, bad options) are fault input errors; a node failure is a
// *cluster.NodeError. A subscriber behind or broken is not an error: its tables are inconclusive.
func Run(ctx context.Context, pools cluster.Pools, opts Options) (*Result, error) {
	if opts.MinCoverage < 0 || opts.MinCoverage > 100 {
		return nil, fault.Input("--min-coverage must be between 0 and 100, got %g", opts.MinCoverage)
	}
	if opts.MaxWait <= 0 {
		return nil, fault.Input("--max-wait must be positive, got %s", opts.MaxWait)
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 5
	}
	res := &Result{Cluster: opts.Cluster, StartedAt: time.Now().UTC(), Pairs: []PairResult{}}
	plans, err := plan(ctx, pools, opts)
	if err != nil {
		return nil, err
	}
	for _, pp := range plans {
		pr, err := verifyPair(ctx, pp, opts)
		if err != nil {
			return nil, err
		}
		res.Pairs = append(res.Pairs, *pr)
	}
	res.settle()
	res.FinishedAt = time.Now().UTC()
	return res, nil
}

// plan reads every node's replication state and lists the pairs and tables to verify.
func plan(ctx context.Context, pools cluster.Pools, opts Options) ([]pairPlan, error) {
	states := make([]*topology.Node, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			n, err := topology.Read(gctx, p)
			if err != nil {
				return &cluster.NodeError{Node: p.Node.Name, Err: err}
			}
			states[i] = n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	eps := make([]topology.Endpoint, len(pools))
	for i, p := range pools {
		eps[i] = topology.Endpoint{Name: p.Node.Name, Params: p.Node.Params}
	}
	var out []pairPlan
	for _, pr := range topology.Pairs(eps, states) {
		s := pr.Subscription
		if opts.Publication != "" && !slices.Contains(s.Publications, opts.Publication) {
			continue
		}
		pp := pairPlan{pair: pr, pub: pools[pr.Publisher], sub: pools[pr.Subscriber]}
		pp.tables, pp.missingPubs = subscribedTables(states[pr.Publisher], s, opts.Publication)
		out = append(out, pp)
	}
	if len(out) == 0 {
		if opts.Publication != "" {
			return nil, fault.Input("no subscription of publication %s streams from one node of the cluster to another", opts.Publication)
		}
		return nil, fault.Input("no publisher -> subscriber pair among the nodes %s: no subscription connects to another node of the cluster", strings.Join(pools.Names(), ", "))
	}
	if len(opts.Tables) > 0 {
		found := map[report.TableRef]bool{}
		for i := range out {
			out[i].tables = slices.DeleteFunc(out[i].tables, func(t tablePlan) bool {
				keep := slices.Contains(opts.Tables, t.ref)
				found[t.ref] = found[t.ref] || keep
				return !keep
			})
		}
		for _, t := range opts.Tables {
			if !found[t] {
				return nil, fault.Input("table %s is not replicated between nodes of the cluster (in no publication a subscription of another node streams)", t)
			}
		}
		out = slices.DeleteFunc(out, func(p pairPlan) bool { return len(p.tables) == 0 })
	}
	return out, nil
}

// subscribedTables lists the tables subscription s should hold: the members of its publications
// on the publisher (only publication only, when given), with their column lists and row filters
// combined as PostgreSQL does (filters OR-ed, none when one publication has none), and their
// sync state on the subscriber.
func subscribedTables(pub *topology.Node, s *topology.Subscription, only string) ([]tablePlan, []string) {
	byRef := map[report.TableRef]*tablePlan{}
	var order []report.TableRef
	filters := map[report.TableRef][]string{}
	unfiltered := map[report.TableRef]bool{}
	var missing []string
	for _, name := range s.Publications {
		if only != "" && name != only {
			continue
		}
		i := slices.IndexFunc(pub.Publications, func(p topology.Publication) bool { return p.Name == name })
		if i < 0 {
			missing = append(missing, name)
			continue
		}
		for _, m := range pub.Publications[i].Tables {
			ref := report.TableRef{Schema: m.Schema, Name: m.Name}
			tp := byRef[ref]
			if tp == nil {
				tp = &tablePlan{ref: ref, state: s.Tables[ref.String()]}
				byRef[ref] = tp
				order = append(order, ref)
			}
			for _, c := range m.Columns {
				if !slices.Contains(tp.columns, c) {
					tp.columns = append(tp.columns, c)
				}
			}
			if m.RowFilter == "" {
				unfiltered[ref] = true
			} else {
				filters[ref] = append(filters[ref], m.RowFilter)
			}
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].String() < order[j].String() })
	out := make([]tablePlan, 0, len(order))
	for _, ref := range order {
		tp := byRef[ref]
		if !unfiltered[ref] && len(filters[ref]) > 0 {
			tp.filter = "(" + strings.Join(filters[ref], ") OR (") + ")"
		}
		out = append(out, *tp)
	}
	return out, missing
}

// describePair names a pair for messages: "n1 -> n2 (subscription s)".
func describePair(pr *PairResult) string {
	return fmt.Sprintf("%s -> %s (subscription %s)", pr.Publisher, pr.Subscriber, pr.Subscription)
}
