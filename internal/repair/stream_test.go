package repair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// versions returns "key xmin" of every row of a table on a node: a row the repair rewrote gets a
// new xmin.
func versions(t *testing.T, db *sandbox.DB, node, ident, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range dump(t, db, node, "SELECT "+key+" || ' ' || xmin::text FROM "+ident+" AS r ORDER BY 1") {
		k, x, _ := strings.Cut(r, " ")
		out[k] = x
	}
	return out
}

// touched lists the keys whose row was inserted, deleted or rewritten between two versions().
func touched(before, after map[string]string) []string {
	var out []string
	for k, x := range before {
		if y, ok := after[k]; !ok {
			out = append(out, "deleted "+k)
		} else if x != y {
			out = append(out, "rewritten "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, "inserted "+k)
		}
	}
	sort.Strings(out)
	return out
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestV1DiffFile repairs with a diff file written by the previous release (pgparity.diff/v1,
// indented JSON, testdata/v1/orders.json). It was produced by the build of commit 43bfb1e:
//
//	pgparity sandbox up --dir sb
//	psql (each node) -f testdata/v1/setup.sql; psql (n2) -f n2.sql; psql (n3) -f n3.sql
//	pgparity --service-file sb/pg_service.conf table-diff sandbox public.orders --out orders.json
//
// The test recreates the same rows and checks that exactly the rows of the file's keys change,
// on exactly the nodes that differ, and that a row equal under the row hash but not in text
// (numeric scale in a domain over numeric, key us/5 on n2) is left alone.
func TestV1DiffFile(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, readTestdata(t, "v1/setup.sql"))
	db.Exec(t, readTestdata(t, "v1/n2.sql"), "n2")
	db.Exec(t, readTestdata(t, "v1/n3.sql"), "n3")
	pools := connect(t, db)
	path := filepath.Join("testdata", "v1", "orders.json")
	r, err := report.OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Diff.Format != report.FormatV1 {
		t.Fatalf("format %q, want the previous release's %q", r.Diff.Format, report.FormatV1)
	}
	r.Close()
	const key = "r.region || '/' || r.id"
	before := map[string]map[string]string{}
	for _, n := range all {
		before[n] = versions(t, db, n, "public.orders", key)
	}
	ao := applyOpts(t)
	ao.BatchSize = 3
	res, err := Repair(testContext(t), pools, FromFile(path), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if err != nil || res.Status != StatusRepaired || !res.Verify.Agree {
		t.Fatalf("repair: %v, status %s, verify %+v", err, res.Status, res.Verify)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/3/1/0/0/true n3:1/3/1/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	wantRows(t, "rows changed on n1", touched(before["n1"], versions(t, db, "n1", "public.orders", key)), nil)
	wantRows(t, "rows changed on n2", touched(before["n2"], versions(t, db, "n2", "public.orders", key)),
		[]string{"deleted ap/100", "inserted eu/2", "rewritten eu/4", "rewritten us/3", "rewritten us/7"})
	wantRows(t, "rows changed on n3", touched(before["n3"], versions(t, db, "n3", "public.orders", key)),
		[]string{"deleted eu/200", "inserted us/9", "rewritten eu/10", "rewritten eu/12", "rewritten us/11"})
	q := "SELECT r::text FROM public.orders r ORDER BY region, id"
	n1 := dump(t, db, "n1", q)
	wantRows(t, "n3 rows", dump(t, db, "n3", q), n1)
	var n2 []string
	for _, row := range n1 {
		if strings.HasPrefix(row, "(us,5,") {
			row = strings.Replace(row, ",1.2500000000000000,", ",1.25,", 1)
		}
		n2 = append(n2, row)
	}
	wantRows(t, "n2 rows (us/5 keeps its fee's scale: equal by the row hash)", dump(t, db, "n2", q), n2)
}

// TestInterruptedBetweenBatches cancels the repair (as Ctrl-C does) after n2 applied its first
// batch, while n3 has changes still to come: no node commits, every node's rows are exactly as
// before, and the result and the error say so.
func TestInterruptedBetweenBatches(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := snapshot(t, db)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	ao := applyOpts(t)
	ao.BatchSize = 1
	ao.AfterBatch = func(_ context.Context, node string, batch int, _ uint32) error {
		if node == "n2" && batch == 1 {
			cancel()
		}
		return nil
	}
	res, err := Repair(ctx, pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	if !errors.Is(err, context.Canceled) || fault.IsInput(err) || errors.Is(err, fault.ErrDiffer) {
		t.Fatalf("want the interruption as the error, got %v", err)
	}
	if res.Status != StatusFailed || len(res.Committed()) != 0 || res.Verify != nil {
		t.Fatalf("status %s, committed %v, verify %v", res.Status, res.Committed(), res.Verify)
	}
	if e := res.node("n2").Error; !strings.Contains(e, "rolled back") {
		t.Errorf("n2 error %q", e)
	}
	wantSnapshot(t, db, before)
	u, err := ReadUndo(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	for n, s := range u.Status {
		if s != "rolled back" && s != "failed" {
			t.Errorf("undo status of %s: %q", n, s)
		}
	}
}

// TestNodeKilledBetweenBatches terminates n3's repair connection after its first batch: the
// next batch fails on n3, n2 (which applied everything) rolls back too, and every node is as
// before.
func TestNodeKilledBetweenBatches(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := snapshot(t, db)
	killer := db.Connect(t, "n3")
	ao := applyOpts(t)
	ao.BatchSize = 1
	var killed []string
	ao.AfterBatch = func(ctx context.Context, node string, batch int, pid uint32) error {
		if node != "n3" || batch != 1 {
			return nil
		}
		var ok bool
		if err := killer.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", int32(pid)).Scan(&ok); err != nil {
			return err
		}
		killed = append(killed, fmt.Sprint(ok))
		return nil
	}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	var ne *cluster.NodeError
	if !errors.As(err, &ne) || ne.Node != "n3" || fault.IsInput(err) {
		t.Fatalf("want a runtime error of n3, got %v", err)
	}
	if strings.Join(killed, " ") != "true" {
		t.Fatalf("n3 killed: %v", killed)
	}
	if res.Status != StatusFailed || len(res.Committed()) != 0 {
		t.Fatalf("status %s, committed %v", res.Status, res.Committed())
	}
	if e := res.node("n2").Error; !strings.Contains(e, "rolled back: the repair failed on node n3") {
		t.Errorf("n2 error %q", e)
	}
	wantSnapshot(t, db, before)
}

// snapshot returns every node's rows of t with their xmin and position.
func snapshot(t *testing.T, db *sandbox.DB) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, n := range all {
		m[n] = dump(t, db, n, "SELECT ctid::text || ' ' || xmin::text || ' ' || r::text FROM t r ORDER BY ctid")
	}
	return m
}

func wantSnapshot(t *testing.T, db *sandbox.DB, want map[string][]string) {
	t.Helper()
	got := snapshot(t, db)
	for _, n := range all {
		wantRows(t, "rows (ctid, xmin) on "+n, got[n], want[n])
	}
}

// TestCompressedDiffFiles repairs from .gz and .zst diff files, read as streams.
func TestCompressedDiffFiles(t *testing.T) {
	for _, ext := range []string{".gz", ".zst"} {
		t.Run(ext, func(t *testing.T) {
			db := setupBasic(t)
			pools := connect(t, db)
			d, _ := takeDiff(t, pools, "public", "t")
			path := filepath.Join(t.TempDir(), "diff.json"+ext)
			if err := report.WriteFile(path, d); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			magic := map[string][]byte{".gz": {0x1f, 0x8b}, ".zst": {0x28, 0xb5, 0x2f, 0xfd}}[ext]
			if !bytes.HasPrefix(raw, magic) {
				t.Fatalf("%s is not compressed: % x", path, raw[:8])
			}
			want := table(t, db, "n1", "public.t", "id")
			res, err := Repair(testContext(t), pools, FromFile(path), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
			if err != nil || res.Status != StatusRepaired || !res.Verify.Agree {
				t.Fatalf("repair: %v, status %s", err, res.Status)
			}
			if got, want := counts(res), "n1:0/0/0/0/0/false n2:1/1/1/0/0/true n3:1/1/0/0/0/true"; got != want {
				t.Errorf("counts %s, want %s", got, want)
			}
			for _, n := range all {
				wantRows(t, "rows on "+n, table(t, db, n, "public.t", "id"), want)
			}
		})
	}
}

// TestManyBatches repairs 56 keys that differ on n2 and n3 in batches of 7: every change is
// made, each node applies its batches on one connection (one transaction), and a node gets only
// the batches that hold changes for it.
func TestManyBatches(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text, n numeric);
		INSERT INTO t SELECT i, 'v' || i, i / 3.0 FROM generate_series(1, 200) i`)
	db.Exec(t, `DELETE FROM t WHERE id BETWEEN 1 AND 10; UPDATE t SET v = 'n2 ' || id WHERE id BETWEEN 11 AND 25;
		INSERT INTO t SELECT i, 'extra', NULL FROM generate_series(1001, 1005) i`, "n2")
	db.Exec(t, `DELETE FROM t WHERE id BETWEEN 21 AND 30; UPDATE t SET n = -id WHERE id BETWEEN 180 AND 199;
		INSERT INTO t VALUES (2001, 'n3 extra', 1)`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	if len(d.Rows) != 10+15+5+5+20+1 {
		t.Fatalf("diff has %d keys", len(d.Rows))
	}
	ao := applyOpts(t)
	ao.BatchSize = 7
	var mu sync.Mutex
	seen := map[string][]string{}
	ao.AfterBatch = func(_ context.Context, node string, batch int, pid uint32) error {
		mu.Lock()
		defer mu.Unlock()
		seen[node] = append(seen[node], fmt.Sprintf("%d@%d", batch, pid))
		return nil
	}
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, ao)
	// n2: inserts 1-10, updates 11-25, deletes 1001-1005; n3: inserts 21-30, updates 180-199,
	// deletes 2001.
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:10/15/5/0/0/true n3:10/20/1/0/0/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	if p2, p3 := res.node("n2").Planned, res.node("n3").Planned; p2 != 30 || p3 != 31 {
		t.Errorf("planned n2 %d, n3 %d", p2, p3)
	}
	want := table(t, db, "n1", "public.t", "id")
	for _, n := range all {
		wantRows(t, "rows on "+n, table(t, db, n, "public.t", "id"), want)
	}
	// The diff's 56 keys make 8 batches of 7, in the diff's order (the order the comparison found
	// them); a node gets the batches holding a key where it differs from n1.
	batches := map[string]int{}
	for _, node := range []string{"n2", "n3"} {
		for b := 0; b*7 < len(d.Rows); b++ {
			for _, r := range d.Rows[b*7 : min(len(d.Rows), b*7+7)] {
				if (r.Values[node] == nil) != (r.Values["n1"] == nil) || r.Hashes[node] != r.Hashes["n1"] {
					batches[node]++
					break
				}
			}
		}
	}
	for node, n := range batches {
		b := seen[node]
		if len(b) != n || n < 2 {
			t.Errorf("%s applied %d batches, want %d (at least 2): %v", node, len(b), n, b)
			continue
		}
		_, pid, _ := strings.Cut(b[0], "@")
		for i, x := range b {
			if x != fmt.Sprintf("%d@%s", i+1, pid) {
				t.Errorf("%s batches %v: not one connection", node, b)
				break
			}
		}
	}
	u, err := ReadUndo(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Entries) != 30+31 || u.Status["n2"] != "committed" || u.Status["n3"] != "committed" {
		t.Errorf("undo file: %d entries, status %v", len(u.Entries), u.Status)
	}
}

// TestVersionsByRowHash: equality is the row hash's, also for a domain over numeric, whose text
// keeps its scale (2.0 and 2.00): nodes in one version of a key are never rewritten from each
// other, and --fix-nulls sees one value where the texts differ only in scale.
func TestVersionsByRowHash(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE DOMAIN amt AS numeric; CREATE TABLE t (id int PRIMARY KEY, d amt, w text)`)
	db.Exec(t, `INSERT INTO t VALUES (1, 1.0, NULL), (2, 2.0, 'a')`, "n1")
	db.Exec(t, `INSERT INTO t VALUES (1, 1.00, 'x'), (2, 2.00, 'a')`, "n2")
	db.Exec(t, `INSERT INTO t VALUES (1, NULL, 'x'), (2, 2.0, 'b')`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	before := map[string]map[string]string{}
	for _, n := range all {
		before[n] = versions(t, db, n, "t", "r.id::text")
	}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeFixNulls}, applyOpts(t), "test")
	if !errors.Is(err, fault.ErrDiffer) { // key 2: w differs, nothing is NULL
		t.Fatalf("fix-nulls: want ErrDiffer (key 2 differs), got %v", err)
	}
	if res.ConflictCount != 0 || res.Verify.StillDiffering != 1 {
		t.Errorf("conflicts %+v, verify %+v", res.Conflicts, res.Verify)
	}
	if got, want := counts(res), "n1:0/1/0/0/0/true n2:0/0/0/0/0/false n3:0/1/0/0/0/true"; got != want {
		t.Errorf("fix-nulls counts %s, want %s", got, want)
	}
	wantRows(t, "key 1", []string{dump(t, db, "n1", "SELECT r::text FROM t r WHERE id = 1")[0],
		dump(t, db, "n2", "SELECT r::text FROM t r WHERE id = 1")[0], dump(t, db, "n3", "SELECT r::text FROM t r WHERE id = 1")[0]},
		[]string{"(1,1.0,x)", "(1,1.00,x)", "(1,1.0,x)"})

	d, _ = takeDiff(t, pools, "public", "t")
	mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n2"}, applyOpts(t))
	after := versions(t, db, "n1", "t", "r.id::text")
	if after["2"] != before["n1"]["2"] {
		t.Error("n1's row 2 (2.0) was rewritten from n2's (2.00), which the row hash calls equal")
	}
	// n3 receives the version n1 and n2 share, in the text the diff recorded for it (one of them).
	wantRows(t, "row 2 on n1", dump(t, db, "n1", "SELECT r::text FROM t r WHERE id = 2"), []string{"(2,2.0,a)"})
	if got := dump(t, db, "n3", "SELECT r::text FROM t r WHERE id = 2")[0]; got != "(2,2.0,a)" && got != "(2,2.00,a)" {
		t.Errorf("row 2 on n3: %s", got)
	}
}

// TestPartialDiffFileWarns: a v2 file's summary comes last; the repair warns once it has read it.
func TestPartialDiffFileWarns(t *testing.T) {
	db := setupBasic(t)
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	d.Summary.Status, d.Summary.PartialReason = report.StatusPartial, "stopped after 5 differing keys (--max-diff-rows)"
	path := filepath.Join(t.TempDir(), "partial.json")
	if err := report.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	res, err := Repair(testContext(t), pools, FromFile(path), Options{Mode: ModeSource, Source: "n1"}, applyOpts(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := "the diff is partial (stopped after 5 differing keys (--max-diff-rows)): only its 5 keys are repaired; " +
		"run table-diff again afterwards to find the rest"
	if len(res.Warnings) != 1 || res.Warnings[0] != want {
		t.Fatalf("warnings %q, want [%q]", res.Warnings, want)
	}
}

// TestResultListsBounded: however many keys are held back or skipped, a result lists the first
// ListLimit and counts the rest.
func TestResultListsBounded(t *testing.T) {
	p := &Plan{Table: report.TableRef{Schema: "public", Name: "t"}, Key: []string{"id"}, Nodes: []string{"n1", "n2"},
		Columns: []report.Column{{Name: "id", Type: "integer"}}}
	res := newResult(p, ApplyOptions{})
	for b := 0; b < 3; b++ {
		batch := p.header()
		for i := 0; i < 900; i++ {
			batch.Held = append(batch.Held, Held{Node: "n2", key: []string{fmt.Sprint(b*900 + i)}, Kind: Delete, Reason: "--upsert-only"})
		}
		batch.Conflicts = append(batch.Conflicts, Conflict{key: []string{"7"}, Nodes: []string{"n1", "n2"}, Reason: "r"})
		res.absorb(batch)
	}
	for i := 0; i < 1500; i++ {
		res.node("n2").stale(StaleRow{Key: p.keyRecord([]string{fmt.Sprint(i)}), Kind: Update, Reason: "changed"})
	}
	n2 := res.node("n2")
	if len(res.Held) != ListLimit || res.HeldCount != 2700 || res.HeldLeftOut != 1700 || n2.Held != 2700 || res.node("n1").Held != 0 {
		t.Errorf("held: %d listed, count %d, left out %d, n2 %d", len(res.Held), res.HeldCount, res.HeldLeftOut, n2.Held)
	}
	if res.ConflictCount != 3 || len(res.Conflicts) != 3 || n2.Conflicts != 3 || describe(res.Conflicts[0].Key) != "id=7" {
		t.Errorf("conflicts %+v", res.Conflicts)
	}
	if len(n2.Stale) != ListLimit || n2.Skipped != 1500 || n2.StaleLeftOut != 500 || describe(n2.Stale[999].Key) != "id=999" {
		t.Errorf("stale: %d listed, %d skipped, %d left out", len(n2.Stale), n2.Skipped, n2.StaleLeftOut)
	}
	var b strings.Builder
	if err := res.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"held back: 2700\n", "  ... and 2680 more (the JSON report lists the first 1000)\n",
		"skipped on n2 (stale): 1500\n", "  ... and 1480 more (the JSON report lists the first 1000)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// TestWideRowsBatchedByBytes: rows of a megabyte come a few per batch (batchBytes), whatever the
// batch size in keys, so a batch's memory stays bounded.
func TestWideRowsBatchedByBytes(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, repeat(md5(i::text), 32768) FROM generate_series(1, 20) i`)
	db.Exec(t, `UPDATE t SET v = 'x' || v`, "n2")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "t")
	// The batches the byte limit makes: each entry holds two versions of about 1 MB.
	want, bytes := 1, 0
	src := report.FromDiff(d)
	for i := 0; i < len(d.Rows); i++ {
		e, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if bytes >= batchBytes {
			want, bytes = want+1, 0
		}
		bytes += entryBytes(e)
	}
	ao := applyOpts(t)
	ao.BatchSize = 0 // the default: far more keys than the byte limit lets in
	batches := 0
	ao.AfterBatch = func(_ context.Context, node string, batch int, _ uint32) error {
		batches = batch
		return nil
	}
	res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, ao)
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/20/0/0/0/true n3:0/0/0/0/0/false"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	if batches != want || want < 3 {
		t.Errorf("n2 applied %d batches, want %d (at least 3)", batches, want)
	}
	wantRows(t, "n2", dump(t, db, "n2", "SELECT md5(v) FROM t ORDER BY id"), dump(t, db, "n1", "SELECT md5(v) FROM t ORDER BY id"))
}

// TestWholeRowDryRun: a dry run of a whole-row repair in several batches lists the copies it
// would insert and delete, and changes nothing.
func TestWholeRowDryRun(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE w (a int, b text)`)
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c')`, "n1")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (2, 'b'), (2, 'b'), (4, 'd')`, "n2")
	db.Exec(t, `INSERT INTO w VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c'), (3, 'c')`, "n3")
	pools := connect(t, db)
	d, _ := takeDiff(t, pools, "public", "w")
	q := "SELECT ctid::text || ' ' || xmin::text || ' ' || r::text FROM w r ORDER BY ctid"
	before := map[string][]string{}
	for _, n := range all {
		before[n] = dump(t, db, n, q)
	}
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"},
		ApplyOptions{DryRun: true, BatchSize: 1}, "test")
	if err != nil || res.Status != StatusDryRun {
		t.Fatalf("dry run: %v, status %s", err, res.Status)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n2:2/0/2/0/0/false n3:0/0/1/0/0/false"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	var got []string
	for _, n := range res.Nodes {
		for _, c := range n.Changes {
			got = append(got, fmt.Sprintf("%s %s %d of %s: %d -> %d", n.Node, c.Op, c.Copies, jsonOf(c.Row), c.CountBefore, c.CountAfter))
		}
	}
	sort.Strings(got)
	wantRows(t, "changes", got, []string{
		`n2 delete 1 of {"a":2,"b":"b"}: 2 -> 1`,
		`n2 delete 1 of {"a":4,"b":"d"}: 1 -> 0`,
		`n2 insert 1 of {"a":1,"b":"a"}: 1 -> 2`,
		`n2 insert 1 of {"a":3,"b":"c"}: 0 -> 1`,
		`n3 delete 1 of {"a":3,"b":"c"}: 2 -> 1`,
	})
	for _, n := range all {
		wantRows(t, "rows on "+n, dump(t, db, n, q), before[n])
	}
}

// TestVerifyByRanges: a repair of many keys compared with the table is verified by one range
// pass; when that pass finds a difference outside the diff (a row changed on n2 after the diff),
// the diff's own keys are re-read and agree.
func TestVerifyByRanges(t *testing.T) {
	for _, outside := range []bool{false, true} {
		t.Run(fmt.Sprintf("outside=%v", outside), func(t *testing.T) {
			db := sandbox.NewDB(t)
			db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
				INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 12000) i; ANALYZE t`)
			db.Exec(t, `DELETE FROM t WHERE id <= 11000`, "n3")
			pools := connect(t, db)
			d, _ := takeDiff(t, pools, "public", "t")
			if len(d.Rows) != 11000 {
				t.Fatalf("diff has %d keys", len(d.Rows))
			}
			ao := applyOpts(t)
			ao.BatchSize = 5000
			if outside {
				ao.AfterBatch = func(ctx context.Context, node string, batch int, _ uint32) error {
					if batch == 1 {
						db.Exec(t, `UPDATE t SET v = 'changed after the diff' WHERE id = 11500`, "n2")
					}
					return nil
				}
			}
			res := mustRepair(t, pools, d, Options{Mode: ModeSource, Source: "n1"}, ao)
			if got, want := counts(res), "n1:0/0/0/0/0/false n2:0/0/0/0/0/false n3:11000/0/0/0/0/true"; got != want {
				t.Errorf("counts %s, want %s", got, want)
			}
			wantBy := "ranges"
			if outside {
				wantBy = "keys"
			}
			if res.Verify.By != wantBy || res.Verify.StillDiffering != 0 {
				t.Errorf("verify %+v, want by %s, nothing still differing", res.Verify, wantBy)
			}
			wantRows(t, "rows on n3", table(t, db, "n3", "public.t", "id"), table(t, db, "n1", "public.t", "id"))
		})
	}
}

// TestInsertBatchFallsBackToGuard: batches that only insert rows a node lacked are copied
// straight in; a key that appeared on the node since the diff sends its batch back through the
// guard (rolled back to a savepoint): in sync when it holds the new row, skipped as stale when
// it holds another, and the undo file lists exactly the rows inserted.
func TestInsertBatchFallsBackToGuard(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 20) i`)
	db.Exec(t, `DELETE FROM t WHERE id <= 10`, "n3")
	pools := connect(t, db, "n1", "n3")
	d, _ := takeDiff(t, pools, "public", "t")
	if len(d.Rows) != 10 {
		t.Fatalf("diff has %d keys", len(d.Rows))
	}
	db.Exec(t, `INSERT INTO t VALUES (3, 'v3'), (7, 'changed on n3')`, "n3")
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	ao := applyOpts(t)
	ao.BatchSize = 4 // keys 1-4 (3 is back), 5-8 (7 is back, changed), 9-10
	res, err := Repair(testContext(t), pools, FromDiff(d), Options{Mode: ModeSource, Source: "n1"}, ao, "test")
	slog.SetDefault(prev)
	if !errors.Is(err, fault.ErrDiffer) || res.Status != StatusUnresolved {
		t.Fatalf("repair: %v, status %s (key 7 is stale on n3 and must still differ)", err, res.Status)
	}
	if got, want := counts(res), "n1:0/0/0/0/0/false n3:8/0/0/1/1/true"; got != want {
		t.Errorf("counts %s, want %s", got, want)
	}
	if res.Verify == nil || res.Verify.StillDiffering != 1 {
		t.Errorf("verify %+v, want key 7 still differing", res.Verify)
	}
	want := table(t, db, "n1", "public.t", "id")
	want[6] = "(7,\"changed on n3\")"
	wantRows(t, "rows on n3", table(t, db, "n3", "public.t", "id"), want)
	u, err := ReadUndo(res.UndoFile)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range u.Entries {
		keys = append(keys, fmt.Sprintf("%s %v", e.Op, e.Key[0].Value))
	}
	if got, want := strings.Join(keys, ","), "insert 1,insert 2,insert 4,insert 5,insert 6,insert 8,insert 9,insert 10"; got != want {
		t.Errorf("undo entries %s, want %s", got, want)
	}
	for _, step := range []string{`step="insert rows without guard"`, `step="insert rows without guard (rolled back)"`} {
		if !strings.Contains(logs.String(), step) {
			t.Errorf("no %s in the repair's steps:\n%s", step, logs.String())
		}
	}
}
