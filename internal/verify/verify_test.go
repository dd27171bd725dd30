package verify

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

const runs = 10

// table returns the result of table name in pair 0 of res.
func table(t *testing.T, res *Result, name string) TableResult {
	t.Helper()
	for _, p := range res.Pairs {
		for _, tr := range p.Tables {
			if tr.Table == name {
				return tr
			}
		}
	}
	t.Fatalf("no result for %s in %+v", name, res)
	return TableResult{}
}

// A healthy subscription under a steady writer: every run matches, never inconclusive, never a
// false difference; keys caught in flight are transient.
func TestHealthyPairMatchesUnderWrites(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "acc", 20000, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc", "n1")
	sub := subscribe(t, db, "n1", "n2", "p", "")
	ps := pools(t, db)
	ctx := testContext(t)
	stop := writer(t, db, "n1", "acc", 20000, nil, nil)
	transient := 0
	for i := 0; i < runs; i++ {
		res, err := Run(ctx, ps, options())
		if err != nil {
			t.Fatal(err)
		}
		tr := table(t, res, "public.acc")
		if res.Status != StatusMatch || len(res.Pairs) != 1 || tr.Confirmed != 0 || tr.Unsettled != 0 || tr.CoveragePct != 100 || tr.DiffFile != nil {
			t.Fatalf("run %d: %+v", i+1, res)
		}
		p := res.Pairs[0]
		if p.Publisher != "n1" || p.Subscriber != "n2" || p.Subscription != sub || p.FenceLSN == "" || p.FenceLSN != tr.FenceLSN {
			t.Fatalf("run %d: pair %+v", i+1, p)
		}
		transient += tr.Transient
	}
	if n := stop(); n < 100 {
		t.Errorf("writer committed only %d transactions", n)
	}
	t.Logf("%d runs matched; %d keys were in flight (transient) across them", runs, transient)
}

// Divergence made on the subscriber with replication triggers off (a deleted row the writer
// keeps updating on the publisher, an updated row, a row only the subscriber has): exactly those
// three keys are confirmed in every run, with their current rows.
func TestSubscriberDivergenceConfirmedUnderWrites(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "acc", 20000, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc", "n1")
	subscribe(t, db, "n1", "n2", "p", "")
	db.Exec(t, `SET session_replication_role = replica;
		DELETE FROM public.acc WHERE id = 10;
		UPDATE public.acc SET note = 'changed on n2' WHERE id = 20;
		INSERT INTO public.acc VALUES (999999, 7, 'only on n2')`, "n2")
	ps := pools(t, db)
	ctx := testContext(t)
	// The writer never touches 20 (an UPDATE would heal it) and keeps updating 10, which the
	// subscriber silently cannot apply.
	stop := writer(t, db, "n1", "acc", 20000, []int{20}, []int{10})
	for i := 0; i < runs; i++ {
		outs := map[string]*memOutput{}
		res, err := Run(ctx, ps, collect(options(), outs))
		if err != nil {
			t.Fatal(err)
		}
		tr := table(t, res, "public.acc")
		if res.Status != StatusDiffer || tr.Status != StatusDiffer || tr.Confirmed != 3 || tr.Unsettled != 0 || tr.DiffFile == nil {
			t.Fatalf("run %d: %+v", i+1, tr)
		}
		var keys []string
		for _, k := range tr.ConfirmedKeys {
			keys = append(keys, strings.Join(k, ","))
		}
		sort.Strings(keys)
		if want := []string{"10", "20", "999999"}; !reflect.DeepEqual(keys, want) {
			t.Fatalf("run %d: confirmed %v, want %v", i+1, keys, want)
		}
		d := outs["n1->n2 public.acc"].Diff
		if d == nil || len(d.Rows) != 3 || !reflect.DeepEqual(d.Nodes, []string{"n1", "n2"}) || d.Summary.DifferingKeys != 3 ||
			d.Summary.MissingOn["n2"] != 1 || d.Summary.MissingOn["n1"] != 1 {
			t.Fatalf("run %d: diff %+v", i+1, d)
		}
		for _, r := range d.Rows {
			id, _ := r.Key.Get("id")
			note := func(node string) any {
				if r.Values[node] == nil {
					return nil
				}
				v, _ := r.Values[node].Get("note")
				return v
			}
			switch fmt.Sprint(id) {
			case "10":
				if r.Values["n2"] != nil || r.Values["n1"] == nil {
					t.Errorf("run %d: key 10 %+v", i+1, r.Values)
				}
			case "20":
				if note("n1") != "row 20" || note("n2") != "changed on n2" {
					t.Errorf("run %d: key 20 %v / %v", i+1, note("n1"), note("n2"))
				}
			case "999999":
				if r.Values["n1"] != nil || note("n2") != "only on n2" {
					t.Errorf("run %d: key 999999 %+v", i+1, r.Values)
				}
			}
		}
	}
	stop()
}

// A disabled subscription while writes continue: inconclusive, no difference claimed, the
// message names the pair and its lag; enabled again: a match.
func TestDisabledSubscriptionIsInconclusive(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "acc", 20000, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc", "n1")
	sub := subscribe(t, db, "n1", "n2", "p", "")
	ps := pools(t, db)
	ctx := testContext(t)
	stop := writer(t, db, "n1", "acc", 20000, nil, nil)
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	waitFor(t, db, "n2", "apply worker gone", "SELECT count(*) = 0 FROM pg_catalog.pg_stat_subscription WHERE subname = '"+sub+"' AND pid IS NOT NULL")
	waitFor(t, db, "n1", "writes the subscriber misses", "SELECT count(*) > 100 FROM public.acc WHERE id > 1000000")
	res, err := Run(ctx, ps, options())
	if err != nil {
		t.Fatal(err)
	}
	tr := table(t, res, "public.acc")
	p := res.Pairs[0]
	if res.Status != StatusInconclusive || p.Status != StatusInconclusive || tr.Status != StatusInconclusive ||
		tr.Confirmed != 0 || tr.Transient != 0 || tr.Unsettled != 0 || tr.CoveragePct != 0 || tr.DiffFile != nil || p.LagBytes <= 0 {
		t.Fatalf("disabled: %+v", res)
	}
	for _, want := range []string{"n1 -> n2 (subscription " + sub + ")", fmt.Sprintf("%d bytes behind fence %s", p.LagBytes, p.FenceLSN), "the subscription is disabled"} {
		if !strings.Contains(p.Message, want) || !strings.Contains(tr.Message, want) {
			t.Errorf("message %q / %q lacks %q", p.Message, tr.Message, want)
		}
	}
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" ENABLE", "n2")
	res, err = Run(ctx, ps, options())
	if err != nil {
		t.Fatal(err)
	}
	if tr := table(t, res, "public.acc"); res.Status != StatusMatch || tr.Confirmed != 0 {
		t.Fatalf("enabled again: %+v", res)
	}
	stop()
}

// A table added to the publication but not to the subscription (no REFRESH PUBLICATION) is
// reported, not hidden; the other table is verified.
func TestUnrefreshedTableIsReported(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "acc", 500, "n1")
	accounts(t, db, "extra", 50, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc", "n1")
	sub := subscribe(t, db, "n1", "n2", "p", "")
	db.Exec(t, "ALTER PUBLICATION p ADD TABLE public.extra", "n1")
	ps := pools(t, db)
	res, err := Run(testContext(t), ps, options())
	if err != nil {
		t.Fatal(err)
	}
	if acc := table(t, res, "public.acc"); acc.Status != StatusMatch {
		t.Errorf("public.acc: %+v", acc)
	}
	extra := table(t, res, "public.extra")
	want := "table public.extra is published to subscription " + sub + " on n1 but the subscription does not hold it: run ALTER SUBSCRIPTION " + sub + " REFRESH PUBLICATION on n2"
	if res.Status != StatusInconclusive || extra.Status != StatusInconclusive || extra.Message != want || extra.CoveragePct != 0 {
		t.Errorf("public.extra: %+v (run %s)", extra, res.Status)
	}
}

// Two tables replicated in opposite directions (a loop-free bidirectional pair on PostgreSQL 15):
// both directions are verified, and a divergence on n1 of the table n2 publishes is confirmed
// on the pair n2 -> n1.
func TestBidirectionalPairsBothDirections(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "a", 5000, "n1")
	accounts(t, db, "b", 5000, "n2")
	db.Exec(t, "CREATE PUBLICATION pa FOR TABLE public.a", "n1")
	db.Exec(t, "CREATE PUBLICATION pb FOR TABLE public.b", "n2")
	subscribe(t, db, "n1", "n2", "pa", "")
	subscribe(t, db, "n2", "n1", "pb", "")
	db.Exec(t, "SET session_replication_role = replica; DELETE FROM public.b WHERE id = 7", "n1")
	ps := pools(t, db)
	ctx := testContext(t)
	stopA := writer(t, db, "n1", "a", 5000, nil, nil)
	stopB := writer(t, db, "n2", "b", 5000, []int{7}, nil)
	res, err := Run(ctx, ps, options())
	stopA()
	stopB()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Pairs {
		for _, tr := range p.Tables {
			got = append(got, fmt.Sprintf("%s->%s %s %s %d %v", p.Publisher, p.Subscriber, tr.Table, tr.Status, tr.Confirmed, tr.ConfirmedKeys))
		}
	}
	sort.Strings(got)
	want := []string{"n1->n2 public.a match 0 []", "n2->n1 public.b differ 1 [[7]]"}
	if res.Status != StatusDiffer || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Tables and publications that no pair replicates, and coverage out of range, are input errors.
func TestBadInput(t *testing.T) {
	db := sandbox.NewDB(t)
	accounts(t, db, "acc", 10, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc", "n1")
	subscribe(t, db, "n1", "n2", "p", "")
	ps := pools(t, db)
	ctx := testContext(t)
	for _, c := range []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"unknown table", func(o *Options) { o.Tables = []report.TableRef{{Schema: "public", Name: "nope"}} }, "table public.nope is not replicated"},
		{"unknown publication", func(o *Options) { o.Publication = "nope" }, "no subscription of publication nope"},
		{"coverage", func(o *Options) { o.MinCoverage = 101 }, "--min-coverage must be between 0 and 100"},
	} {
		o := options()
		c.opts(&o)
		_, err := Run(ctx, ps, o)
		if !fault.IsInput(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	var ie *fault.InputError
	if _, err := Run(ctx, ps[:1], options()); !errors.As(err, &ie) || !strings.Contains(err.Error(), "no publisher -> subscriber pair") {
		t.Errorf("one node: %v", err)
	}
}

// A publication with a column list and a row filter: only the published columns of the
// published rows are compared (the subscriber's table lacks the unpublished column), and a
// difference inside them is still confirmed.
func TestColumnListAndRowFilter(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE TABLE public.acc (id int PRIMARY KEY, bal int NOT NULL, note text); INSERT INTO public.acc SELECT g, g, 'secret' FROM generate_series(1, 400) g", "n1")
	db.Exec(t, "CREATE TABLE public.acc (id int PRIMARY KEY, bal int NOT NULL)", "n2")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.acc (id, bal) WHERE (id <= 300)", "n1")
	subscribe(t, db, "n1", "n2", "p", "")
	ps := pools(t, db)
	ctx := testContext(t)
	res, err := Run(ctx, ps, options())
	if err != nil {
		t.Fatal(err)
	}
	tr := table(t, res, "public.acc")
	if res.Status != StatusMatch || tr.RowsCompared["n1"] != 300 || tr.RowsCompared["n2"] != 300 {
		t.Fatalf("published part: %+v", tr)
	}
	db.Exec(t, "SET session_replication_role = replica; UPDATE public.acc SET bal = -1 WHERE id = 5", "n2")
	outs := map[string]*memOutput{}
	res, err = Run(ctx, ps, collect(options(), outs))
	if err != nil {
		t.Fatal(err)
	}
	tr = table(t, res, "public.acc")
	d := outs["n1->n2 public.acc"].Diff
	if tr.Confirmed != 1 || !reflect.DeepEqual(tr.ConfirmedKeys, [][]string{{"5"}}) || d == nil || len(d.Columns) != 2 {
		t.Fatalf("drift in a published column: %+v, diff %+v", tr, d)
	}
}

// A table without a key (pgbench_history-like, insert-only) is verified as a multiset of rows at
// the fences: inserts in flight agree, a row deleted on the subscriber and a row only the
// subscriber has are confirmed.
func TestKeylessTableUnderInserts(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE TABLE public.hist (aid int NOT NULL, delta int NOT NULL, note text)")
	db.Exec(t, "INSERT INTO public.hist SELECT g, g % 7, 'row ' || g FROM generate_series(1, 500) g; CREATE PUBLICATION p FOR TABLE public.hist WITH (publish = 'insert')", "n1")
	subscribe(t, db, "n1", "n2", "p", "")
	ps := pools(t, db)
	ctx := testContext(t)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	conn := db.Connect(t, "n1")
	go func() {
		for i := 0; ; i++ {
			if _, err := conn.Exec(wctx, "INSERT INTO public.hist VALUES ($1, 1, 'new')", 1000+i); err != nil {
				done <- wctx.Err()
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		res, err := Run(ctx, ps, options())
		if err != nil {
			t.Fatal(err)
		}
		if tr := table(t, res, "public.hist"); res.Status != StatusMatch || tr.Confirmed != 0 || tr.Unsettled != 0 || tr.CoveragePct != 100 {
			t.Fatalf("run %d: %+v", i+1, tr)
		}
	}
	db.Exec(t, "SET session_replication_role = replica; DELETE FROM public.hist WHERE aid = 7; INSERT INTO public.hist VALUES (-1, 0, 'only on n2')", "n2")
	outs := map[string]*memOutput{}
	res, err := Run(ctx, ps, collect(options(), outs))
	stop()
	if werr := <-done; werr == nil {
		t.Fatal("writer stopped early")
	}
	if err != nil {
		t.Fatal(err)
	}
	tr := table(t, res, "public.hist")
	d := outs["n1->n2 public.hist"].Diff
	if res.Status != StatusDiffer || tr.Confirmed != 2 || d == nil || len(d.Rows) != 2 || d.Summary.MissingOn["n1"] != 1 || d.Summary.MissingOn["n2"] != 1 {
		t.Fatalf("divergence: %+v, diff %+v", tr, d)
	}
}
