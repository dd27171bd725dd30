package diff

import (
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestFetchBatchSizesByRowWidth: batches start small, grow to the maximum for narrow rows, shrink
// to a few keys for rows of megabytes; whole ranges are streamed only when their rows are known
// to fit in one fetch.
func TestFetchBatchSizesByRowWidth(t *testing.T) {
	cases := []struct {
		name     string
		rowBytes int64
		want     int
		fits500  bool
	}{
		{"narrow rows", 200, maxFetchBatch, true},
		{"4 MB rows", 4 << 20, 4, false},
		{"rows larger than a batch", 64 << 20, 1, false},
	}
	for _, c := range cases {
		var w widthStats
		if got := w.batch(); got != firstFetchBatch {
			t.Fatalf("%s: first batch %d, want %d", c.name, got, firstFetchBatch)
		}
		if w.fits(1) {
			t.Fatalf("%s: fits before any width is known", c.name)
		}
		w.seen(100, 100*c.rowBytes)
		if got := w.batch(); got != c.want {
			t.Errorf("%s: batch %d, want %d", c.name, got, c.want)
		}
		if got := w.fits(500); got != c.fits500 {
			t.Errorf("%s: fits(500) = %v, want %v", c.name, got, c.fits500)
		}
	}
}

// TestWideRows: rows of megabytes (TOASTed bytea and text) are compared and reported exactly.
func TestWideRows(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE wide_toast (id int PRIMARY KEY, b bytea, t text)`, "n1", "n2")
	db.Exec(t, `INSERT INTO wide_toast SELECT g, decode(repeat(md5(g::text), 100000), 'hex'), repeat('x', 3000000)
		FROM generate_series(1, 6) g`, "n1", "n2")
	db.Exec(t, `UPDATE wide_toast SET t = t || 'y' WHERE id = 4`, "n2")
	pools := connectK(t, db, 2)
	d := mustRun(t, pools, opts("wide_toast"))
	if len(d.Rows) != 1 {
		t.Fatalf("%d differing rows, want 1", len(d.Rows))
	}
	r := d.Rows[0]
	t1, _ := r.Values["n1"].Get("t")
	t2, _ := r.Values["n2"].Get("t")
	b1, _ := r.Values["n1"].Get("b")
	if k, _ := r.Key.Get("id"); fmt.Sprint(k) != "4" || len(t1.(string)) != 3000000 || len(t2.(string)) != 3000001 ||
		len(b1.(string)) != 2+2*1600000 {
		t.Fatalf("key %v: text lengths %d, %d; bytea text length %d", k, len(t1.(string)), len(t2.(string)), len(b1.(string)))
	}
}

// TestSharedPoolsDoNotDeadlock: comparisons that share pools (as schema-diff's do), each asking
// for as many workers as a pool has connections, finish: a comparison holding a node's first
// connection never waits long for another, it runs with fewer workers.
func TestSharedPoolsDoNotDeadlock(t *testing.T) {
	db := sandbox.NewDB(t)
	for _, name := range []string{"s1", "s2", "s3"} {
		db.Exec(t, `CREATE TABLE `+name+` (id int PRIMARY KEY, v text);
			INSERT INTO `+name+` SELECT g, 'v' FROM generate_series(1, 3000) g`, "n1", "n2")
	}
	pools := connectK(t, db, 2)
	for _, p := range pools {
		if got := p.Config().MaxConns; got < 2 {
			t.Fatalf("pool of %d connections", got)
		}
	}
	var g errgroup.Group
	for _, name := range []string{"s1", "s2", "s3"} {
		g.Go(func() error {
			o := opts(name)
			o.Concurrency = int(pools[0].Config().MaxConns)
			d, err := collect(testContext(t), pools, o)
			if err == nil && d.Summary.Status != "match" {
				err = fmt.Errorf("%s: status %s", name, d.Summary.Status)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestEmptyUnanalyzedNodeDoesNotPlan: a node that cannot estimate its rows (a new or truncated
// table) is counted before planning, so an empty node never plans the ranges of a full one (one
// range holding the whole table would be drilled into as a whole).
func TestEmptyUnanalyzedNodeDoesNotPlan(t *testing.T) {
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE e (id int PRIMARY KEY, v text)`, "n1", "n2", "n3")
	db.Exec(t, `INSERT INTO e SELECT g, 'v' FROM generate_series(1, 2000) g; ANALYZE e`, "n1", "n2")
	pools := connectK(t, db, 3)
	o := opts("e")
	o.BlockSize = 100
	d := mustRun(t, pools, o)
	if d.Summary.Ranges < 10 || d.Summary.DifferingKeys != 2000 || d.Summary.MissingOn["n3"] != 2000 {
		t.Fatalf("ranges %d, differing %d, missing on n3 %d", d.Summary.Ranges, d.Summary.DifferingKeys, d.Summary.MissingOn["n3"])
	}
}
