package cdc

import (
	"testing"

	"github.com/pgparity/pgparity/internal/fault"
)

func TestChooseKind(t *testing.T) {
	for _, tc := range []struct {
		kind, walLevel, want, err string
	}{
		{"", "logical", CDC, ""},
		{"", "replica", Trigger, ""},
		{Trigger, "logical", Trigger, ""},
		{CDC, "logical", CDC, ""},
		{CDC, "replica", "", "node n1 has wal_level = replica: the cdc tracker needs logical decoding; use --tracker trigger, or set wal_level = logical and restart the node"},
		{"bogus", "logical", "", `--tracker must be cdc or trigger, got "bogus"`},
	} {
		got, err := chooseKind(tc.kind, tc.walLevel, "n1")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !fault.IsInput(err) {
				t.Errorf("%q on %s: %v, want input error %q", tc.kind, tc.walLevel, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q on %s: %q, %v; want %q", tc.kind, tc.walLevel, got, err, tc.want)
		}
	}
}
