package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/fault"
)

// isolate points every service-file and settings location at empty temporary directories and
// makes a fresh temporary directory the working directory, which it returns.
func isolate(t *testing.T) string {
	t.Helper()
	for _, env := range []string{"PGPARITY_SERVICEFILE", "PGSERVICEFILE", "PGPARITY_CONFIG"} {
		t.Setenv(env, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PGSYSCONFDIR", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantInput asserts that err is an input error whose message contains every part.
func wantInput(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an input error containing %q, got nil", parts)
	}
	if !fault.IsInput(err) {
		t.Errorf("want an input error, got %T: %v", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}

func nodeNames(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

func TestLoadServiceFile(t *testing.T) {
	isolate(t)
	path := writeFile(t, filepath.Join(t.TempDir(), "svc.conf"), `# comment line
; another comment style

[other]
host=elsewhere

[prod]
host = db.example.com
dbname=app
user=checker
  # indented comment
sslmode=require

[prod.zeta]
port=5433

[prod.alpha]
host=10.0.0.2
port=5434
password=s3cret

[prod.mid]
dbname=app_copy

[plain]
host=not-a-cluster
`)
	c, err := Load("prod", LoadOptions{ServiceFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "prod" || c.Source != path {
		t.Errorf("Name, Source = %q, %q", c.Name, c.Source)
	}
	want := []Node{
		{Name: "zeta", Params: map[string]string{"host": "db.example.com", "dbname": "app", "user": "checker", "sslmode": "require", "port": "5433"}},
		{Name: "alpha", Params: map[string]string{"host": "10.0.0.2", "dbname": "app", "user": "checker", "sslmode": "require", "port": "5434", "password": "s3cret"}},
		{Name: "mid", Params: map[string]string{"host": "db.example.com", "dbname": "app_copy", "user": "checker", "sslmode": "require"}},
	}
	if !reflect.DeepEqual(c.Nodes, want) {
		t.Errorf("nodes:\n got %v\nwant %v", c.Nodes, want)
	}
	if got := c.NodeNames(); !reflect.DeepEqual(got, []string{"zeta", "alpha", "mid"}) {
		t.Errorf("NodeNames = %v", got)
	}
	addrs := []string{c.Nodes[0].Address(), c.Nodes[1].Address(), c.Nodes[2].Address()}
	if want := []string{"db.example.com:5433", "10.0.0.2:5434", "db.example.com:5432"}; !reflect.DeepEqual(addrs, want) {
		t.Errorf("addresses = %v, want %v", addrs, want)
	}
}

func TestNodeAddress(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, "localhost:5432"},
		{map[string]string{"host": "h", "port": "6000", "password": "pw", "user": "u"}, "h:6000"},
		{map[string]string{"host": "::1", "port": "5433"}, "[::1]:5433"},
		{map[string]string{"host": "h1,h2", "port": "5432,5433"}, "h1,h2"},
	} {
		if got := (Node{Name: "n", Params: tc.params}).Address(); got != tc.want {
			t.Errorf("Address(%v) = %q, want %q", tc.params, got, tc.want)
		}
	}
}

func TestConnStringQuoting(t *testing.T) {
	n := Node{Name: "n", Params: map[string]string{"host": "h", "password": `it's a \ pass`, "port": "5432"}}
	cfg, err := PoolConfig(n, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Password != `it's a \ pass` || cfg.ConnConfig.Host != "h" || cfg.ConnConfig.Port != 5432 {
		t.Errorf("parsed password=%q host=%q port=%d", cfg.ConnConfig.Password, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
}

func TestPoolConfigPinsSettingsAndTimeouts(t *testing.T) {
	n := Node{Name: "n", Params: map[string]string{"host": "h"}}
	cfg, err := PoolConfig(n, PoolOptions{MaxConns: 0, StatementTimeout: 90 * time.Second, ConnectTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range SessionSettings {
		if got := cfg.ConnConfig.RuntimeParams[k]; got != v {
			t.Errorf("RuntimeParams[%s] = %q, want %q", k, got, v)
		}
	}
	if got := cfg.ConnConfig.RuntimeParams["statement_timeout"]; got != "90000" {
		t.Errorf("statement_timeout = %q, want 90000", got)
	}
	if cfg.ConnConfig.ConnectTimeout != 2*time.Second { // rounded up, never 0 (= no timeout)
		t.Errorf("ConnectTimeout = %v, want 2s", cfg.ConnConfig.ConnectTimeout)
	}
	if cfg.MaxConns != 1 {
		t.Errorf("MaxConns = %d, want 1", cfg.MaxConns)
	}
	n.Params["connect_timeout"] = "7"
	cfg, err = PoolConfig(n, PoolOptions{ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.ConnectTimeout != 7*time.Second {
		t.Errorf("node's connect_timeout not kept: %v", cfg.ConnConfig.ConnectTimeout)
	}
}

// pgx's redaction of passwords in parse errors is best effort; ours must not leak any part of one.
func TestPoolConfigErrorHidesPassword(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"host": "h", "port": "abc", "password": "Zq9 Xw'Yv7 Kp3"}, "node n: bad connection settings: invalid port"},
		{map[string]string{"host": "h", "connect_timeout": "soon", "password": `Qz1\' Wv2`}, "node n: bad connection settings: invalid connect_timeout"},
		{map[string]string{"host": "h", "sslmode": "bogus", "password": "Pw9=wi7h Sp4ces"}, "node n: bad connection settings: failed to configure TLS"},
	} {
		_, err := PoolConfig(Node{Name: "n", Params: tc.params}, PoolOptions{})
		wantInput(t, err, tc.want)
		pw := tc.params["password"]
		for _, part := range append(strings.Fields(pw), pw) {
			if len(part) > 2 && strings.Contains(err.Error(), part) {
				t.Errorf("error %q leaks password part %q", err, part)
			}
		}
	}
}

func TestLoadServiceFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    []string
	}{
		{"unknown keyword in node", "[c]\nhost=h\n\n[c.n1]\nport=1\nhots=x\n[c.n2]\n", []string{`:6: unknown connection keyword "hots" in [c.n1]`}},
		{"unknown keyword in shared", "[c]\ndatabase=x\n[c.n1]\n", []string{`:2: unknown connection keyword "database" in [c]`}},
		{"malformed line", "[c]\nhost h\n[c.n1]\n", []string{`:2: expected keyword=value, got "host h"`}},
		{"malformed line with password", "[c]\npassword hunter2\n", []string{`:2: expected keyword=value`, "not shown"}},
		{"malformed header", "[c\nhost=h\n", []string{`:1: malformed section header "[c"`}},
		{"keyword outside section", "host=h\n[c]\n", []string{`:1: keyword outside of any [section]`}},
		{"duplicate section", "[c]\n[c.n1]\n[c.n1]\n", []string{`:3: section [c.n1] defined twice`}},
		{"no nodes", "[c]\nhost=h\n[d]\n[d.n1]\n", []string{`cluster "c" in`, "has no node sections"}},
		{"nested node name", "[c]\n[c.a.b]\n", []string{`:2: bad node section name [c.a.b]`}},
		{"not defined", "[a]\n[a.n1]\n[b]\n[b.x]\n[plain]\nhost=h\n", []string{`cluster "c" is not defined in`, "(clusters defined: a, b)"}},
		{"not defined, none", "[plain]\nhost=h\n", []string{`cluster "c" is not defined in`, "(clusters defined: none)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "svc.conf"), tc.content)
			c, err := Load("c", LoadOptions{ServiceFile: path})
			if c != nil {
				t.Errorf("got a cluster %+v", c)
			}
			wantInput(t, err, append([]string{path}, tc.want...)...)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
	t.Run("missing explicit file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.conf")
		_, err := Load("c", LoadOptions{ServiceFile: path})
		wantInput(t, err, "service file "+path+" does not exist")
	})
	t.Run("no cluster name", func(t *testing.T) {
		_, err := Load("", LoadOptions{})
		wantInput(t, err, "no cluster named")
	})
}

// TestLoadDiscovery checks the search order: the first candidate file that defines the cluster
// wins, files that exist but do not define it are skipped.
func TestLoadDiscovery(t *testing.T) {
	def := func(cluster, tag string) string {
		return "[" + cluster + "]\nhost=" + tag + "\n[" + cluster + ".n1]\n[" + cluster + ".n2]\n"
	}
	type layout struct{ parity, pgservice, cwd, home, sysconf string } // file contents; "" = no file
	all := layout{
		parity:    def("c", "parity") + def("only_parity", "parity"),
		pgservice: def("c", "pgservice"),
		cwd:       def("c", "cwd"),
		home:      def("c", "home") + def("d", "home"),
		sysconf:   def("c", "sysconf") + def("d", "sysconf") + def("e", "sysconf"),
	}
	for _, tc := range []struct {
		name    string
		files   layout
		cluster string
		want    string // host of the winning definition; its file is checked too
	}{
		{"PGPARITY_SERVICEFILE first", all, "c", "parity"},
		{"then PGSERVICEFILE", layout{pgservice: all.pgservice, cwd: all.cwd, home: all.home, sysconf: all.sysconf}, "c", "pgservice"},
		{"then ./pg_service.conf", layout{cwd: all.cwd, home: all.home, sysconf: all.sysconf}, "c", "cwd"},
		{"then ~/.pg_service.conf", layout{home: all.home, sysconf: all.sysconf}, "c", "home"},
		{"then PGSYSCONFDIR", layout{sysconf: all.sysconf}, "c", "sysconf"},
		{"skips files not defining it", all, "d", "home"},
		{"skips to the last", all, "e", "sysconf"},
		{"only in the first", all, "only_parity", "parity"},
		{"a plain section counts as defining it", layout{parity: "[d]\nhost=plain-but-no-nodes\n", home: all.home}, "d", "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cwd := isolate(t)
			paths := map[string]string{}
			put := func(tag, path, content string) {
				if content != "" {
					paths[tag] = writeFile(t, path, content)
				}
			}
			put("parity", filepath.Join(t.TempDir(), "parity.conf"), tc.files.parity)
			put("pgservice", filepath.Join(t.TempDir(), "pgservice.conf"), tc.files.pgservice)
			put("cwd", filepath.Join(cwd, "pg_service.conf"), tc.files.cwd)
			put("home", filepath.Join(os.Getenv("HOME"), ".pg_service.conf"), tc.files.home)
			put("sysconf", filepath.Join(os.Getenv("PGSYSCONFDIR"), "pg_service.conf"), tc.files.sysconf)
			t.Setenv("PGPARITY_SERVICEFILE", paths["parity"])
			t.Setenv("PGSERVICEFILE", paths["pgservice"])
			c, err := Load(tc.cluster, LoadOptions{})
			if tc.want == "plain" {
				// A plain [d] section defines d: it is found first and rejected for having no nodes,
				// as libpq would also read that section for service d.
				wantInput(t, err, `cluster "d" in `+paths["parity"]+" has no node sections")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantSource := paths[tc.want]
			if tc.want == "cwd" {
				wantSource = "pg_service.conf" // relative, as searched
			}
			if c.Source != wantSource || c.Nodes[0].Params["host"] != tc.want {
				t.Errorf("loaded from %s with host %s, want %s with host %s", c.Source, c.Nodes[0].Params["host"], wantSource, tc.want)
			}
		})
	}
	t.Run("not defined anywhere lists what is", func(t *testing.T) {
		isolate(t)
		writeFile(t, "pg_service.conf", def("a", "cwd"))
		writeFile(t, filepath.Join(os.Getenv("HOME"), ".pg_service.conf"), def("b", "home")+"[plain]\nhost=x\n")
		_, err := Load("zz", LoadOptions{})
		wantInput(t, err, `cluster "zz" is not defined in pg_service.conf, `+filepath.Join(os.Getenv("HOME"), ".pg_service.conf"), "(clusters defined: a, b)")
	})
	t.Run("no service file found", func(t *testing.T) {
		if _, err := os.Stat("/etc/pg_service.conf"); err == nil {
			t.Skip("/etc/pg_service.conf exists on this machine")
		}
		isolate(t)
		_, err := Load("c", LoadOptions{})
		wantInput(t, err, "no service file found (looked for pg_service.conf, ", "/etc/pg_service.conf) and no c.json", "pgparity cluster init")
	})
	t.Run("a malformed candidate is reported", func(t *testing.T) {
		isolate(t)
		writeFile(t, "pg_service.conf", "[c]\nbroken\n")
		_, err := Load("c", LoadOptions{})
		wantInput(t, err, `pg_service.conf:2: expected keyword=value, got "broken"`)
	})
}

func TestLoadJSONFallback(t *testing.T) {
	valid := `{
  "name": "j",
  "shared": {"host": "127.0.0.1", "dbname": "app", "connect_timeout": 5},
  "nodes": [
    {"name": "west", "port": 5433},
    {"name": "east", "port": "5434", "host": "10.1.1.1"}
  ]
}`
	t.Run("valid", func(t *testing.T) {
		dir := isolate(t)
		writeFile(t, filepath.Join(dir, "j.json"), valid)
		c, err := Load("j", LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := &Cluster{Name: "j", Source: "j.json", Nodes: []Node{
			{Name: "west", Params: map[string]string{"host": "127.0.0.1", "dbname": "app", "connect_timeout": "5", "port": "5433"}},
			{Name: "east", Params: map[string]string{"host": "10.1.1.1", "dbname": "app", "connect_timeout": "5", "port": "5434"}},
		}}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got  %+v\nwant %+v", c, want)
		}
	})
	t.Run("service file wins over JSON", func(t *testing.T) {
		dir := isolate(t)
		writeFile(t, filepath.Join(dir, "j.json"), valid)
		writeFile(t, filepath.Join(dir, "pg_service.conf"), "[j]\nhost=svc\n[j.n1]\n")
		c, err := Load("j", LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != "pg_service.conf" || !reflect.DeepEqual(c.NodeNames(), []string{"n1"}) {
			t.Errorf("loaded %s with nodes %v", c.Source, c.NodeNames())
		}
	})
	t.Run("Dir option", func(t *testing.T) {
		isolate(t)
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "j.json"), valid)
		c, err := Load("j", LoadOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != filepath.Join(dir, "j.json") || len(c.Nodes) != 2 {
			t.Errorf("loaded %s with %d nodes", c.Source, len(c.Nodes))
		}
	})
	for _, tc := range []struct {
		name    string
		content string
		want    string
	}{
		{"invalid JSON", `{"nodes": [`, "j.json is not a valid cluster file: unexpected EOF"},
		{"not JSON", `nodes: []`, "j.json is not a valid cluster file: invalid character"},
		{"trailing data", `{"nodes": [{"name": "a"}]} {}`, "j.json is not a valid cluster file: data after the cluster object"},
		{"unknown top-level field", `{"nodez": []}`, `j.json is not a valid cluster file: json: unknown field "nodez"`},
		{"unknown keyword in shared", `{"shared": {"hots": "x"}, "nodes": [{"name": "a"}]}`, `j.json: unknown connection keyword "hots" in shared`},
		{"unknown keyword in node", `{"nodes": [{"name": "a", "prot": 1, "zzz": 2}]}`, `j.json: unknown connection keyword "prot" in node a`},
		{"wrong value type", `{"nodes": [{"name": "a", "port": true}]}`, "j.json: node a.port must be a string or a number"},
		{"node without name", `{"nodes": [{"port": 1}]}`, `j.json: node 1 has no "name" string`},
		{"duplicate node", `{"nodes": [{"name": "a"}, {"name": "a"}]}`, `j.json: node "a" defined twice`},
		{"no nodes", `{"nodes": []}`, "j.json defines no nodes"},
		{"other cluster", `{"name": "k", "nodes": [{"name": "a"}]}`, `j.json defines cluster "k", not "j"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			writeFile(t, filepath.Join(dir, "j.json"), tc.content)
			_, err := Load("j", LoadOptions{})
			wantInput(t, err, tc.want)
		})
	}
}

func TestSelect(t *testing.T) {
	c := &Cluster{Name: "c", Nodes: []Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}}
	for _, tc := range []struct {
		names []string
		want  []string // nil = error
		err   string
	}{
		{nil, []string{"n1", "n2", "n3"}, ""},
		{[]string{"n3", "n1"}, []string{"n1", "n3"}, ""}, // cluster order, not argument order
		{[]string{"n1", "n4", "n0"}, nil, `unknown node(s) n0, n4 in cluster "c" (nodes: n1, n2, n3)`},
		{[]string{"n2"}, nil, "comparing needs at least 2 nodes, --nodes names 1"},
		{[]string{"n2", "n1", "n2"}, nil, `node "n2" named twice in --nodes`},
	} {
		got, err := c.Select(tc.names)
		if tc.want == nil {
			wantInput(t, err, tc.err)
			continue
		}
		if err != nil {
			t.Errorf("Select(%v): %v", tc.names, err)
			continue
		}
		if !reflect.DeepEqual(nodeNames(got), tc.want) {
			t.Errorf("Select(%v) = %v, want %v", tc.names, nodeNames(got), tc.want)
		}
	}
	one := &Cluster{Name: "solo", Nodes: []Node{{Name: "n1"}}}
	_, err := one.Select(nil)
	wantInput(t, err, `cluster "solo" has 1 node(s); comparing needs at least 2`)
}

func TestLoadSettings(t *testing.T) {
	t.Run("defaults when no file", func(t *testing.T) {
		isolate(t)
		s, path, err := LoadSettings("")
		if err != nil {
			t.Fatal(err)
		}
		if path != "" || s != DefaultSettings() {
			t.Errorf("got %+v from %q, want defaults from no file", s, path)
		}
	})
	t.Run("file overrides defaults", func(t *testing.T) {
		dir := isolate(t)
		writeFile(t, filepath.Join(dir, "pgparity.yaml"), "default_cluster: prod\nblock_size: 500\nstatement_timeout: 90s\nconnect_timeout: 0\n")
		s, path, err := LoadSettings("")
		if err != nil {
			t.Fatal(err)
		}
		want := DefaultSettings()
		want.DefaultCluster = "prod"
		want.BlockSize = 500
		want.StatementTimeout = Duration{90 * time.Second}
		want.ConnectTimeout = Duration{0}
		if path != "pgparity.yaml" || s != want {
			t.Errorf("got %+v from %q, want %+v from pgparity.yaml", s, path, want)
		}
	})
	t.Run("PGPARITY_CONFIG before ./pgparity.yaml", func(t *testing.T) {
		dir := isolate(t)
		writeFile(t, filepath.Join(dir, "pgparity.yaml"), "block_size: 500\n")
		env := writeFile(t, filepath.Join(t.TempDir(), "env.yaml"), "block_size: 700\n")
		t.Setenv("PGPARITY_CONFIG", env)
		s, path, err := LoadSettings("")
		if err != nil || path != env || s.BlockSize != 700 {
			t.Errorf("got block_size %d from %q (%v), want 700 from %s", s.BlockSize, path, err, env)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		isolate(t)
		path := writeFile(t, "empty.yaml", "")
		s, got, err := LoadSettings(path)
		if err != nil || got != path || s != DefaultSettings() {
			t.Errorf("got %+v from %q (%v), want defaults", s, got, err)
		}
	})
	t.Run("template equals defaults", func(t *testing.T) {
		isolate(t)
		if err := WriteSettingsTemplate("pgparity.yaml", false); err != nil {
			t.Fatal(err)
		}
		s, _, err := LoadSettings("")
		if err != nil || s != DefaultSettings() {
			t.Errorf("template loads as %+v (%v), want the defaults %+v", s, err, DefaultSettings())
		}
	})
	for _, tc := range []struct {
		name, content, want string
	}{
		{"unknown key", "block_size: 100\nblok_size: 5\n", "config file c.yaml: line 2: field blok_size not found in type cluster.Settings"},
		{"wrong type", "block_size: lots\n", "config file c.yaml: line 1: cannot unmarshal !!str `lots` into int"},
		{"bad duration", "statement_timeout: soon\n", `config file c.yaml: line 1: "soon" is not a duration`},
		{"duration without unit", "connect_timeout: 5\n", `config file c.yaml: line 1: "5" is not a duration`},
		{"out of range", "block_size: 5\n", "config file c.yaml: block_size must be at least 10, got 5"},
		{"negative timeout", "statement_timeout: -1s\n", "config file c.yaml: timeouts must not be negative"},
		{"not a mapping", "- a\n- b\n", "config file c.yaml: line 1: cannot unmarshal !!seq into cluster.Settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			writeFile(t, "c.yaml", tc.content)
			_, _, err := LoadSettings("c.yaml")
			wantInput(t, err, tc.want)
		})
	}
	t.Run("missing explicit file", func(t *testing.T) {
		isolate(t)
		_, _, err := LoadSettings("nope.yaml")
		wantInput(t, err, "cannot read config file nope.yaml")
	})
}

func TestWriteTemplate(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "pg_service.conf")
	if err := WriteTemplate(path, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("# edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantInput(t, WriteTemplate(path, false), path+" already exists: pass --force to overwrite it")
	if b, _ := os.ReadFile(path); string(b) != "# edited\n" {
		t.Errorf("refused write changed the file: %q", b)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTemplate(path, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != ServiceTemplate {
		t.Errorf("forced write did not write the template")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after --force %v, want 0600", fi.Mode().Perm())
	}

	c, err := Load("mycluster", LoadOptions{ServiceFile: path})
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]string{"dbname": "app", "user": "pgparity", "sslmode": "prefer", "connect_timeout": "10", "host": "127.0.0.1"}
	want := []Node{{Name: "n1", Params: map[string]string{"port": "5432"}}, {Name: "n2", Params: map[string]string{"port": "5433"}}}
	for _, n := range want {
		for k, v := range shared {
			n.Params[k] = v
		}
	}
	if !reflect.DeepEqual(c.Nodes, want) {
		t.Errorf("template nodes:\n got %v\nwant %v", c.Nodes, want)
	}
}

func TestWriteSettingsTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pgparity.yaml")
	if err := WriteSettingsTemplate(path, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat %v, %v: want mode 0644", fi, err)
	}
	wantInput(t, WriteSettingsTemplate(path, false), path+" already exists: pass --force to overwrite it")
	if err := WriteSettingsTemplate(path, true); err != nil {
		t.Fatal(err)
	}
}
