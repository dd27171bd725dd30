package repair

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/report"
)

// TestManyOverrides: a plan saved from the HTML report has one override per differing key. Each
// row finds its override by key (not by trying every override: 20,000 keys took seconds, a
// million hours), the first override of a key wins, composite keys match column by column, and
// a key text that only concatenates alike ("1","23" / "12","3") is another key.
func TestManyOverrides(t *testing.T) {
	const n = 20000
	d := &report.Diff{
		Format: report.Format, Cluster: "c", Table: report.TableRef{Schema: "public", Name: "t"},
		Key: []string{"a", "b"}, Nodes: []string{"n1", "n2"},
		Columns: []report.Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "text"}, {Name: "v", Type: "text"}},
	}
	row := func(a int, b string) report.Row {
		k := report.Record{{Name: "a", Value: json.Number(fmt.Sprint(a))}, {Name: "b", Value: b}}
		r1 := append(append(report.Record{}, k...), report.Field{Name: "v", Value: "one"})
		r2 := append(append(report.Record{}, k...), report.Field{Name: "v", Value: "two"})
		return report.Row{Key: k, Values: map[string]*report.Record{"n1": &r1, "n2": &r2}}
	}
	var y strings.Builder
	y.WriteString("default: skip\noverrides:\n")
	for i := 0; i < n; i++ {
		d.Rows = append(d.Rows, row(i, "x"))
		fmt.Fprintf(&y, "  - key: {a: \"%d\", b: x}\n    action: take n1\n", i)
	}
	// Key 7: a later override of the same key does not win. Key (1, "23") has no override, though
	// (12, "3") has one.
	y.WriteString("  - key: {a: 7, b: x}\n    action: take n2\n  - key: {a: 12, b: \"3\"}\n    action: take n2\n")
	d.Rows = append(d.Rows, row(1, "23"))
	p, err := NewPlan(d, Options{Mode: ModePlan, Rules: mustRules(t, y.String())})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Changes["n2"]); got != n || len(p.Changes["n1"]) != 0 {
		t.Errorf("%d changes on n2 and %d on n1, want %d and 0", got, len(p.Changes["n1"]), n)
	}
	if len(p.Held) != 1 || describe(p.Held[0].Key) != "a=1, b=23" || p.Held[0].Reason != "default: skip" {
		t.Errorf("held %+v", p.Held)
	}
}
