package repair

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// rec builds a record id, v, w from JSON-ish shorthand: "-" is NULL.
func rec(id int, v, w string) *report.Record {
	val := func(s string) any {
		if s == "-" {
			return nil
		}
		return s
	}
	r := report.Record{{Name: "id", Value: json.Number(fmt.Sprint(id))}, {Name: "v", Value: val(v)}, {Name: "w", Value: val(w)}}
	return &r
}

func keyRow(id int, n1, n2, n3 *report.Record) report.Row {
	return report.Row{Key: report.Record{{Name: "id", Value: json.Number(fmt.Sprint(id))}},
		Values: map[string]*report.Record{"n1": n1, "n2": n2, "n3": n3}}
}

// testDiff: 1 missing on n2; 2 differs on n2; 3 only on n2; 4 NULLs fillable from peers;
// 6 NULL on n1 and the peers disagree on v.
func testDiff() *report.Diff {
	return &report.Diff{
		Format: report.Format, Cluster: "c", Table: report.TableRef{Schema: "public", Name: "t"},
		Key: []string{"id"}, Nodes: []string{"n1", "n2", "n3"},
		Columns: []report.Column{{Name: "id", Type: "integer"}, {Name: "v", Type: "text"}, {Name: "w", Type: "text"}},
		Rows: []report.Row{
			keyRow(1, rec(1, "a", "x"), nil, rec(1, "a", "x")),
			keyRow(2, rec(2, "a", "x"), rec(2, "b", "x"), rec(2, "a", "x")),
			keyRow(3, nil, rec(3, "c", "x"), nil),
			keyRow(4, rec(4, "a", "-"), rec(4, "a", "y"), rec(4, "-", "y")),
			keyRow(6, rec(6, "-", "p"), rec(6, "q", "p"), rec(6, "r", "p")),
		},
	}
}

// renderPlan lists "node kind key: expected -> new", held and conflicts, sorted.
func renderPlan(p *Plan) []string {
	var out []string
	short := func(vals []*string) string {
		r := p.valuesRecord(vals)
		if r == nil {
			return "-"
		}
		var parts []string
		for _, f := range *r {
			s := fmt.Sprint(f.Value)
			if f.Value == nil {
				s = "NULL"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ",")
	}
	for n, cs := range p.Changes {
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s %s %s: %s -> %s", n, c.Kind, describe(p.keyRecord(c.Key)), short(c.Expected), short(c.New)))
		}
	}
	for _, h := range p.Held {
		out = append(out, fmt.Sprintf("held %s %s %s: %s", h.Node, h.Kind, describe(h.Key), h.Reason))
	}
	for _, c := range p.Conflicts {
		out = append(out, fmt.Sprintf("conflict %s %v %v: %s", describe(c.Key), c.Nodes, c.Columns, c.Reason))
	}
	sort.Strings(out)
	return out
}

func mustRules(t *testing.T, y string) *Rules {
	t.Helper()
	r, err := ParseRules([]byte(y))
	if err != nil {
		t.Fatalf("parse plan: %v", err)
	}
	return r
}

func TestPlanModes(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) Options
		want []string
	}{
		{"source n1", func(*testing.T) Options { return Options{Mode: ModeSource, Source: "n1"} }, []string{
			"n2 delete id=3: 3,c,x -> -",
			"n2 insert id=1: - -> 1,a,x",
			"n2 update id=2: 2,b,x -> 2,a,x",
			"n2 update id=4: 4,a,y -> 4,a,NULL",
			"n2 update id=6: 6,q,p -> 6,NULL,p",
			"n3 update id=4: 4,NULL,y -> 4,a,NULL",
			"n3 update id=6: 6,r,p -> 6,NULL,p",
		}},
		{"source n1 insert-only", func(*testing.T) Options { return Options{Mode: ModeSource, Source: "n1", InsertOnly: true} }, []string{
			"held n2 delete id=3: --insert-only: rows are only inserted",
			"held n2 update id=2: --insert-only: rows are only inserted",
			"held n2 update id=4: --insert-only: rows are only inserted",
			"held n2 update id=6: --insert-only: rows are only inserted",
			"held n3 update id=4: --insert-only: rows are only inserted",
			"held n3 update id=6: --insert-only: rows are only inserted",
			"n2 insert id=1: - -> 1,a,x",
		}},
		{"source n2 upsert-only", func(*testing.T) Options { return Options{Mode: ModeSource, Source: "n2", UpsertOnly: true} }, []string{
			"held n1 delete id=1: --upsert-only: rows are never deleted",
			"held n3 delete id=1: --upsert-only: rows are never deleted",
			"n1 insert id=3: - -> 3,c,x",
			"n1 update id=2: 2,a,x -> 2,b,x",
			"n1 update id=4: 4,a,NULL -> 4,a,y",
			"n1 update id=6: 6,NULL,p -> 6,q,p",
			"n3 insert id=3: - -> 3,c,x",
			"n3 update id=2: 2,a,x -> 2,b,x",
			"n3 update id=4: 4,NULL,y -> 4,a,y",
			"n3 update id=6: 6,r,p -> 6,q,p",
		}},
		{"bidirectional", func(*testing.T) Options { return Options{Mode: ModeBidirectional} }, []string{
			"conflict id=2 [n1 n2 n3] []: nodes hold different versions of the row",
			"conflict id=4 [n1 n2 n3] []: nodes hold different versions of the row",
			"conflict id=6 [n1 n2 n3] []: nodes hold different versions of the row",
			"n1 insert id=3: - -> 3,c,x",
			"n2 insert id=1: - -> 1,a,x",
			"n3 insert id=3: - -> 3,c,x",
		}},
		{"fix-nulls", func(*testing.T) Options { return Options{Mode: ModeFixNulls} }, []string{
			"conflict id=6 [n1 n2 n3] [v]: the nodes that have a value disagree on it",
			"n1 update id=4: 4,a,NULL -> 4,a,y",
			"n3 update id=4: 4,NULL,y -> 4,a,y",
		}},
		{"plan: override, rules in order, default", func(t *testing.T) Options {
			return Options{Mode: ModePlan, Rules: mustRules(t, `
overrides:
  - key: {id: 2}
    action: take n2
rules:
  - name: only on n2 is junk
    when: {present_on: [n2], missing_on: [n1, n3]}
    action: delete
  - name: null v
    when:
      columns: [{column: v, node: any, is_null: true}]
    action: skip
  - name: big ids from n3
    when:
      columns: [{column: id, node: all, ge: 4}]
    action: take n3
default: take n1
`)}
		}, []string{
			"held   id=4: rule \"null v\": skip",
			"held   id=6: rule \"null v\": skip",
			"n1 update id=2: 2,a,x -> 2,b,x",
			"n2 delete id=3: 3,c,x -> -",
			"n2 insert id=1: - -> 1,a,x",
			"n3 update id=2: 2,a,x -> 2,b,x",
		}},
		{"plan: differs, equals, in, lt on a node", func(t *testing.T) Options {
			return Options{Mode: ModePlan, Rules: mustRules(t, `
rules:
  - when: {differs: [w]}
    action: take n2
  - when:
      columns: [{column: v, node: n1, equals: a}, {column: id, node: n1, lt: 2}]
    action: take n1
  - when:
      columns: [{column: v, node: n2, in: [c, z]}]
    action: take n2
`)}
		}, []string{
			"held   id=2: default: skip",
			"held   id=6: default: skip",
			"n1 insert id=3: - -> 3,c,x",
			"n1 update id=4: 4,a,NULL -> 4,a,y",
			"n2 insert id=1: - -> 1,a,x",
			"n3 insert id=3: - -> 3,c,x",
			"n3 update id=4: 4,NULL,y -> 4,a,y",
		}},
		{"plan: latest-commit-wins with fallback", func(t *testing.T) Options {
			return Options{Mode: ModePlan, Rules: mustRules(t, "default: latest-commit-wins\nfallback: take n3\n"),
				CommitTimes: map[int]map[string]time.Time{
					0: {"n1": at(1), "n3": at(2)},              // same version: n2 receives it
					1: {"n1": at(5), "n2": at(9), "n3": at(5)}, // n2 is newest
					2: {"n2": at(1)},                           // only n2: others receive it, never deleted
					3: {"n1": at(3), "n2": at(3), "n3": at(1)}, // n1 and n2 tie with different versions: fallback n3
					4: {"n1": at(1), "n2": at(1)},              // n3 has no time: fallback n3
				}}
		}, []string{
			"n1 insert id=3: - -> 3,c,x",
			"n1 update id=2: 2,a,x -> 2,b,x",
			"n1 update id=4: 4,a,NULL -> 4,NULL,y",
			"n1 update id=6: 6,NULL,p -> 6,r,p",
			"n2 insert id=1: - -> 1,a,x",
			"n2 update id=4: 4,a,y -> 4,NULL,y",
			"n2 update id=6: 6,q,p -> 6,r,p",
			"n3 insert id=3: - -> 3,c,x",
			"n3 update id=2: 2,a,x -> 2,b,x",
		}},
		{"plan: latest-commit-wins without fallback holds back", func(t *testing.T) Options {
			return Options{Mode: ModePlan, Rules: mustRules(t, "rules:\n  - when: {differs: [v]}\n    action: latest-commit-wins\n"),
				CommitTimes: map[int]map[string]time.Time{1: {"n1": at(1), "n2": at(2)}}}
		}, []string{
			"held   id=1: default: skip",
			"held   id=2: rule \"rule 1\": latest-commit-wins: no commit timestamp for the row on n3 and the plan has no fallback",
			"held   id=3: default: skip",
			"held   id=4: rule \"rule 1\": latest-commit-wins: no commit timestamp for the row on n1 and the plan has no fallback",
			"held   id=6: rule \"rule 1\": latest-commit-wins: no commit timestamp for the row on n1 and the plan has no fallback",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(testDiff(), tc.opts(t))
			if err != nil {
				t.Fatal(err)
			}
			wantRows(t, "plan", renderPlan(p), tc.want)
		})
	}
}

// TestPlanBadInput: every problem with the options or the plan file is an input error.
func TestPlanBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		yaml string
		want string
	}{
		{"unknown source", Options{Mode: ModeSource, Source: "n9"}, "", `source node "n9" is not a node of the diff file`},
		{"no mode", Options{}, "", "choose one repair mode"},
		{"insert-only and upsert-only", Options{Mode: ModeSource, Source: "n1", InsertOnly: true, UpsertOnly: true}, "", "exclude each other"},
		{"bidirectional insert-only", Options{Mode: ModeBidirectional, InsertOnly: true}, "", "cannot be combined"},
		{"unknown action", Options{Mode: ModePlan}, "default: overwrite\n", `unknown action "overwrite"`},
		{"unknown rule action", Options{Mode: ModePlan}, "rules:\n  - when: {present_on: [n1]}\n    action: take\n", `rule 1 (line 2): unknown action "take"`},
		{"missing column", Options{Mode: ModePlan}, "rules:\n  - when:\n      columns: [{column: nope, equals: 1}]\n    action: skip\n", `names column "nope", which the diff file does not have`},
		{"missing differs column", Options{Mode: ModePlan}, "rules:\n  - when: {differs: [nope]}\n    action: skip\n", `names column "nope"`},
		{"unknown node in take", Options{Mode: ModePlan}, "default: take n7\n", `take n7: "n7" is not a node`},
		{"unknown node in rule", Options{Mode: ModePlan}, "rules:\n  - when: {missing_on: [n7]}\n    action: skip\n", `names node "n7"`},
		{"unknown field", Options{Mode: ModePlan}, "rules:\n  - when: {present: [n1]}\n    action: skip\n", "field present not found"},
		{"two comparisons", Options{Mode: ModePlan}, "rules:\n  - when:\n      columns: [{column: v, equals: a, lt: b}]\n    action: skip\n", "exactly one of"},
		{"override key", Options{Mode: ModePlan}, "overrides:\n  - key: {v: a}\n    action: skip\n", "key must name exactly the key columns"},
		{"unknown version", Options{Mode: ModePlan}, "version: 2\n", "version 2 is not known"},
		{"latest as fallback", Options{Mode: ModePlan}, "fallback: latest-commit-wins\n", "latest-commit-wins cannot be a fallback"},
		{"freshest as fallback", Options{Mode: ModePlan}, "fallback: freshest w\n", "freshest cannot be a fallback"},
		{"freshest unknown column", Options{Mode: ModePlan}, "rules:\n  - when: {differs: [v]}\n    action: freshest updated_at\n",
			`plan rule "rule 1" (line 2): freshest updated_at: column "updated_at" is not a column of the diff file`},
		{"freshest without column", Options{Mode: ModePlan}, "default: freshest\n", `unknown action "freshest"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			if tc.yaml != "" {
				r, err := ParseRules([]byte(tc.yaml))
				if err != nil {
					if !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("parse error %q, want it to contain %q", err, tc.want)
					}
					return
				}
				o.Rules = r
			}
			_, err := NewPlan(testDiff(), o)
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an input error containing %q", err, tc.want)
			}
		})
	}
}

// TestWholeRowPlan: copies are inserted or deleted by count; other modes refuse.
func TestWholeRowPlan(t *testing.T) {
	r := report.Record{{Name: "a", Value: "x"}}
	d := &report.Diff{Format: report.Format, Table: report.TableRef{Schema: "public", Name: "w"}, Key: []string{},
		Nodes: []string{"n1", "n2", "n3"}, Columns: []report.Column{{Name: "a", Type: "text"}},
		Rows: []report.Row{{Key: report.Record{{Name: "row_hash", Value: json.Number("42")}},
			Values: map[string]*report.Record{"n1": &r, "n2": nil, "n3": &r}, Counts: map[string]int64{"n1": 2, "n2": 0, "n3": 3}}}}
	p, err := NewPlan(d, Options{Mode: ModeSource, Source: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range sortedNodes(p.Changes) {
		for _, c := range p.Changes[n] {
			got = append(got, fmt.Sprintf("%s %s %d (had %d)", n, c.Kind, c.Copies, c.ExpectCount))
		}
	}
	wantRows(t, "whole-row plan", got, []string{"n2 insert 2 (had 0)", "n3 delete 1 (had 3)"})
	if _, err := NewPlan(d, Options{Mode: ModeBidirectional}); !fault.IsInput(err) || !strings.Contains(err.Error(), "only --source-of-truth") {
		t.Fatalf("bidirectional on a whole-row diff: %v", err)
	}
}

// TestPlanFromReport parses the plan the HTML report builds (the same text as
// internal/report's planFixtureYAML, which its browser test checks the page produces) and checks
// it decides what the user chose there: key values come as text, integers included.
func TestPlanFromReport(t *testing.T) {
	const fromReport = `# Repair plan built in the pgparity report of public.orders.
# Use: pgparity table-repair --diff-file DIFF_FILE --plan THIS_FILE [--dry-run]
version: 1
overrides:
  - key: {"region":"eu","id":"1"}
    action: take n3
  - key: {"region":"us","id":"9"}
    action: delete
default: take n1
`
	r := func(region string, id int, status string) *report.Record {
		return &report.Record{{Name: "region", Value: region}, {Name: "id", Value: json.Number(fmt.Sprint(id))}, {Name: "status", Value: status}}
	}
	key := func(region string, id int) report.Record {
		return report.Record{{Name: "region", Value: region}, {Name: "id", Value: json.Number(fmt.Sprint(id))}}
	}
	d := &report.Diff{
		Format: report.Format, Cluster: "prod", Table: report.TableRef{Schema: "public", Name: "orders"},
		Key: []string{"region", "id"}, Nodes: []string{"n1", "n2", "n3"},
		Columns: []report.Column{{Name: "region", Type: "text"}, {Name: "id", Type: "bigint"}, {Name: "status", Type: "text"}},
		Rows: []report.Row{
			{Key: key("eu", 1), Values: map[string]*report.Record{"n1": r("eu", 1, "paid"), "n2": nil, "n3": r("eu", 1, "open")}},
			{Key: key("us", 7), Values: map[string]*report.Record{"n1": r("us", 7, "paid"), "n2": r("us", 7, "paid"), "n3": r("us", 7, "new")}},
			{Key: key("us", 9), Values: map[string]*report.Record{"n1": nil, "n2": r("us", 9, "new"), "n3": nil}},
		},
	}
	p, err := NewPlan(d, Options{Mode: ModePlan, Rules: mustRules(t, fromReport)})
	if err != nil {
		t.Fatal(err)
	}
	got := renderPlan(p)
	want := []string{
		"n1 update region=eu, id=1: eu,1,paid -> eu,1,open",
		"n2 delete region=us, id=9: us,9,new -> -",
		"n2 insert region=eu, id=1: - -> eu,1,open",
		"n3 update region=us, id=7: us,7,new -> us,7,paid",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
