package cluster

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestServeTemplateUncommented loads the template with its serve lines uncommented: every key
// it shows is a known, valid setting.
func TestServeTemplateUncommented(t *testing.T) {
	text := regexp.MustCompile(`(?m)^# ( *)(server:|schedules:|  )`).ReplaceAllString(SettingsTemplate, "$1$2")
	path := filepath.Join(t.TempDir(), "pgparity.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err := LoadSettings(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	c := s.ServeConfig()
	if c.Listen != "127.0.0.1:8443" || c.ClientCA != "ca.crt" || c.Roles["ops-bot"] != RoleOperator ||
		c.JobRescueAfter.Duration != time.Minute || c.MaxJobsPerNode != 2 || c.MetricsListen != "127.0.0.1:9187" {
		t.Fatalf("server = %+v", c)
	}
	sc := s.ScheduleList()
	if len(sc) != 1 || sc[0].Name != "customers-every-minute" || sc[0].Every.Duration != time.Minute ||
		sc[0].Table != "public.customers" || sc[0].Options["output"] != "html" || sc[0].Jitter.Duration != 10*time.Second {
		t.Fatalf("schedules = %+v", sc)
	}
}

func TestServeSettingsInvalid(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"server: {roles: {bob: root}}", `server.roles: "bob" has role "root" (use viewer, operator or admin)`},
		{"server: {tls_cert: a.crt}", "server: tls_cert and tls_key go together"},
		{"schedules: [{name: a, command: table-diff}]", "schedule a: give exactly one of every (a positive interval) or cron"},
		{"schedules: [{name: a, every: 1m, cron: '* * * * *', command: table-diff}]", "schedule a: give exactly one of every (a positive interval) or cron"},
		{"schedules: [{name: a, every: 1m, command: x}, {name: a, every: 1m, command: x}]", `schedules: name "a" is used twice`},
		{"schedules: [{name: a, every: 1m}]", "schedule a: command is required"},
	} {
		path := filepath.Join(t.TempDir(), "pgparity.yaml")
		if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadSettings(path)
		if want := "config file " + path + ": " + c.want; err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", c.yaml, err, want)
		}
	}
}
