package server

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// TestAlertRules parses deploy/prometheus/pgparity-alerts.yml (promtool is not packaged here):
// the rule file's structure, durations, balanced expressions, annotation templates, and every
// pgparity metric an expression names is one the server exports.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("../../deploy/prometheus/pgparity-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"up": true}
	m := newMetrics()
	ch := make(chan *prometheus.Desc, 16)
	for _, c := range []prometheus.Collector{m.differingKeys, m.lastCheck, m.runs, m.duration, m.VerifyLag, m.VerifyCoverage} {
		c.Describe(ch)
	}
	close(ch)
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		exported[fq.FindStringSubmatch(d.String())[1]] = true
	}
	funcs := template.FuncMap{"humanize": fmtAny, "humanize1024": fmtAny, "humanizeDuration": fmtAny}
	seen := map[string]bool{}
	metric := regexp.MustCompile(`\b(pgparity_[a-z_]+|up)\b`)
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: alert, expr, labels.severity and annotations.summary are required", r)
			}
			if _, err := time.ParseDuration(r.For); err != nil && r.For != "" {
				t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "[") != strings.Count(r.Expr, "]") {
				t.Errorf("%s: unbalanced expression %q", r.Alert, r.Expr)
			}
			names := metric.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: names no metric", r.Alert)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("%s: metric %s is not exported", r.Alert, n)
				}
			}
			for k, text := range r.Annotations {
				if _, err := template.New(k).Funcs(funcs).Parse("{{ $labels := .Labels }}{{ $value := .Value }}" + text); err != nil {
					t.Errorf("%s: annotation %s: %v", r.Alert, k, err)
				}
			}
		}
	}
	for _, want := range []string{"PgparityDivergenceFound", "PgparityCheckOverdue", "PgparityReplicationLagGrowing"} {
		if !seen[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
}

func fmtAny(v any) string { return "" }
