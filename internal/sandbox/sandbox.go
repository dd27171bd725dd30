// Package sandbox runs local PostgreSQL nodes from the machine's own server binaries: initdb into a
// directory, pg_ctl start on a free loopback port, as the postgres OS user when the caller is root.
// It serves both `pgparity sandbox` and the integration tests.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pgparity/pgparity/internal/fault"
)

// ErrNoPostgres is returned when no PostgreSQL server binaries can be found.
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found: install them (Debian: apt-get install -y postgresql) or pass --pg-bindir / set PG_BINDIR")

// stateFile is the name of the file, inside the sandbox directory, that records its nodes.
const stateFile = "sandbox.json"

// Superuser is the name of the bootstrap superuser of every sandbox node.
const Superuser = "postgres"

// Options says how to create or start a sandbox.
type Options struct {
	Dir      string            // directory holding every node's data directory and the state file
	Nodes    int               // number of nodes (created once; later calls reuse what exists)
	BinDir   string            // PostgreSQL bin directory; found with FindBinDir when empty
	Settings map[string]string // extra postgresql.conf settings for every node
}

// Node is one sandbox PostgreSQL server.
type Node struct {
	Name    string `json:"name"`
	Port    int    `json:"port"`
	DataDir string `json:"data_dir"`
}

// Sandbox is a set of local nodes sharing a superuser password.
type Sandbox struct {
	Dir      string `json:"dir"`
	BinDir   string `json:"bin_dir"`
	Password string `json:"password"`
	Nodes    []Node `json:"nodes"`
}

// FindBinDir locates PostgreSQL server binaries: the explicit directory, then $PG_BINDIR, then
// `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin. A directory counts only when it
// holds initdb, pg_ctl and postgres.
func FindBinDir(explicit string) (string, error) {
	if explicit != "" {
		if !hasServer(explicit) {
			return "", fault.Input("--pg-bindir %s does not contain initdb, pg_ctl and postgres", explicit)
		}
		return explicit, nil
	}
	if env := os.Getenv("PG_BINDIR"); env != "" {
		if !hasServer(env) {
			return "", fault.Input("PG_BINDIR=%s does not contain initdb, pg_ctl and postgres", env)
		}
		return env, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, m := range matches {
		if hasServer(m) {
			return m, nil
		}
	}
	return "", ErrNoPostgres
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasServer(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// Load reads the state of an existing sandbox directory.
func Load(dir string) (*Sandbox, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fault.Input("no sandbox in %s: run `pgparity sandbox up` first", dir)
		}
		return nil, fmt.Errorf("read sandbox state: %w", err)
	}
	var s Sandbox
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("sandbox state %s is corrupt: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// Up creates the sandbox's nodes that do not exist yet and starts every node that is not running.
// It is idempotent: calling it on a running sandbox changes nothing.
func Up(ctx context.Context, opts Options) (*Sandbox, error) {
	if opts.Nodes < 2 {
		return nil, fault.Input("a sandbox needs at least 2 nodes, got %d", opts.Nodes)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox directory: %w", err)
	}
	s, err := Load(dir)
	if err != nil {
		if !fault.IsInput(err) {
			return nil, err
		}
		bin, err := FindBinDir(opts.BinDir)
		if err != nil {
			return nil, err
		}
		s = &Sandbox{Dir: dir, BinDir: bin, Password: randomPassword()}
	}
	if err := s.prepareDir(); err != nil {
		return nil, err
	}
	for i := len(s.Nodes); i < opts.Nodes; i++ {
		port, err := freePort(s.ports())
		if err != nil {
			return nil, err
		}
		n := Node{Name: fmt.Sprintf("n%d", i+1), Port: port, DataDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1))}
		if err := s.initNode(ctx, n, opts.Settings); err != nil {
			return nil, err
		}
		s.Nodes = append(s.Nodes, n)
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	for i := range s.Nodes {
		if err := s.startOnFreePort(ctx, i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startOnFreePort starts node i; when its port was taken meanwhile by another program, it moves
// the node to a new free port (a later `port` line in postgresql.conf wins) and tries again.
func (s *Sandbox) startOnFreePort(ctx context.Context, i int) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.Start(ctx, s.Nodes[i].Name); err == nil || !strings.Contains(err.Error(), "could not create") {
			return err
		}
		port, perr := freePort(s.ports())
		if perr != nil {
			return perr
		}
		if err := appendConf(s.Nodes[i].DataDir, fmt.Sprintf("port = %d\n", port)); err != nil {
			return err
		}
		s.Nodes[i].Port = port
		if err := s.save(); err != nil {
			return err
		}
	}
	return err
}

// ports returns the ports the sandbox's nodes use.
func (s *Sandbox) ports() map[int]bool {
	used := map[int]bool{}
	for _, n := range s.Nodes {
		used[n.Port] = true
	}
	return used
}

func appendConf(dataDir, text string) error {
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("configure %s: %w", dataDir, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("configure %s: %w", dataDir, err)
	}
	return f.Close()
}

func (s *Sandbox) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, stateFile), b, 0o600)
}

// prepareDir creates the sandbox directory so that the server's OS user can reach it.
func (s *Sandbox) prepareDir() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create sandbox directory: %w", err)
	}
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return fmt.Errorf("sandbox directory: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	// Every parent must be traversable by the postgres user.
	for d := filepath.Dir(s.Dir); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("sandbox directory parent: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fault.Input("sandbox directory %s is inside %s, which the postgres OS user cannot enter; choose another --dir", s.Dir, d)
		}
	}
	return nil
}

func (s *Sandbox) initNode(ctx context.Context, n Node, settings map[string]string) error {
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory for %s: %w", n.Name, err)
	}
	pwfile := filepath.Join(s.Dir, "."+n.Name+".pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if cred != nil {
		for _, p := range []string{n.DataDir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("chown %s: %w", p, err)
			}
		}
	}
	if out, err := s.run(ctx, cred, "initdb", "-D", n.DataDir, "-U", Superuser, "--pwfile", pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return fmt.Errorf("initdb %s: %w: %s", n.Name, err, lastLines(out))
	}
	conf := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(n.Port),
		"unix_socket_directories": "''",
		"wal_level":               "logical",
		"max_wal_senders":         "10",
		"max_replication_slots":   "10",
		"track_commit_timestamp":  "on",
		"fsync":                   "off", // sandbox data is disposable; loading is much faster
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"shared_buffers":          "256MB",
		"max_connections":         "200",
		"logging_collector":       "off",
	}
	for k, v := range settings {
		conf[k] = v
	}
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\n# pgparity sandbox\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, conf[k])
	}
	return appendConf(n.DataDir, b.String())
}

// Start starts one node if it is not running.
func (s *Sandbox) Start(ctx context.Context, name string) error {
	n, err := s.node(name)
	if err != nil {
		return err
	}
	if s.running(ctx, n) {
		return nil
	}
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	logFile := filepath.Join(n.DataDir, "server.log")
	if out, err := s.run(ctx, cred, "pg_ctl", "-D", n.DataDir, "-l", logFile, "-w", "-t", "60", "start"); err != nil {
		logTail, _ := os.ReadFile(logFile)
		return fmt.Errorf("start node %s (port %d): %w: %s %s", n.Name, n.Port, err, lastLines(out), lastLines(logTail))
	}
	return nil
}

// Stop stops one node (fast shutdown) if it is running.
func (s *Sandbox) Stop(ctx context.Context, name string) error {
	n, err := s.node(name)
	if err != nil {
		return err
	}
	return s.stop(ctx, n, "fast")
}

// Kill stops one node immediately, as a crash would.
func (s *Sandbox) Kill(ctx context.Context, name string) error {
	n, err := s.node(name)
	if err != nil {
		return err
	}
	return s.stop(ctx, n, "immediate")
}

func (s *Sandbox) stop(ctx context.Context, n Node, mode string) error {
	if !s.running(ctx, n) {
		return nil
	}
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	if out, err := s.run(ctx, cred, "pg_ctl", "-D", n.DataDir, "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("stop node %s: %w: %s", n.Name, err, lastLines(out))
	}
	return nil
}

// Down stops every node; it never leaves a server process behind on success.
func (s *Sandbox) Down(ctx context.Context) error {
	var errs []error
	for _, n := range s.Nodes {
		errs = append(errs, s.stop(ctx, n, "fast"))
	}
	return errors.Join(errs...)
}

// Destroy stops every node and removes the sandbox directory.
func (s *Sandbox) Destroy(ctx context.Context) error {
	if err := s.Down(ctx); err != nil {
		return err
	}
	return os.RemoveAll(s.Dir)
}

// NodeStatus is one node's line in Status.
type NodeStatus struct {
	Node
	Running bool `json:"running"`
}

// Status reports whether each node is running.
func (s *Sandbox) Status(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(s.Nodes))
	for i, n := range s.Nodes {
		out[i] = NodeStatus{Node: n, Running: s.running(ctx, n)}
	}
	return out
}

func (s *Sandbox) running(ctx context.Context, n Node) bool {
	// pg_ctl status exits 0 when the server runs, 3 when it does not. The data directory is
	// readable only by the server's OS user.
	cred, err := serverCredential()
	if err != nil {
		return false
	}
	_, err = s.run(ctx, cred, "pg_ctl", "-D", n.DataDir, "status")
	return err == nil
}

func (s *Sandbox) node(name string) (Node, error) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fault.Input("sandbox has no node %q", name)
}

// run executes a PostgreSQL binary, as the server's OS user when cred is set.
func (s *Sandbox) run(ctx context.Context, cred *syscall.Credential, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, bin), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.Dir = s.Dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		cmd.Env = append(cmd.Env, "HOME="+s.Dir)
	}
	return cmd.CombinedOutput()
}

// serverCredential returns the credential to run servers with: nil when not root, else the
// postgres OS user's, creating that user when missing.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("create the postgres OS user (PostgreSQL refuses to run as root): %w: %s", err, lastLines(out))
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("look up the postgres OS user: %w", err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// freePort returns a loopback port nothing listens on now and that is not in used (ports given
// to nodes not started yet).
func freePort(used map[int]bool) (int, error) {
	for attempt := 0; attempt < 20; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free loopback port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !used[port] {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free loopback port: none found")
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " / ")
}
