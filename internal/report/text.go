package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// summaryKeys is how many differing keys WriteSummary lists.
const summaryKeys = 10

// WriteSummary writes a short terminal summary of d: what was compared, the outcome in numbers
// and the first differing keys. Nodes and pairs appear in the order of d.Nodes, so the output
// is deterministic.
func WriteSummary(w io.Writer, d *Diff) error {
	bw := bufio.NewWriter(w)
	s := d.Summary
	fmt.Fprintf(bw, "table:      %s", d.Table)
	if d.Cluster != "" {
		fmt.Fprintf(bw, " (cluster %s)", d.Cluster)
	}
	bw.WriteString("\n")
	fmt.Fprintf(bw, "nodes:      %s\n", strings.Join(d.Nodes, ", "))
	if len(d.Key) > 0 || d.KeySource != "" {
		fmt.Fprintf(bw, "key:        %s\n", keyDescription(d))
	}
	status := s.Status
	if s.PartialReason != "" {
		status += " (" + s.PartialReason + ")"
	}
	fmt.Fprintf(bw, "status:     %s\n", status)
	fmt.Fprintf(bw, "compared:   %s\n", perNode(d.Nodes, func(n string) string {
		return fmt.Sprint(s.RowsCompared[n])
	}))
	fmt.Fprintf(bw, "differing:  %d %s\n", s.DifferingKeys, plural(s.DifferingKeys, "key", "keys"))
	if pairs := orderedPairs(d); len(pairs) > 0 {
		parts := make([]string, len(pairs))
		for i, p := range pairs {
			parts[i] = fmt.Sprintf("%s=%d", p.Name, p.Count)
		}
		fmt.Fprintf(bw, "pairs:      %s\n", strings.Join(parts, "  "))
	}
	fmt.Fprintf(bw, "missing on: %s\n", perNode(d.Nodes, func(n string) string {
		return fmt.Sprint(s.MissingOn[n])
	}))
	fmt.Fprintf(bw, "transient:  %d\n", s.Transient)
	if s.Ranges > 0 {
		fmt.Fprintf(bw, "ranges:     %d (%d differing)\n", s.Ranges, s.RangesDiffering)
	}
	fmt.Fprintf(bw, "duration:   %s\n", duration(d))
	if n := min(len(d.Rows), summaryKeys); n > 0 {
		if n < s.DifferingKeys || n < len(d.Rows) {
			fmt.Fprintf(bw, "first %d of %d differing keys:\n", n, max(s.DifferingKeys, len(d.Rows)))
		} else {
			fmt.Fprintf(bw, "differing keys:\n")
		}
		cols := columnNames(d)
		for _, r := range d.Rows[:n] {
			fmt.Fprintf(bw, "  %s\n", rowLine(d, cols, &r))
		}
	}
	return bw.Flush()
}

// rowLine describes one differing row: "key → present on n1,n3; missing on n2; differs in a,b".
func rowLine(d *Diff, cols []string, r *Row) string {
	var present, missing []string
	for _, n := range d.Nodes {
		if presentRecord(d, r, n) != nil {
			present = append(present, n)
		} else {
			missing = append(missing, n)
		}
	}
	parts := []string{"present on " + orNone(present)}
	if len(missing) > 0 {
		parts = append(parts, "missing on "+strings.Join(missing, ","))
	}
	if r.Counts != nil {
		copies := make([]string, len(d.Nodes))
		for i, n := range d.Nodes {
			copies[i] = fmt.Sprintf("%s=%d", n, r.Counts[n])
		}
		parts = append(parts, "copies "+strings.Join(copies, ","))
	}
	if dc := diffColumns(d, cols, r); len(dc) > 0 {
		names := make([]string, len(dc))
		for i, c := range dc {
			names[i] = cols[c]
		}
		parts = append(parts, "differs in "+strings.Join(names, ","))
	}
	return truncate(keyText(r.Key), 80) + " → " + strings.Join(parts, "; ")
}

func keyDescription(d *Diff) string {
	k := strings.Join(d.Key, ", ")
	switch {
	case k == "" && d.KeySource == "":
		return "(none)"
	case k == "":
		return d.KeySource
	case d.KeySource == "":
		return k
	}
	return k + " (" + d.KeySource + ")"
}

func perNode(nodes []string, value func(string) string) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = n + "=" + value(n)
	}
	return strings.Join(parts, "  ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// duration is the run time, from the summary or else from the timestamps.
func duration(d *Diff) string {
	secs := d.Summary.DurationSeconds
	if secs == 0 && !d.StartedAt.IsZero() && d.FinishedAt.After(d.StartedAt) {
		secs = d.FinishedAt.Sub(d.StartedAt).Seconds()
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond).String()
}

// pairCount is one entry of Summary.Pairs.
type pairCount struct {
	Name  string
	Count int
}

// orderedPairs lists Summary.Pairs in node order (n1/n2, n1/n3, n2/n3), whichever way round
// the file names each pair, followed by any entries naming unknown nodes, sorted.
func orderedPairs(d *Diff) []pairCount {
	var out []pairCount
	seen := map[string]bool{}
	for i, a := range d.Nodes {
		for _, b := range d.Nodes[i+1:] {
			for _, k := range []string{PairKey(a, b), PairKey(b, a)} {
				if c, ok := d.Summary.Pairs[k]; ok && !seen[k] {
					seen[k] = true
					out = append(out, pairCount{Name: PairKey(a, b), Count: c})
					break
				}
			}
		}
	}
	var rest []string
	for k := range d.Summary.Pairs {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, pairCount{Name: k, Count: d.Summary.Pairs[k]})
	}
	return out
}

// columnNames is the compared columns in order; a file without a column list falls back to the
// fields of its rows, in order of first appearance.
func columnNames(d *Diff) []string {
	if len(d.Columns) > 0 {
		out := make([]string, len(d.Columns))
		for i, c := range d.Columns {
			out[i] = c.Name
		}
		return out
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range d.Rows {
		for _, n := range d.Nodes {
			if rec := r.Values[n]; rec != nil {
				for _, f := range *rec {
					if !seen[f.Name] {
						seen[f.Name] = true
						out = append(out, f.Name)
					}
				}
			}
		}
	}
	return out
}

// presentRecord is node n's copy of r, or nil when n lacks the row. In whole-row mode a node
// has the row when its count is positive; its values are those of any node that has them,
// since equal row hashes mean equal rows.
func presentRecord(d *Diff, r *Row, n string) *Record {
	if r.Counts == nil {
		return r.Values[n]
	}
	if c, ok := r.Counts[n]; ok && c <= 0 {
		return nil
	} else if !ok && r.Values[n] == nil {
		return nil
	}
	if rec := r.Values[n]; rec != nil {
		return rec
	}
	for _, m := range d.Nodes {
		if rec := r.Values[m]; rec != nil {
			return rec
		}
	}
	empty := Record{}
	return &empty
}

// diffColumns lists the indexes into cols whose values are not all equal across the nodes
// that have r. A column absent from a record counts as a value of its own.
func diffColumns(d *Diff, cols []string, r *Row) []int {
	var recs []*Record
	for _, n := range d.Nodes {
		if rec := presentRecord(d, r, n); rec != nil {
			recs = append(recs, rec)
		}
	}
	if len(recs) < 2 {
		return nil
	}
	var out []int
	for i, c := range cols {
		v0, ok0 := recs[0].Get(c)
		for _, rec := range recs[1:] {
			v, ok := rec.Get(c)
			if ok != ok0 || (ok && !jsonEqual(v0, v)) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// jsonEqual reports whether a and b encode to the same JSON, the equality the diff file has.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return true
		}
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	case json.Number:
		if y, ok := b.(json.Number); ok {
			return x == y
		}
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// keyText renders a key as "a=1, b=x".
func keyText(k Record) string {
	parts := make([]string, len(k))
	for i, f := range k {
		s, _ := valueText(f.Value)
		parts[i] = f.Name + "=" + s
	}
	return strings.Join(parts, ", ")
}

// valueText renders a field value as text; null reports SQL NULL (rendered "NULL").
func valueText(v any) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "NULL", true
	case string:
		return x, false
	case bool:
		if x {
			return "true", false
		}
		return "false", false
	case json.Number:
		return x.String(), false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), false
	}
	return string(b), false
}
