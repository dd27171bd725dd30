package schema

import "testing"

func TestUnifiedDiff(t *testing.T) {
	for _, tc := range []struct{ name, a, b, want string }{
		{"equal", "x\ny\n", "x\ny", ""},
		{"empty to one line", "", "x", "--- n1\n+++ n2\n@@ -0,0 +1 @@\n+x\n"},
		{"one changed line of a view", " SELECT t.id\n   FROM s.t;", " SELECT t.id,\n    t.m\n   FROM s.t;",
			"--- n1\n+++ n2\n@@ -1,2 +1,3 @@\n- SELECT t.id\n+ SELECT t.id,\n+    t.m\n    FROM s.t;\n"},
		{"context of three lines, two hunks",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n",
			"1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n",
			"--- n1\n+++ n2\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n@@ -12,4 +12,3 @@\n 12\n 13\n 14\n-15\n"},
		{"changes six lines apart share a hunk",
			"a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n",
			"--- n1\n+++ n2\n@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n"},
		{"line removed in the middle", "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nf\ng\nh\n",
			"--- n1\n+++ n2\n@@ -2,7 +2,6 @@\n b\n c\n d\n-e\n f\n g\n h\n"},
		{"all lines removed", "a\nb\n", "", "--- n1\n+++ n2\n@@ -1,2 +0,0 @@\n-a\n-b\n"},
	} {
		if got := unifiedDiff("n1", "n2", tc.a, tc.b); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// A script longer than maxEdits replaces every line.
func TestUnifiedDiffBeyondMaxEdits(t *testing.T) {
	var a, b string
	for i := 0; i <= maxEdits; i++ {
		a += "a\n"
		b += "b\n"
	}
	got := editScript(splitLines(a), splitLines(b))
	if len(got) != 2*(maxEdits+1) || got[0].op != '-' || got[len(got)-1].op != '+' {
		t.Errorf("%d edits, first %c, last %c", len(got), got[0].op, got[len(got)-1].op)
	}
}
