package repair

import (
	"encoding/json"
	"testing"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/report"
)

// TestUndoJSON checks the hand-written undo entry encoding against encoding/json: same JSON
// values, read back by ReadUndo's decoder into the same entry.
func TestUndoJSON(t *testing.T) {
	odd := "q\"uote \\ back\nnew\tline \x01 é \u2028 <&>"
	rec := report.Record{{Name: "id", Value: json.Number("-12")}, {Name: "v", Value: odd}, {Name: "n", Value: nil},
		{Name: "b", Value: true}, {Name: "bad utf8", Value: "a\xffb"}, {Name: "e", Value: json.Number("1.5e-3")}}
	cols := []catalog.Column{{Name: "id", BaseOID: 20, TypeOID: 20}, {Name: "v", BaseOID: 25, TypeOID: 25},
		{Name: "n", BaseOID: 1700, TypeOID: 1700}, {Name: "b", BaseOID: 16, TypeOID: 16},
		{Name: "bad utf8", BaseOID: 25, TypeOID: 25}, {Name: "e", BaseOID: 1700, TypeOID: 1700}}
	texts := [][]byte{[]byte("-12"), []byte(odd), nil, []byte("true"), []byte("a\xffb"), []byte("1.5e-3")}
	before := recordOf(cols, []*string{ptr("-12"), ptr(odd), nil, ptr("true"), ptr("a\xffb"), ptr("1.5e-3")})
	want := undoEntry{Node: "n2", Op: Update, Key: rec[:1], Before: &before, After: &rec}

	b, err := appendUndoHead(nil, "n2", Update, rec[:1])
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, `,"before":`...)
	b = newJSONRow(cols).appendTexts(b, texts)
	b = append(b, `,"after":`...)
	if b, err = appendRecord(b, rec); err != nil {
		t.Fatal(err)
	}
	b = append(b, '}')
	ref, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	var got, exp any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	if err := json.Unmarshal(ref, &exp); err != nil {
		t.Fatal(err)
	}
	if g, e := jsonOf(got), jsonOf(exp); g != e {
		t.Errorf("encoding differs:\n got  %s\n want %s", g, e)
	}
	if _, err := appendRecord(nil, report.Record{{Name: "x", Value: json.Number("1x")}}); err == nil {
		t.Error("an invalid number was encoded")
	}
	for s, ok := range map[string]bool{"0": true, "-0.5": true, "10E+3": true, "01": false, "1.": false, "-": false, "": false, "1e": false} {
		if validNumber(s) != ok {
			t.Errorf("validNumber(%q) = %v", s, !ok)
		}
	}
}

func ptr(s string) *string { return &s }
