package schema

import (
	"reflect"
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestPublicationPublisherSubscriber(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY, v text);
		CREATE TABLE public.b (id int PRIMARY KEY, v text, secret text);
		CREATE TABLE public.c (id int PRIMARY KEY)`)
	db.Exec(t, `INSERT INTO public.a SELECT g, 'a' || g FROM generate_series(1, 30) g;
		INSERT INTO public.b SELECT g, 'b' || g, 'x' FROM generate_series(1, 30) g;
		INSERT INTO public.c SELECT g FROM generate_series(1, 3) g;
		CREATE PUBLICATION p FOR TABLE public.a, public.b (id, v) WHERE (id > 10)`, "n1")
	sub := subscribe(t, db, "n2", "p", "")
	// Left out of the subscriber's copy: added to the publication, never refreshed on n2.
	db.Exec(t, `ALTER PUBLICATION p ADD TABLE public.c`, "n1")
	db.Exec(t, `DELETE FROM public.a WHERE id = 17`, "n2")
	pools := connect(t, db, 4, "n1", "n2")

	sinks := newSinkLog()
	o := dataOptions()
	o.Sink = sinks.sink
	res, err := Publication(testContext(t), pools, PublicationOptions{Publication: "p", Data: o})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"n1": "publisher", "n2": "subscriber (" + sub + ")"}; !reflect.DeepEqual(res.Roles, want) {
		t.Errorf("roles %v", res.Roles)
	}
	var defs []string
	for _, d := range res.Definition {
		defs = append(defs, d.Describe(res.Nodes))
	}
	if want := []string{"table public.c: only on n1 (published), not on n2"}; !reflect.DeepEqual(defs, want) {
		t.Errorf("definition:\n got %q\nwant %q", defs, want)
	}
	type row struct {
		name, status, data string
		rows               int
		where              string
		columns            []string
	}
	var got []row
	for _, tb := range res.Tables {
		r := row{name: tb.Name, status: tb.Status, data: tb.Data.Status, rows: tb.Data.DifferingRows}
		if tb.Data.Diff != nil {
			r.where = tb.Data.Diff.Options.Where
			for _, c := range tb.Data.Diff.Columns {
				r.columns = append(r.columns, c.Name)
			}
		}
		got = append(got, r)
	}
	want := []row{
		{"public.a", StatusDiffer, StatusDiffer, 1, "", []string{"id", "v"}},
		{"public.b", StatusIdentical, StatusIdentical, 0, "(id > 10)", []string{"id", "v"}},
		{"public.c", StatusDiffer, StatusDiffer, 3, "", []string{"id"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables:\n got %+v\nwant %+v", got, want)
	}
	// The rows of public.a went to its sink; the result keeps its summary.
	if a, rows := res.Tables[0].Data.Diff, sinks.diff("public", "a"); a.Summary.MissingOn["n2"] != 1 || rows.Rows[0].Key[0].Value.(interface{ String() string }).String() != "17" {
		t.Errorf("public.a: %+v", a.Summary)
	}
	if !res.Differs() || len(res.Failed()) > 0 {
		t.Errorf("Differs %v Failed %v", res.Differs(), res.Failed())
	}
}

func TestPublicationDefinitionAndUnknown(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY)`)
	db.Exec(t, `CREATE PUBLICATION p FOR TABLE public.a`, "n1", "n2")
	db.Exec(t, `ALTER PUBLICATION p SET (publish = 'insert, update', publish_via_partition_root = true)`, "n2")
	pools := connect(t, db, 2, "n1", "n2", "n3")
	ctx := testContext(t)
	_, err := Publication(ctx, pools, PublicationOptions{Publication: "p", Data: dataOptions()})
	if !fault.IsInput(err) || err.Error() != `publication "p" does not exist on node(s) n3, and no subscription there subscribes to it` {
		t.Errorf("got %v", err)
	}
	_, err = Publication(ctx, pools, PublicationOptions{Publication: "nope", Data: dataOptions()})
	if !fault.IsInput(err) || err.Error() != `publication "nope" does not exist on node(s) n1, n2, n3, and no subscription there subscribes to it` {
		t.Errorf("got %v", err)
	}
	res, err := Publication(ctx, connect(t, db, 2, "n1", "n2"), PublicationOptions{Publication: "p", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var defs []string
	for _, d := range res.Definition {
		defs = append(defs, d.Describe(res.Nodes))
	}
	want := []string{
		"operations: n1 = insert, update, delete, truncate; n2 = insert, update",
		"publish_via_partition_root: n1 = false; n2 = true",
	}
	if !reflect.DeepEqual(defs, want) || len(res.Tables) != 1 || res.Tables[0].Status != StatusIdentical {
		t.Errorf("definition:\n got %q\nwant %q\ntables %+v", defs, want, res.Tables)
	}
}

// pg_subscription_rel does not say which publication a table came from: a subscription to
// publications p and q holds the tables of both, and only those p has are members of p.
func TestPublicationSubscriptionToSeveralPublications(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE TABLE public.c (id int PRIMARY KEY)`)
	db.Exec(t, `INSERT INTO public.a VALUES (1), (2); INSERT INTO public.b VALUES (1); INSERT INTO public.c VALUES (1);
		CREATE PUBLICATION p FOR TABLE public.a, public.c; CREATE PUBLICATION q FOR TABLE public.b`, "n1")
	sub := subscribe(t, db, "n2", "p, q", "")
	// c leaves p without a refresh on n2: n2 still holds it.
	db.Exec(t, `ALTER PUBLICATION p DROP TABLE public.c`, "n1")
	db.Exec(t, `DELETE FROM public.b`, "n2")
	pools := connect(t, db, 2, "n1", "n2")
	sinks := newSinkLog()
	o := dataOptions()
	o.Sink = sinks.sink
	res, err := Publication(testContext(t), pools, PublicationOptions{Publication: "p", Data: o})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"n1": "publisher", "n2": "subscriber (" + sub + ")"}; !reflect.DeepEqual(res.Roles, want) {
		t.Errorf("roles %v", res.Roles)
	}
	var defs, tables []string
	for _, d := range res.Definition {
		defs = append(defs, d.Describe(res.Nodes))
	}
	for _, tb := range res.Tables {
		tables = append(tables, tb.Name+" "+tb.Status)
	}
	if len(defs) != 0 || !reflect.DeepEqual(tables, []string{"public.a identical"}) || res.Differs() {
		t.Errorf("definition %q\ntables %q", defs, tables)
	}
}

// Columns are matched by name (DESIGN.md rule 2): publishers whose tables have the same columns
// in another order publish the same thing.
func TestPublicationColumnOrderDoesNotMatter(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY, v text, w text)`, "n1")
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY, w text, v text)`, "n2")
	db.Exec(t, `INSERT INTO public.a (id, v, w) VALUES (1, 'v', 'w');
		CREATE TABLE public.b (id int PRIMARY KEY, v text, w text);
		CREATE PUBLICATION p FOR TABLE public.a, public.b (id, w, v)`, "n1", "n2")
	pools := connect(t, db, 2, "n1", "n2")
	res, err := Publication(testContext(t), pools, PublicationOptions{Publication: "p", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var defs, tables []string
	for _, d := range res.Definition {
		defs = append(defs, d.Describe(res.Nodes))
	}
	for _, tb := range res.Tables {
		tables = append(tables, tb.Name+" "+tb.Status+" "+tb.Data.Reason)
	}
	if len(defs) != 0 || !reflect.DeepEqual(tables, []string{"public.a identical ", "public.b identical "}) || res.Differs() {
		t.Errorf("definition %q\ntables %q", defs, tables)
	}
}

// --skip-tables: a skipped member is listed as skipped (its membership is still compared); a
// name that is no member on any node is an input error.
func TestPublicationSkipTables(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE TABLE public.c (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE public.a, public.b`)
	db.Exec(t, `INSERT INTO public.a VALUES (1); INSERT INTO public.b VALUES (1); ALTER PUBLICATION p ADD TABLE public.c`, "n1")
	pools := connect(t, db, 2, "n1", "n2")
	ctx := testContext(t)
	sinks := newSinkLog()
	o := dataOptions()
	o.Sink = sinks.sink
	res, err := Publication(ctx, pools, PublicationOptions{Publication: "p", Data: o,
		SkipTables: []report.TableRef{{Schema: "public", Name: "b"}, {Schema: "public", Name: "c"}}})
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, tb := range res.Tables {
		tables = append(tables, tb.Name+" "+tb.Status+" "+tb.Data.Status+" "+tb.Data.Reason)
	}
	want := []string{
		"public.a differ differ ",
		"public.b skipped skipped --skip-tables",
		"public.c differ skipped --skip-tables", // member on n1 only: its membership differs
	}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("tables:\n got %q\nwant %q", tables, want)
	}
	if len(sinks.sinks) != 1 || sinks.diff("public", "a") == nil {
		t.Errorf("sinks asked for %v, want public.a alone", sinks.sinks)
	}
	_, err = Publication(ctx, pools, PublicationOptions{Publication: "p", Data: dataOptions(),
		SkipTables: []report.TableRef{{Schema: "public", Name: "a"}, {Schema: "other", Name: "a"}}})
	if !fault.IsInput(err) || err.Error() != "--skip-tables: other.a is not a table of publication p on any node" {
		t.Errorf("unknown table: %v", err)
	}
}

// A member table another session holds locked on one node fails alone, naming the node.
func TestPublicationLockedTableFailsAlone(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY);
		CREATE PUBLICATION p FOR TABLE public.a, public.b (id) WHERE (id > 0)`)
	holdLock(t, db, "n2", "public.a")
	pools := connectLockTimeout(t, db, 4, "300ms", "n1", "n2")
	res, err := Publication(testContext(t), pools, PublicationOptions{Publication: "p", Data: dataOptions()})
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, tb := range res.Tables {
		tables = append(tables, tb.Name+" "+tb.Status+" "+tb.Data.Reason)
	}
	want := []string{
		`public.a failed node n2: "public"."a" is locked by another session (no lock within lock_timeout)`,
		"public.b identical ",
	}
	if !reflect.DeepEqual(tables, want) || !reflect.DeepEqual(res.Failed(), []string{"public.a"}) {
		t.Errorf("tables:\n got %q\nwant %q", tables, want)
	}
}
