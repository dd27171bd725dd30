package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestInputClassification(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name  string
		err   error
		input bool
		msg   string
	}{
		{"plain", base, false, "boom"},
		{"input", Input("table %s missing", "t"), true, "table t missing"},
		{"wrapped input", fmt.Errorf("load: %w", Input("bad key %q", "x")), true, `load: bad key "x"`},
		{"as input", AsInput(base), true, "boom"},
		{"input wraps", Input("read: %w", base), true, "read: boom"},
	}
	for _, c := range cases {
		if got := IsInput(c.err); got != c.input {
			t.Errorf("%s: IsInput = %v, want %v", c.name, got, c.input)
		}
		if c.err.Error() != c.msg {
			t.Errorf("%s: message %q, want %q", c.name, c.err.Error(), c.msg)
		}
	}
	if AsInput(nil) != nil {
		t.Error("AsInput(nil) must stay nil")
	}
	if !errors.Is(Input("read: %w", base), base) {
		t.Error("Input must keep the wrapped error reachable")
	}
}
