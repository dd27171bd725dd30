package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func TestMain(m *testing.M) {
	// Commands record their runs in the history store: under a temporary state directory, never
	// the user's.
	state, err := os.MkdirTemp("", "pgparity-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Setenv("XDG_STATE_HOME", state)
	code := sandbox.RunTests(m, 2)
	os.RemoveAll(state)
	os.Exit(code)
}

// run executes a command line as main would and returns the exit code and both outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, "test", args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// isolate makes an empty temporary directory the working directory and points every service-file
// and settings location at empty directories, so that nothing on the machine is found.
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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestInputErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // written into the working directory first
		args  []string
		want  []string // parts of the one-line message on stderr
		skip  func() string
	}{
		{
			name: "unknown flag",
			args: []string{"cluster", "check", "--bogus"},
			want: []string{"pgparity: unknown flag: --bogus (see pgparity cluster check --help)"},
		},
		{
			name: "too many arguments",
			args: []string{"cluster", "check", "a", "b"},
			want: []string{"pgparity: pgparity cluster check takes 0 to 1 arguments, got 2"},
		},
		{
			name: "no cluster and no default_cluster",
			args: []string{"cluster", "check"},
			want: []string{"pgparity: no CLUSTER given and no default_cluster in pgparity.yaml"},
		},
		{
			name: "no service file found",
			args: []string{"cluster", "check", "prod"},
			want: []string{"pgparity: no service file found (looked for pg_service.conf, ", "and no prod.json: run `pgparity cluster init` to write one"},
			skip: func() string {
				if _, err := os.Stat("/etc/pg_service.conf"); err == nil {
					return "/etc/pg_service.conf exists on this machine and is always searched"
				}
				return ""
			},
		},
		{
			name:  "cluster not defined",
			files: map[string]string{"pg_service.conf": "[b]\n[b.n1]\n[b.n2]\n[a]\n[a.x]\n[plain]\nhost=h\n"},
			args:  []string{"cluster", "check", "prod"},
			want:  []string{`pgparity: cluster "prod" is not defined in pg_service.conf`, "(clusters defined: a, b)"},
		},
		{
			name:  "unknown keyword in node section",
			files: map[string]string{"pg_service.conf": "[prod]\nhost=h\n\n[prod.n1]\nport=5432\nhots=x\n"},
			args:  []string{"cluster", "check", "prod"},
			want:  []string{`pgparity: pg_service.conf:6: unknown connection keyword "hots" in [prod.n1] (known: `},
		},
		{
			name:  "unreadable JSON fallback",
			files: map[string]string{"bad.json": `{"nodes": [{"name": "n1",}]}`},
			args:  []string{"cluster", "check", "bad"},
			want:  []string{"pgparity: bad.json is not a valid cluster file: invalid character '}'"},
		},
		{
			name:  "config file with a wrong type",
			files: map[string]string{"settings.yaml": "block_size: lots\n", "pg_service.conf": "[c]\n[c.n1]\n"},
			args:  []string{"--config", "settings.yaml", "cluster", "check", "c"},
			want:  []string{"pgparity: config file settings.yaml: line 1: cannot unmarshal !!str `lots` into int"},
		},
		{
			name:  "config file with an unknown key",
			files: map[string]string{"pgparity.yaml": "default_clustr: c\n"},
			args:  []string{"cluster", "check"},
			want:  []string{"pgparity: config file pgparity.yaml: line 1: field default_clustr not found"},
		},
		{
			name: "missing --service-file",
			args: []string{"--service-file", "nope.conf", "cluster", "check", "c"},
			want: []string{"pgparity: service file nope.conf does not exist"},
		},
		{
			name:  "bad connection settings",
			files: map[string]string{"pg_service.conf": "[c]\npassword=Zq9 Xw'Yv7 Kp3\n[c.n1]\nport=abc\n[c.n2]\n"},
			args:  []string{"cluster", "check", "c"},
			want:  []string{"pgparity: node n1: bad connection settings: invalid port"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != nil {
				if why := tc.skip(); why != "" {
					t.Skip(why)
				}
			}
			dir := isolate(t)
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			before := listDir(t, dir)
			code, stdout, stderr := run(t, tc.args...)
			if code != ExitInput {
				t.Errorf("exit %d, want %d; stderr %q", code, ExitInput, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			for _, secret := range []string{"Zq9", "Yv7", "Kp3"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("stderr leaks a password: %q", stderr)
				}
			}
			if after := listDir(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("files in the working directory changed from %v to %v", before, after)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := run(t, "version")
	if code != ExitOK || stdout != "pgparity test\n" || stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestClusterInit(t *testing.T) {
	dir := isolate(t)
	path := filepath.Join(dir, "svc.conf")
	code, stdout, stderr := run(t, "cluster", "init", "--path", path)
	if code != ExitOK || stderr != "" || !strings.HasPrefix(stdout, "wrote "+path+" (mode 0600)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != cluster.ServiceTemplate {
		t.Errorf("file is not the template")
	}

	writeFile(t, path, "# mine\n")
	code, stdout, stderr = run(t, "cluster", "init", "--path", path)
	if code != ExitInput || stdout != "" || stderr != "pgparity: "+path+" already exists: pass --force to overwrite it\n" {
		t.Errorf("second run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "# mine\n" {
		t.Errorf("second run changed the file: %q", b)
	}
	if code, _, stderr := run(t, "cluster", "init", "--path", path, "--force"); code != ExitOK {
		t.Errorf("--force: exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != cluster.ServiceTemplate {
		t.Errorf("--force did not write the template")
	}
	code, stdout, _ = run(t, "cluster", "init", "--stdout")
	if code != ExitOK || stdout != cluster.ServiceTemplate {
		t.Errorf("--stdout: exit %d", code)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"svc.conf"}) {
		t.Errorf("files %v, want only svc.conf", got)
	}
}

func TestConfigInit(t *testing.T) {
	dir := isolate(t)
	code, stdout, stderr := run(t, "config", "init")
	if code != ExitOK || stdout != "wrote pgparity.yaml\n" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	path := filepath.Join(dir, "pgparity.yaml")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat %v %v: want mode 0644", fi, err)
	}
	if b, _ := os.ReadFile(path); string(b) != cluster.SettingsTemplate {
		t.Errorf("file is not the template")
	}
	writeFile(t, path, "block_size: 100\n")
	code, stdout, stderr = run(t, "config", "init")
	if code != ExitInput || stdout != "" || stderr != "pgparity: pgparity.yaml already exists: pass --force to overwrite it\n" {
		t.Errorf("second run: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "block_size: 100\n" {
		t.Errorf("second run changed the file: %q", b)
	}
	if code, _, stderr := run(t, "config", "init", "--force"); code != ExitOK {
		t.Errorf("--force: exit %d, stderr %q", code, stderr)
	}
}

func TestClusterCheck(t *testing.T) {
	isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, "CREATE PUBLICATION p1 FOR ALL TABLES", "n1")
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "cluster", "check", "c")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows, got %q", stdout)
	}
	if got := strings.Fields(lines[0]); !reflect.DeepEqual(got, []string{"NODE", "ADDRESS", "VERSION", "WAL_LEVEL", "COMMIT_TS", "PUBLICATIONS", "SUBSCRIPTIONS", "SUPERUSER", "REPL_ROLE"}) {
		t.Errorf("header %q", lines[0])
	}
	for i, n := range db.Nodes() {
		f := strings.Fields(lines[i+1])
		pubs := "-"
		if n.Name == "n1" {
			pubs = "p1"
		}
		want := []string{n.Name, fmt.Sprintf("127.0.0.1:%d", n.Port), "logical", "on", pubs, "-", "yes", "yes"}
		if len(f) != 9 || !reflect.DeepEqual(append(f[:2:2], f[3:]...), want) {
			t.Errorf("row %q, want %v around the version", lines[i+1], want)
		}
	}
	// Columns are aligned: every row starts its ADDRESS at the same offset as the header.
	col := strings.Index(lines[0], "ADDRESS")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "127.0.0.1:") {
			t.Errorf("row %q not aligned with the header", l)
		}
	}

	// default_cluster from the settings file, --json output.
	cfg := filepath.Join(t.TempDir(), "p.yaml")
	writeFile(t, cfg, "default_cluster: c\nservice_file: "+svc+"\n")
	code, stdout, stderr = run(t, "--config", cfg, "cluster", "check", "--json")
	if code != ExitOK || stderr != "" {
		t.Fatalf("--json: exit %d, stderr %q", code, stderr)
	}
	var statuses []cluster.NodeStatus
	if err := json.Unmarshal([]byte(stdout), &statuses); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if len(statuses) != 2 || statuses[0].Name != "n1" || statuses[1].Name != "n2" ||
		!reflect.DeepEqual(statuses[0].Publications, []string{"p1"}) || !statuses[1].Reachable || statuses[1].WalLevel != "logical" {
		t.Errorf("--json: %+v", statuses)
	}
	for _, key := range []string{`"server_version"`, `"wal_level": "logical"`, `"track_commit_timestamp": true`, `"publications": []`, `"subscriptions": []`, `"can_set_replication_role": true`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("--json output lacks %s:\n%s", key, stdout)
		}
	}
}

func TestClusterCheckUnreachableExit3(t *testing.T) {
	isolate(t)
	db := sandbox.NewDB(t)
	pass, err := db.Sandbox.PassFile()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	svc := filepath.Join(t.TempDir(), "svc.conf")
	writeFile(t, svc, fmt.Sprintf("[c]\nhost=127.0.0.1\nuser=%s\ndbname=%s\nsslmode=disable\npassfile=%s\nconnect_timeout=5\n\n[c.n1]\nport=%d\n\n[c.ghost]\nport=%d\n",
		sandbox.Superuser, db.Name, pass, db.Nodes()[0].Port, closed))

	for _, args := range [][]string{{"cluster", "check", "c"}, {"cluster", "check", "c", "--json"}} {
		code, stdout, stderr := run(t, append([]string{"--service-file", svc}, args...)...)
		if code != ExitRuntime {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, code, ExitRuntime, stderr)
		}
		wantErr := fmt.Sprintf("pgparity: cluster c: node ghost (127.0.0.1:%d) unreachable: ", closed)
		if !strings.HasPrefix(stderr, wantErr) || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "n1") {
			t.Errorf("%v: stderr %q, want one line starting %q naming only ghost", args, stderr, wantErr)
		}
		if !strings.Contains(stdout, "n1") || !strings.Contains(stdout, "ghost") {
			t.Errorf("%v: the status of both nodes is not printed: %q", args, stdout)
		}
	}
	_, stdout, _ := run(t, "--service-file", svc, "cluster", "check", "c")
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "ghost") && !reflect.DeepEqual(strings.Fields(l)[2:], []string{"unreachable", "-", "-", "-", "-", "-", "-"}) {
			t.Errorf("ghost row %q", l)
		}
	}
}
