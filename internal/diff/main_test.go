package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
	"github.com/pgparity/pgparity/internal/sandbox/sandboxtest"
)

// The five nodes are shared by every test of the package: tests do not run in parallel, and the
// one test that kills a node restarts it before it returns.
func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, 5)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// nodeNames returns n1..nk.
func nodeNames(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// connect opens pools (4 connections each) on the test database of the named sandbox nodes,
// closed when the test ends.
func connect(t *testing.T, db *sandbox.DB, names ...string) cluster.Pools {
	t.Helper()
	return sandboxtest.Pools(t, db, 4, names...)
}

// connectK connects to n1..nk.
func connectK(t *testing.T, db *sandbox.DB, k int) cluster.Pools {
	t.Helper()
	return connect(t, db, nodeNames(k)...)
}

// opts returns options for public.table with small ranges and 4 workers.
func opts(table string) Options {
	return Options{Schema: "public", Table: table, BlockSize: 10, Concurrency: 4, MaxDiffRows: 1000000, Tool: "test"}
}

// mustRun runs a diff and fails the test on error.
func mustRun(t *testing.T, pools cluster.Pools, o Options) *report.Diff {
	t.Helper()
	d, err := collect(testContext(t), pools, o)
	if err != nil {
		t.Fatalf("diff %s.%s: %v", o.Schema, o.Table, err)
	}
	if d == nil {
		t.Fatal("diff returned no report and no error")
	}
	return d
}

// collect runs a diff keeping every row in memory.
func collect(ctx context.Context, pools cluster.Pools, o Options) (*report.Diff, error) {
	c := &report.Collector{}
	d, err := Run(ctx, pools, o, c)
	if err != nil {
		return d, err
	}
	return c.Diff, nil
}

// rerun writes d to a diff file, as table-diff does, and reruns it as table-rerun does, keeping
// the new rows in memory.
func rerun(t *testing.T, pools cluster.Pools, d *report.Diff) (*report.Diff, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "diff.json")
	if err := report.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	r, err := report.OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := &report.Collector{}
	if _, err := Rerun(testContext(t), pools, r, "test", c); err != nil {
		return nil, err
	}
	return c.Diff, nil
}

// jsonText renders a diff file value as JSON (json.Number 3, string "x", nil null, bool true).
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("!%v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// keyText renders a row's key as its values in JSON joined by ",".
func keyText(r report.Row) string {
	parts := make([]string, len(r.Key))
	for i, f := range r.Key {
		parts[i] = jsonText(f.Value)
	}
	return strings.Join(parts, ",")
}

// render describes every report row as "KEY n1=V n2=V ..." in the diff's node order, where V is
// "-" for a node lacking the row, else the JSON of the named columns joined by "|" (all columns
// when none are named). Lines are sorted.
func render(t *testing.T, d *report.Diff, cols ...string) []string {
	t.Helper()
	return renderRows(t, d.Nodes, d.Rows, cols...)
}

func renderRows(t *testing.T, nodes []string, rows []report.Row, cols ...string) []string {
	t.Helper()
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(keyText(r))
		for _, n := range nodes {
			rec, ok := r.Values[n]
			if !ok {
				t.Fatalf("row %s has no entry for node %s", keyText(r), n)
			}
			b.WriteString(" " + n + "=")
			if rec == nil {
				b.WriteString("-")
				continue
			}
			names := cols
			if len(names) == 0 {
				for _, f := range *rec {
					names = append(names, f.Name)
				}
			}
			for i, c := range names {
				v, ok := rec.Get(c)
				if !ok {
					t.Fatalf("row %s on %s has no column %q: %v", keyText(r), n, c, *rec)
				}
				if i > 0 {
					b.WriteString("|")
				}
				b.WriteString(jsonText(v))
			}
		}
		out = append(out, b.String())
	}
	sort.Strings(out)
	return out
}

// diffKeys returns the sorted keys of the report rows.
func diffKeys(d *report.Diff) []string {
	out := make([]string, len(d.Rows))
	for i, r := range d.Rows {
		out[i] = keyText(r)
	}
	sort.Strings(out)
	return out
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	want = append([]string{}, want...)
	sort.Strings(want)
	if got == nil {
		got = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// mapText renders a Summary map compactly, keys sorted: "n1/n2=3 n1/n3=0 ...".
func mapText[V int | int64](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// wantSummary checks status, differing keys, pairs, missing_on and rows_compared.
func wantSummary(t *testing.T, d *report.Diff, status string, differing int, pairs, missing, compared string) {
	t.Helper()
	s := d.Summary
	if s.Status != status {
		t.Errorf("status %q, want %q (partial reason %q)", s.Status, status, s.PartialReason)
	}
	if s.DifferingKeys != differing || len(d.Rows) != differing {
		t.Errorf("differing keys %d with %d rows, want %d", s.DifferingKeys, len(d.Rows), differing)
	}
	if pairs != "" && mapText(s.Pairs) != pairs {
		t.Errorf("pairs %s, want %s", mapText(s.Pairs), pairs)
	}
	if missing != "" && mapText(s.MissingOn) != missing {
		t.Errorf("missing_on %s, want %s", mapText(s.MissingOn), missing)
	}
	if compared != "" && mapText(s.RowsCompared) != compared {
		t.Errorf("rows_compared %s, want %s", mapText(s.RowsCompared), compared)
	}
}

// each returns "n1=v n2=v ..." for k nodes: a compact way to write a map expectation.
func each(k int, v int) string {
	parts := make([]string, k)
	for i := range parts {
		parts[i] = fmt.Sprintf("n%d=%d", i+1, v)
	}
	return strings.Join(parts, " ")
}

// pairsOf returns the expectation of Summary.Pairs for nodes n1..nk where pair (a, b) has the count
// given by f(a, b) (1-based node numbers).
func pairsOf(k int, f func(a, b int) int) string {
	var parts []string
	for a := 1; a <= k; a++ {
		for b := a + 1; b <= k; b++ {
			parts = append(parts, fmt.Sprintf("n%d/n%d=%d", a, b, f(a, b)))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
