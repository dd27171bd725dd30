package cluster

import (
	"fmt"
	"time"
)

// ServerSettings are the `server:` section of pgparity.yaml, read by `pgparity serve`.
type ServerSettings struct {
	Listen   string `yaml:"listen"`
	TLSCert  string `yaml:"tls_cert"`
	TLSKey   string `yaml:"tls_key"`
	ClientCA string `yaml:"client_ca"`
	// Insecure allows plain HTTP, and only on a loopback listen address.
	Insecure bool `yaml:"insecure"`
	// Roles map a client certificate's common name to viewer, operator or admin.
	Roles         map[string]string `yaml:"roles"`
	MetricsListen string            `yaml:"metrics_listen"`
	// JobRescueAfter is how long a job may stay running on an instance that stopped answering
	// before another instance takes it over (default 60s).
	JobRescueAfter Duration `yaml:"job_rescue_after"`
	// Workers is how many jobs this instance runs at once (default 4).
	Workers int `yaml:"workers"`
	// MaxJobsPerNode bounds the jobs touching one node at once, across all instances (default 2).
	MaxJobsPerNode int `yaml:"max_jobs_per_node"`
	// DrainTimeout is how long SIGTERM waits for running jobs before cancelling them (default 5m).
	DrainTimeout Duration `yaml:"drain_timeout"`
	// SplitRanges: a table-diff job planning more key ranges than this is split into range-batch
	// jobs that several workers run at once (default 64; -1 never splits).
	SplitRanges int `yaml:"split_ranges"`
	// SplitBatch is how many ranges one batch job of a split table-diff hashes (default 20).
	SplitBatch int `yaml:"split_batch"`
}

// Schedule is one entry of the `schedules:` list: a command enqueued at an interval (Every) or
// at the minutes a 5-field cron expression (Cron, UTC) names.
type Schedule struct {
	Name    string   `yaml:"name"`
	Every   Duration `yaml:"every"`
	Cron    string   `yaml:"cron"`
	Jitter  Duration `yaml:"jitter"`
	Command string   `yaml:"command"`
	Cluster string   `yaml:"cluster"`
	Table   string   `yaml:"table"`
	Schema  string   `yaml:"schema"`
	// Publication is what verify takes.
	Publication string `yaml:"publication"`
	// Options use the command-line flag names of the command, as in POST /v1/jobs.
	Options map[string]any `yaml:"options"`
}

// Roles a client certificate can be given.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// ServeConfig returns the server section with its defaults filled in.
func (s Settings) ServeConfig() ServerSettings {
	var out ServerSettings
	if s.Server != nil {
		out = *s.Server
	}
	if out.Listen == "" {
		out.Listen = "127.0.0.1:8443"
	}
	if out.JobRescueAfter.Duration == 0 {
		out.JobRescueAfter.Duration = 60 * time.Second
	}
	if out.Workers == 0 {
		out.Workers = 4
	}
	if out.MaxJobsPerNode == 0 {
		out.MaxJobsPerNode = 2
	}
	if out.DrainTimeout.Duration == 0 {
		out.DrainTimeout.Duration = 5 * time.Minute
	}
	if out.SplitRanges == 0 {
		out.SplitRanges = 64
	}
	if out.SplitBatch <= 0 {
		out.SplitBatch = 20
	}
	return out
}

// ScheduleList returns the schedules (nil when none are configured).
func (s Settings) ScheduleList() []Schedule {
	if s.Schedules == nil {
		return nil
	}
	return *s.Schedules
}

// validateServe checks the server section and the schedules as far as they can be checked
// without the server (cron expressions and commands are checked by the server).
func (s Settings) validateServe() error {
	if s.Server != nil {
		v := s.Server
		for cn, role := range v.Roles {
			if role != RoleViewer && role != RoleOperator && role != RoleAdmin {
				return fmt.Errorf("server.roles: %q has role %q (use viewer, operator or admin)", cn, role)
			}
		}
		switch {
		case v.JobRescueAfter.Duration < 0 || v.DrainTimeout.Duration < 0:
			return fmt.Errorf("server: durations must not be negative")
		case v.Workers < 0 || v.MaxJobsPerNode < 0:
			return fmt.Errorf("server: workers and max_jobs_per_node must not be negative")
		case v.SplitRanges < -1 || v.SplitBatch < 0:
			return fmt.Errorf("server: split_ranges must be -1 (never split) or more, split_batch 0 or more")
		case (v.TLSCert == "") != (v.TLSKey == ""):
			return fmt.Errorf("server: tls_cert and tls_key go together")
		}
	}
	seen := map[string]bool{}
	for i, sc := range s.ScheduleList() {
		switch {
		case sc.Name == "":
			return fmt.Errorf("schedules[%d]: name is required", i)
		case seen[sc.Name]:
			return fmt.Errorf("schedules: name %q is used twice", sc.Name)
		case (sc.Every.Duration > 0) == (sc.Cron != ""):
			return fmt.Errorf("schedule %s: give exactly one of every (a positive interval) or cron", sc.Name)
		case sc.Every.Duration < 0 || sc.Jitter.Duration < 0:
			return fmt.Errorf("schedule %s: durations must not be negative", sc.Name)
		case sc.Command == "":
			return fmt.Errorf("schedule %s: command is required", sc.Name)
		}
		seen[sc.Name] = true
	}
	return nil
}

// SettingsTemplate is the commented pgparity.yaml written by `pgparity config init`.
const SettingsTemplate = settingsBase + serveTemplate

// serveTemplate is the commented serve part of SettingsTemplate.
const serveTemplate = `
# pgparity serve: HTTP API, scheduler, metrics and dashboard (docs/serve.md). Its job queue lives
# with the history store: in history_dsn's PostgreSQL database (several instances share it), else
# in the SQLite file (history_path; one instance).
# server:
#   listen: 127.0.0.1:8443
#   tls_cert: server.crt
#   tls_key: server.key
#   client_ca: ca.crt            # mTLS: every client presents a certificate signed by this CA
#   roles:                       # client certificate CN -> viewer | operator | admin
#     ops-bot: operator          # viewer: read; operator: + run diffs/verify; admin: + repair
#   metrics_listen: 127.0.0.1:9187   # optional plain-HTTP listener serving only /metrics
#   insecure: false              # plain HTTP without certificates: only on a loopback listen
#   job_rescue_after: 60s        # a job of an instance that died is taken over after this
#   workers: 4                   # jobs this instance runs at once
#   max_jobs_per_node: 2         # jobs touching one node at once, across all instances
#   drain_timeout: 5m            # SIGTERM waits this long for running jobs
#   split_ranges: 64             # a table-diff of more ranges is split into batch jobs (-1: never)
#   split_batch: 20              # ranges per batch job of a split table-diff

# Commands run on a schedule by pgparity serve.
# schedules:
#   - name: customers-every-minute
#     every: 1m                  # or cron: "0 3 * * *" (UTC)
#     jitter: 10s                # start up to this much later (the same delay on every instance)
#     command: table-diff        # table-diff | schema-diff (verify, mtree table-diff when built)
#     cluster: prod
#     table: public.customers    # or schema: / publication: as the command takes
#     options: {output: html}    # the command's flags by name
`
