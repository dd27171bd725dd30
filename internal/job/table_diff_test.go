package job

import (
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
)

func TestParseUntil(t *testing.T) {
	want := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-01T09:30:00Z", want},
		{"2026-12-01T10:30:00+01:00", want},
		{"2026-12-01 10:30:00+01:00", want},
		{"2026-12-01 09:30:00", want},
		{"2026-12-01 09:30", want},
		{"2026-12-01 09:30:00.5", want.Add(500 * time.Millisecond)},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := ParseUntil(c.in)
		if err != nil || got == nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if got, err := ParseUntil(""); got != nil || err != nil {
		t.Errorf(`ParseUntil("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "12/01/2026"} {
		if _, err := ParseUntil(bad); err == nil || !fault.IsInput(err) {
			t.Errorf("ParseUntil(%q): %v, want an input error", bad, err)
		}
	}
}
