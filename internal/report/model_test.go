package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestRecordUnmarshalMatchesEncodingJSON checks the fast record parser against encoding/json on
// escapes, unicode, numbers and every value kind, and that it keeps field order.
func TestRecordUnmarshalMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`,
		` { "a" : 1 , "b":"x" } `,
		`{"id":9007199254740993,"n":-1.5e-7,"t":true,"f":false,"z":null,"s":"tab\there \"q\" \\ \u00e9 \ud83d\ude00 </script>"}`,
		`{"Quote\"d":"", "émoji 😀":"ü","k":"\u0000x"}`,
		"{\"bad\":\"\xff\xfe\"}",
	}
	for _, c := range cases {
		var got Record
		if err := json.Unmarshal([]byte(c), &got); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		dec := json.NewDecoder(strings.NewReader(c))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d fields, want %d", c, len(got), len(want))
		}
		for _, f := range got {
			if !reflect.DeepEqual(f.Value, want[f.Name]) {
				t.Errorf("%s: field %q = %#v, want %#v", c, f.Name, f.Value, want[f.Name])
			}
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(`{"z":1,"a":2,"m":3}`), &r); err != nil {
		t.Fatal(err)
	}
	if r[0].Name != "z" || r[1].Name != "a" || r[2].Name != "m" {
		t.Errorf("field order lost: %v", r)
	}
	for _, bad := range []string{`[]`, `{"a":{}}`, `{"a":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s must be refused", bad)
		}
	}
}
