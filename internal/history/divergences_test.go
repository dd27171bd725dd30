package history

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"
)

const tbl = "public.Orders"

// seen returns the keys as sightings on the given nodes; each key is "a,b" for a composite key.
func seen(nodes []string, keys ...Key) iter.Seq[Seen] {
	out := make([]Seen, len(keys))
	for i, k := range keys {
		out[i] = Seen{Key: k, Nodes: nodes}
	}
	return slices.Values(out)
}

// step is a test's view of a store: it starts runs at increasing times and names them.
type step struct {
	t     *testing.T
	s     *Store
	names runs
	at    time.Time
}

func newStep(t *testing.T, s *Store) *step {
	return &step{t: t, s: s, names: runs{}, at: time.Now().Add(-time.Hour).UTC()}
}

// start starts a run named name, a minute after the previous one.
func (p *step) start(name, command string) int64 {
	p.t.Helper()
	p.at = p.at.Add(time.Minute)
	id, err := p.s.StartRun(testContext(p.t, time.Minute), Start{Command: command, Cluster: "c1", Tables: []string{tbl}, StartedAt: p.at})
	if err != nil {
		p.t.Fatal(err)
	}
	p.names[id] = name
	return id
}

// diff starts a table-diff run that saw keys differing on nodes, then resolves what it did not
// see when covered. It returns the run id.
func (p *step) diff(name string, covered bool, nodes []string, keys ...Key) int64 {
	p.t.Helper()
	ctx := testContext(p.t, time.Minute)
	id := p.start(name, "table-diff")
	if n, err := p.s.RecordDivergences(ctx, id, "c1", tbl, seen(nodes, keys...)); err != nil || n != int64(len(keys)) {
		p.t.Fatalf("%s: recorded %d of %d keys: %v", name, n, len(keys), err)
	}
	if _, err := p.s.ResolveAbsent(ctx, id, "c1", tbl, covered); err != nil {
		p.t.Fatal(err)
	}
	return id
}

func (p *step) want(what string, f DivergenceFilter, want ...string) {
	p.t.Helper()
	ds, err := p.s.Divergences(testContext(p.t, time.Minute), f)
	if err != nil {
		p.t.Fatal(err)
	}
	wantLines(p.t, what, renderDivergences(ds, p.names), want)
}

func TestDivergencesAcrossRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		p := newStep(t, b.open(t))
		all := DivergenceFilter{Cluster: "c1", Table: tbl}
		both := []string{"n2", "n1"}

		p.diff("D1", true, both, Key{"1", "a"}, Key{"2", "b"})
		p.want("after D1", all,
			"1,a nodes=n1,n2 first=D1 last=D1 repair=- resolved=- by=-",
			"2,b nodes=n1,n2 first=D1 last=D1 repair=- resolved=- by=-")

		p.diff("D2", true, both, Key{"2", "b"}, Key{"3", "c"})
		p.want("after D2", all,
			"1,a nodes=n1,n2 first=D1 last=D1 repair=- resolved=D2 by=-",
			"2,b nodes=n1,n2 first=D1 last=D2 repair=- resolved=- by=-",
			"3,c nodes=n1,n2 first=D2 last=D2 repair=- resolved=- by=-")

		d3 := p.diff("D3", true, []string{"n3", "n1"}, Key{"2", "b"}, Key{"3", "c"})
		p.want("after D3", all,
			"1,a nodes=n1,n2 first=D1 last=D1 repair=- resolved=D2 by=-",
			"2,b nodes=n1,n3 first=D1 last=D3 repair=- resolved=- by=-",
			"3,c nodes=n1,n3 first=D2 last=D3 repair=- resolved=- by=-")
		p.want("open", DivergenceFilter{Open: true},
			"2,b nodes=n1,n3 first=D1 last=D3 repair=- resolved=- by=-",
			"3,c nodes=n1,n3 first=D2 last=D3 repair=- resolved=- by=-")
		p.want("other table", DivergenceFilter{Table: "public.orders"})
		p.want("other cluster", DivergenceFilter{Cluster: "c2"})

		// Times and order: newest sighting first, since and limit.
		ds, err := p.s.Divergences(testContext(t, time.Minute), DivergenceFilter{Since: p.at, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		r3, err := p.s.Run(testContext(t, time.Minute), d3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Key[0] != "3" || !ds[0].LastSeenAt.Equal(r3.StartedAt) || !ds[0].FirstSeenAt.Equal(r3.StartedAt.Add(-time.Minute)) {
			t.Errorf("since D3, limit 1: %+v", ds)
		}
		ds, err = p.s.Divergences(testContext(t, time.Minute), DivergenceFilter{Since: p.at.Add(time.Microsecond)})
		if err != nil || len(ds) != 0 {
			t.Errorf("since after D3: %v %v", ds, err)
		}
	})
}

func TestRepairResolveReopen(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, time.Minute)
		p := newStep(t, b.open(t))
		all := DivergenceFilter{Cluster: "c1", Table: tbl}
		nodes := []string{"n1", "n2"}
		k1, k2, k3 := Key{"1", `x"y`}, Key{"2", "é,ü"}, Key{"3", ""}

		p.diff("D1", true, nodes, k1, k2, k3)
		r := p.start("R", "table-repair")
		n, err := p.s.RecordRepair(ctx, r, "c1", tbl, slices.Values([]Key{k1, k2, {"9", "never seen"}}))
		if err != nil || n != 2 {
			t.Fatalf("repair marked %d: %v, want 2", n, err)
		}
		// A partial run resolves nothing, even keys it did not see; it still records what it saw.
		p.diff("P", false, nodes, k2)
		p.want("after the repair and a partial run", all,
			"1,x\"y nodes=n1,n2 first=D1 last=D1 repair=R resolved=- by=-",
			"2,é,ü nodes=n1,n2 first=D1 last=P repair=R resolved=- by=-",
			"3, nodes=n1,n2 first=D1 last=D1 repair=- resolved=- by=-")

		// A clean full run resolves all three; the repair is credited for k1 only: k2 was seen
		// differing after the repair, k3 was not repaired.
		d2 := p.diff("D2", true, nil)
		p.want("after a clean full run", all,
			"1,x\"y nodes=n1,n2 first=D1 last=D1 repair=R resolved=D2 by=R",
			"2,é,ü nodes=n1,n2 first=D1 last=P repair=R resolved=D2 by=-",
			"3, nodes=n1,n2 first=D1 last=D1 repair=- resolved=D2 by=-")
		p.want("open after a clean full run", DivergenceFilter{Open: true})
		ds, _ := p.s.Divergences(ctx, all)
		r2, _ := p.s.Run(ctx, d2)
		for _, d := range ds {
			if !d.ResolvedAt.Equal(r2.StartedAt) {
				t.Errorf("resolved at %v, want D2's start %v", d.ResolvedAt, r2.StartedAt)
			}
		}

		// A resolved key that differs again opens a new divergence; the old one stays as it was.
		p.diff("D3", true, []string{"n2"}, k1)
		p.want("after k1 differs again", all,
			"1,x\"y nodes=n1,n2 first=D1 last=D1 repair=R resolved=D2 by=R",
			"1,x\"y nodes=n2 first=D3 last=D3 repair=- resolved=- by=-",
			"2,é,ü nodes=n1,n2 first=D1 last=P repair=R resolved=D2 by=-",
			"3, nodes=n1,n2 first=D1 last=D1 repair=- resolved=D2 by=-")
		p.want("open after k1 differs again", DivergenceFilter{Open: true},
			"1,x\"y nodes=n2 first=D3 last=D3 repair=- resolved=- by=-")

		// Recording for a run that does not exist fails before writing anything.
		if _, err := p.s.RecordDivergences(ctx, 9999, "c1", tbl, seen(nodes, k1)); !errors.Is(err, ErrNoRun) {
			t.Errorf("unknown run: %v, want ErrNoRun", err)
		}
		if _, err := p.s.RecordDivergences(ctx, d2, "c1", tbl, seen(nodes, Key{"\xff"})); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("invalid key: %v, want ErrInvalidKey", err)
		}
	})
}

// manyKeys yields n keys of two columns without holding them.
func manyKeys(n int) iter.Seq[Seen] {
	nodes := []string{"n1", "n2"}
	return func(yield func(Seen) bool) {
		for i := range n {
			if !yield(Seen{Key: Key{fmt.Sprint(i), "customer-" + fmt.Sprint(i%97)}, Nodes: nodes}) {
				return
			}
		}
	}
}

// TestManyKeys records 100,000 keys in one call (10,000 on SQLite under the race detector, which
// checks Go code, not the C translated to Go that does SQLite's work), records them again from a
// second run and resolves them from a third, logging each time.
func TestManyKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := 100000
		if raceEnabled && b.name == "sqlite" {
			n = 10000
		}
		ctx := testContext(t, 10*time.Minute)
		p := newStep(t, b.open(t))
		d1 := p.start("D1", "table-diff")
		timed := func(what string, f func() (int64, error), want int) {
			t.Helper()
			began := time.Now()
			got, err := f()
			if err != nil || got != int64(want) {
				t.Fatalf("%s: %d, %v; want %d", what, got, err, want)
			}
			t.Logf("%s %s: %d keys in %v", b.name, what, n, time.Since(began).Round(time.Millisecond))
		}
		timed("record (insert)", func() (int64, error) { return p.s.RecordDivergences(ctx, d1, "c1", tbl, manyKeys(n)) }, n)
		d2 := p.start("D2", "table-diff")
		timed("record again (update)", func() (int64, error) { return p.s.RecordDivergences(ctx, d2, "c1", tbl, manyKeys(n)) }, n)
		d3 := p.start("D3", "table-diff")
		timed("resolve", func() (int64, error) { return p.s.ResolveAbsent(ctx, d3, "c1", tbl, true) }, n)

		ds, err := p.s.Divergences(ctx, DivergenceFilter{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || ds[0].FirstSeenRun != d1 || ds[0].LastSeenRun != d2 || ds[0].ResolvedRun != d3 {
			t.Errorf("divergences after resolve: %+v", ds)
		}
		open, err := p.s.Divergences(ctx, DivergenceFilter{Open: true, Limit: 1})
		if err != nil || len(open) != 0 {
			t.Errorf("open after resolve: %d, %v", len(open), err)
		}
	})
}

// TestResolveKeys: a run that re-read some keys (table-rerun) resolves those it did not see
// differing, crediting a repair made since their last sighting, and nothing else.
func TestResolveKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, time.Minute)
		p := newStep(t, b.open(t))
		all := DivergenceFilter{Cluster: "c1", Table: tbl}
		nodes := []string{"n1", "n2"}
		k1, k2, k3, k4 := Key{"1", "a"}, Key{"2", "b"}, Key{"3", "c"}, Key{"4", "d"}

		p.diff("D1", true, nodes, k1, k2, k3, k4)
		r := p.start("R", "table-repair")
		if _, err := p.s.RecordRepair(ctx, r, "c1", tbl, slices.Values([]Key{k1, k2})); err != nil {
			t.Fatal(err)
		}
		// The rerun re-reads k1, k2 and k3 and still sees k2 differing; k4 is not re-read.
		rr := p.start("RR", "table-rerun")
		if _, err := p.s.RecordDivergences(ctx, rr, "c1", tbl, seen(nodes, k2)); err != nil {
			t.Fatal(err)
		}
		n, err := p.s.ResolveKeys(ctx, rr, "c1", tbl, slices.Values([]Key{k1, k2, k3, {"9", "never seen"}}))
		if err != nil || n != 2 {
			t.Fatalf("resolved %d: %v, want 2", n, err)
		}
		p.want("after the rerun", all,
			"1,a nodes=n1,n2 first=D1 last=D1 repair=R resolved=RR by=R",
			"2,b nodes=n1,n2 first=D1 last=RR repair=R resolved=- by=-",
			"3,c nodes=n1,n2 first=D1 last=D1 repair=- resolved=RR by=-",
			"4,d nodes=n1,n2 first=D1 last=D1 repair=- resolved=- by=-")
	})
}
