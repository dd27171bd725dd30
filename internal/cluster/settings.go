package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pgparity/pgparity/internal/fault"
)

// Settings are the runtime defaults of pgparity.yaml. Command-line flags override them; they
// override the built-in defaults.
type Settings struct {
	// Server and Schedules configure `pgparity serve` (serve_settings.go); nil = not given.
	// Pointers keep Settings comparable.
	Server    *ServerSettings `yaml:"server"`
	Schedules *[]Schedule     `yaml:"schedules"`

	DefaultCluster   string   `yaml:"default_cluster"`
	ServiceFile      string   `yaml:"service_file"`
	BlockSize        int      `yaml:"block_size"`
	Concurrency      int      `yaml:"concurrency"`
	MaxConnections   int      `yaml:"max_connections"`
	StatementTimeout Duration `yaml:"statement_timeout"`
	ConnectTimeout   Duration `yaml:"connect_timeout"`
	MaxDiffRows      int      `yaml:"max_diff_rows"`
	OutputDir        string   `yaml:"output_dir"`
	// HistoryPath is the SQLite history store ("" = history.DefaultPath()); HistoryDSN, when
	// set, names a PostgreSQL control-plane database holding the store instead.
	HistoryPath string `yaml:"history_path"`
	HistoryDSN  string `yaml:"history_dsn"`
}

// Duration is a time.Duration written as "30s", "5m" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. 30s, 5m, 0 for none)", n.Line, s)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// DefaultSettings are the built-in defaults.
func DefaultSettings() Settings {
	conc := runtime.NumCPU()
	if conc < 2 {
		conc = 2
	}
	return Settings{
		BlockSize:        10000,
		Concurrency:      conc,
		MaxConnections:   conc,
		StatementTimeout: Duration{0},
		ConnectTimeout:   Duration{10 * time.Second},
		MaxDiffRows:      0,
		OutputDir:        ".",
	}
}

// SettingsCandidates are the files searched for runtime defaults when none is named:
// $PGPARITY_CONFIG, then ./pgparity.yaml.
func SettingsCandidates() []string {
	var c []string
	if v := os.Getenv("PGPARITY_CONFIG"); v != "" {
		c = append(c, v)
	}
	return append(c, "pgparity.yaml")
}

// LoadSettings reads the runtime defaults file over the built-in defaults. An explicit path must
// exist; otherwise the first existing candidate is used, and none is fine.
func LoadSettings(explicit string) (Settings, string, error) {
	s := DefaultSettings()
	paths := SettingsCandidates()
	if explicit != "" {
		paths = []string{explicit}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return s, "", fault.Input("cannot read config file %s: %v", p, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
			return s, "", fault.Input("config file %s: %s", p, oneLine(err))
		}
		if err := s.Validate(); err != nil {
			return s, "", fault.Input("config file %s: %v", p, err)
		}
		return s, p, nil
	}
	return s, "", nil
}

func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:; ")
	return strings.Join(strings.Fields(msg), " ")
}

// Validate checks the ranges of every setting.
func (s Settings) Validate() error {
	switch {
	case s.BlockSize < 10:
		return fmt.Errorf("block_size must be at least 10, got %d", s.BlockSize)
	case s.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", s.Concurrency)
	case s.MaxConnections < 1:
		return fmt.Errorf("max_connections must be at least 1, got %d", s.MaxConnections)
	case s.MaxDiffRows < 0:
		return fmt.Errorf("max_diff_rows must be 0 (no limit) or more, got %d", s.MaxDiffRows)
	case s.StatementTimeout.Duration < 0 || s.ConnectTimeout.Duration < 0:
		return fmt.Errorf("timeouts must not be negative")
	}
	return s.validateServe()
}

// settingsBase is the part of SettingsTemplate before the serve settings.
const settingsBase = `# pgparity runtime defaults. Command-line flags override these values;
# these values override the built-in defaults shown here. Unknown keys are an error.

# Cluster used when a command is given no CLUSTER argument.
default_cluster: ""

# Service file holding cluster definitions ("" = search $PGPARITY_SERVICEFILE, $PGSERVICEFILE,
# ./pg_service.conf, ~/.pg_service.conf, $PGSYSCONFDIR/pg_service.conf, /etc/pg_service.conf).
service_file: ""

# Rows per key range hashed by table-diff. Smaller ranges localise differences with less re-reading;
# larger ranges mean fewer queries.
block_size: 10000

# Ranges hashed at once per node (workers). Default: number of CPU cores.
# concurrency: 8

# Maximum connections pgparity opens to each node. Default: number of CPU cores.
# max_connections: 8

# statement_timeout set on every pgparity session (0 = server default).
statement_timeout: 0s

# Time allowed to establish each connection, unless the node sets connect_timeout.
connect_timeout: 10s

# 0 = no limit: differing keys stream to the diff file as they are found, so memory does not grow
# with their number (a node that lost every row is diffed in bounded memory). N > 0 stops after N
# differing keys and reports status "partial" (exit 1), for a quick look or a smaller file.
max_diff_rows: 0

# Directory for diff files and reports.
output_dir: .

# History store: every run of table-diff, table-rerun, schema-diff, table-repair (and verify,
# mtree table-diff) and every differing key they saw; list it with "pgparity history", skip it with
# --no-history. By default a SQLite file under the user's state directory
# ($XDG_STATE_HOME/pgparity/history.db, else ~/.local/state/pgparity/history.db).
# history_path: /var/lib/pgparity/history.db
# A PostgreSQL control-plane database shared by several pgparity processes or hosts (its schema
# pgparity_history is created by pgparity) instead of the file. Not a node being compared; keep
# the password in a passfile, not here.
# history_dsn: "host=ctl.example.com dbname=pgparity user=pgparity"
`
