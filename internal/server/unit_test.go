package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
)

// TestOpenAPIMatchesRoutes: every operation of openapi.json has a handler with the role the
// document states, and every handler is in the document.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Role string `json:"x-role"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = op.Role
		}
	}
	handled := map[string]string{}
	for _, r := range routes {
		handled[r.Method+" "+r.Path] = r.Role
	}
	for k, role := range documented {
		if h, ok := handled[k]; !ok {
			t.Errorf("%s is documented but has no handler", k)
		} else if h != role {
			t.Errorf("%s: documented role %q, handler's %q", k, role, h)
		}
	}
	for k := range handled {
		if _, ok := documented[k]; !ok {
			t.Errorf("%s has a handler but is not documented", k)
		}
	}
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	var schema struct {
		Components struct {
			Schemas struct {
				JobRequest struct {
					Properties struct {
						Command struct{ Enum []string } `json:"command"`
					} `json:"properties"`
				}
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Components.Schemas.JobRequest.Properties.Command.Enum; !slices.Equal(got, names) {
		t.Errorf("documented commands %v, accepted %v", got, names)
	}
}

func TestCron(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, from, want string }{
		{"* * * * *", "2026-12-02 10:00", "2026-12-02 10:01"},
		{"0 3 * * *", "2026-12-02 10:00", "2026-12-03 03:00"},
		{"0 3 * * *", "2026-12-02 02:59", "2026-12-02 03:00"},
		{"*/15 * * * *", "2026-12-02 10:07", "2026-12-02 10:15"},
		{"5/20 * * * *", "2026-12-02 10:26", "2026-12-02 10:45"},
		{"0 0 1 * *", "2026-12-02 10:00", "2027-01-01 00:00"},
		{"30 8 * * 1-5", "2026-12-04 09:00", "2026-12-07 08:30"}, // Friday after 8:30 -> Monday
		{"0 12 * * 7", "2026-12-02 10:00", "2026-12-06 12:00"},   // 7 is Sunday
		{"0 0 13 * 5", "2026-12-02 10:00", "2026-12-04 00:00"},   // day 13 OR a Friday
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"15,45 1-2 * 6 *", "2026-12-02 10:00", "2027-06-01 01:15"},
		{"0 0 31 2 *", "2026-12-02 10:00", "0001-01-01 00:00"}, // never
	} {
		e, err := parseCron(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := e.Next(at(c.from)); !got.Equal(at(c.want)) {
			t.Errorf("%s after %s = %s, want %s", c.expr, c.from, got, c.want)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"* * * *", `cron "* * * *": want 5 fields (minute hour day-of-month month day-of-week), got 4`},
		{"60 * * * *", `cron "60 * * * *": minute: "60" is not a number from 0 to 59`},
		{"* * 0 * *", `cron "* * 0 * *": day of month: "0" is not a number from 1 to 31`},
		{"*/0 * * * *", `cron "*/0 * * * *": minute: step "0" is not a positive number`},
		{"5-1 * * * *", `cron "5-1 * * * *": minute: range "5-1" runs backwards`},
		{"@daily * * * *", `cron "@daily * * * *": minute: "@daily" is not a number from 0 to 59`},
	} {
		if _, err := parseCron(c.expr); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %s", c.expr, err, c.want)
		}
	}
}

func TestTicksAndJitter(t *testing.T) {
	sc := &schedule{cfg: cluster.Schedule{Name: "a", Every: cluster.Duration{Duration: time.Minute}, Jitter: cluster.Duration{Duration: 30 * time.Second}}}
	now := time.Date(2026, 12, 2, 10, 0, 17, 0, time.UTC)
	tick := sc.tickAfter(now)
	if want := time.Date(2026, 12, 2, 10, 1, 0, 0, time.UTC); !tick.Equal(want) {
		t.Fatalf("tick = %s, want %s", tick, want)
	}
	j := sc.jitter(tick)
	if j < 0 || j >= 30*time.Second || j != sc.jitter(tick) {
		t.Fatalf("jitter %s (same on every instance: %s)", j, sc.jitter(tick))
	}
	other := &schedule{cfg: sc.cfg}
	other.cfg.Name = "b"
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		seen[sc.jitter(tick.Add(time.Duration(i)*time.Minute))] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter hardly varies between ticks: %v", seen)
	}
}

func TestBuildSchedulesRejects(t *testing.T) {
	for _, c := range []struct {
		s    cluster.Schedule
		want string
	}{
		{cluster.Schedule{Name: "r", Every: cluster.Duration{Duration: time.Minute}, Command: "table-repair"}, "schedule r: table-repair changes data and is not run on a schedule"},
		{cluster.Schedule{Name: "x", Every: cluster.Duration{Duration: time.Minute}, Command: "vacuum"}, `schedule x: unknown command "vacuum" (use one of mtree table-diff, schema-diff, table-diff, table-repair, verify)`},
		{cluster.Schedule{Name: "c", Cron: "* *", Command: "table-diff"}, `schedule c: cron "* *": want 5 fields (minute hour day-of-month month day-of-week), got 2`},
	} {
		if _, err := buildSchedules([]cluster.Schedule{c.s}); err == nil || err.Error() != c.want {
			t.Errorf("%+v: %v, want %s", c.s, err, c.want)
		}
	}
}

func TestTLSRequired(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		cfg  cluster.ServerSettings
		want string
	}{
		{cluster.ServerSettings{Listen: "127.0.0.1:8443"}, "server: tls_cert, tls_key and client_ca are required (or insecure: true on a loopback listen address)"},
		{cluster.ServerSettings{Listen: "0.0.0.0:8443", Insecure: true}, "server: insecure: true is allowed only on a loopback listen address, not 0.0.0.0:8443"},
		{cluster.ServerSettings{Listen: ":8443", Insecure: true}, "server: insecure: true is allowed only on a loopback listen address, not :8443"},
		{cluster.ServerSettings{Listen: "10.1.2.3:8443", TLSCert: "a", TLSKey: "b", Insecure: true}, "server: insecure: true is allowed only on a loopback listen address, not 10.1.2.3:8443"},
	} {
		if _, err := tlsConfig(c.cfg, log); err == nil || err.Error() != c.want {
			t.Errorf("%+v: %v, want %s", c.cfg, err, c.want)
		}
	}
	for _, l := range []string{"127.0.0.1:8443", "[::1]:8443", "localhost:1"} {
		if tc, err := tlsConfig(cluster.ServerSettings{Listen: l, Insecure: true}, log); err != nil || tc != nil {
			t.Errorf("%s insecure: %v, %v", l, tc, err)
		}
	}
}
