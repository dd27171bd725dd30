package schema

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around each change, as diff -u shows.
const diffContext = 3

// maxEdits bounds the line edits unifiedDiff searches for a shortest script (Myers' algorithm
// keeps O(edits²) memory); past it, the diff replaces every line of a with every line of b.
const maxEdits = 2000

// unifiedDiff returns the line differences from text a to text b as `diff -u` prints them: a
// "--- aName" and a "+++ bName" header, then hunks "@@ -l,n +l,n @@" of changed lines ("-" and
// "+") with up to diffContext unchanged lines (" ") around them. Both texts are compared as
// lines ending in a newline (one is added where missing, so no "\ No newline" markers). It
// returns "" when the lines are equal.
func unifiedDiff(aName, bName, a, b string) string {
	al, bl := splitLines(a), splitLines(b)
	script := editScript(al, bl)
	var out strings.Builder
	for _, h := range hunks(script) {
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(h.aStart, h.aLines), hunkRange(h.bStart, h.bLines))
		for _, e := range script[h.from:h.to] {
			out.WriteByte(e.op)
			out.WriteString(e.line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// edit is one line of an edit script: ' ' kept, '-' only in a, '+' only in b.
type edit struct {
	op   byte
	line string
}

// editScript returns a shortest edit script from a to b (Myers, "An O(ND) Difference Algorithm
// and Its Variations"), deletions before insertions within a change.
func editScript(a, b []string) []edit {
	n, m := len(a), len(b)
	// The state before step d holds, for each diagonal k in [-d-1, d+1], the furthest x reached
	// on it, at index k+d+1. trace[d] is that state.
	var trace [][]int
	v := make([]int, 3) // before step 0, diagonal 1 starts at x 0
	for d := 0; d <= n+m; d++ {
		if d > maxEdits {
			return replaceAll(a, b)
		}
		trace = append(trace, v)
		next := make([]int, 2*d+5)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[k-1+d+1] < v[k+1+d+1]) {
				x = v[k+1+d+1] // down: b[y] inserted
			} else {
				x = v[k-1+d+1] + 1 // right: a[x] deleted
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			next[k+d+2] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace)
			}
		}
		v = next
	}
	return replaceAll(a, b) // not reached: step n+m always ends
}

// backtrack walks the states of editScript back from (len(a), len(b)) to (0, 0).
func backtrack(a, b []string, trace [][]int) []edit {
	x, y := len(a), len(b)
	var rev []edit
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		k := x - y
		prevK := k - 1
		if k == -d || (k != d && v[k-1+d+1] < v[k+1+d+1]) {
			prevK = k + 1
		}
		prevX := v[prevK+d+1]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, edit{' ', a[x]})
		}
		if d == 0 {
			break
		}
		if x == prevX {
			rev = append(rev, edit{'+', b[y-1]})
		} else {
			rev = append(rev, edit{'-', a[x-1]})
		}
		x, y = prevX, prevY
	}
	out := make([]edit, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out
}

func replaceAll(a, b []string) []edit {
	out := make([]edit, 0, len(a)+len(b))
	for _, l := range a {
		out = append(out, edit{'-', l})
	}
	for _, l := range b {
		out = append(out, edit{'+', l})
	}
	return out
}

// hunk is script[from:to] with the lines of a and b it covers (1-based starts).
type hunk struct {
	from, to       int
	aStart, aLines int
	bStart, bLines int
}

// hunks groups the changes of a script with diffContext lines around them; changes closer than
// twice that share a hunk.
func hunks(script []edit) []hunk {
	var out []hunk
	for i := 0; i < len(script); {
		if script[i].op == ' ' {
			i++
			continue
		}
		from := max(0, i-diffContext)
		end := i // one past the last change of the hunk
		for j := i; j < len(script); j++ {
			if script[j].op != ' ' {
				end = j + 1
				continue
			}
			if j-end >= 2*diffContext {
				break
			}
		}
		to := min(len(script), end+diffContext)
		out = append(out, hunk{from: from, to: to})
		i = end
	}
	aLine, bLine, pos := 1, 1, 0
	for hi := range out {
		h := &out[hi]
		for ; pos < h.from; pos++ {
			aLine, bLine = advance(script[pos].op, aLine, bLine)
		}
		h.aStart, h.bStart = aLine, bLine
		for ; pos < h.to; pos++ {
			switch script[pos].op {
			case ' ':
				h.aLines++
				h.bLines++
			case '-':
				h.aLines++
			case '+':
				h.bLines++
			}
			aLine, bLine = advance(script[pos].op, aLine, bLine)
		}
	}
	return out
}

func advance(op byte, aLine, bLine int) (int, int) {
	switch op {
	case ' ':
		return aLine + 1, bLine + 1
	case '-':
		return aLine + 1, bLine
	default:
		return aLine, bLine + 1
	}
}

// hunkRange formats one side of a hunk header as GNU diff does: "l" for one line, "l,n"
// otherwise, and for no lines the line before the hunk ("l-1,0").
func hunkRange(start, lines int) string {
	switch lines {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprint(start)
	default:
		return fmt.Sprintf("%d,%d", start, lines)
	}
}
