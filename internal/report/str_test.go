package report

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestStrMatchesEncodingJSON checks the hand-written string reader against encoding/json on
// strings written both by AppendJSONString and by json.Marshal (which escapes <, > and & and
// replaces invalid UTF-8), and on escapes neither writes.
func TestStrMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`""`, `"plain"`, `"tab\there"`, `"quote \" and \\ back"`, `"\/slash"`, `"\b\f\n\r\t"`,
		`"\u00e9t\u00C9"`, `"\u2028\u2029"`, `"\ud83d\ude00 smile"`, `"lone \ud83d surrogate"`,
		`"lone low \ude00"`, `"é raw utf-8 ✓"`, "\"invalid \xff byte\"", "\"escape then invalid \\n \xc3\"",
		`"\u0000nul"`, `"<&>"`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "\"", "\\", "\n", "\t", "\x01", "é", "✓", "😀", "\xff", "<", "&", "\u2028", " "}
	for range 2000 {
		var s string
		for range r.IntN(12) {
			s += alphabet[r.IntN(len(alphabet))]
		}
		m, _ := json.Marshal(s)
		docs = append(docs, string(m), string(AppendJSONString(nil, s)))
	}
	for _, doc := range docs {
		var want string
		wantErr := json.Unmarshal([]byte(doc), &want)
		for _, withString := range []bool{false, true} {
			p := recordParser{b: []byte(doc)}
			if withString {
				p.s = doc
			}
			got, err := p.str()
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%q: error %v, encoding/json: %v", doc, err, wantErr)
			}
			if err == nil && (got != want || p.i != len(doc)) {
				t.Fatalf("%q: got %q (at %d of %d), encoding/json: %q", doc, got, p.i, len(doc), want)
			}
		}
	}
	for _, bad := range []string{`"unterminated`, `"bad \x escape"`, `"\u12"`, "\"ctl \x01\""} {
		p := recordParser{b: []byte(bad)}
		if _, err := p.str(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestScalarTexts checks texts(): values become PostgreSQL texts, null stays nil.
func TestScalarTexts(t *testing.T) {
	doc := `[1, -2.5e3, "x", null, true, false, "", "a\"b"]`
	p := recordParser{b: []byte(doc), s: doc}
	got, err := p.texts()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"1", "-2.5e3", "x", nil, "true", "false", "", `a"b`}
	if len(got) != len(want) {
		t.Fatalf("got %d texts, want %d", len(got), len(want))
	}
	for i, w := range want {
		switch {
		case w == nil && got[i] != nil:
			t.Errorf("text %d: got %q, want null", i, *got[i])
		case w != nil && (got[i] == nil || *got[i] != w):
			t.Errorf("text %d: got %v, want %q", i, got[i], w)
		}
	}
}
