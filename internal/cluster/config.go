// Package cluster owns cluster definitions (libpq service files with [cluster] and [cluster.node]
// sections, or a JSON fallback), the runtime defaults file, and the connection pools to every node
// with the session settings that make values render identically everywhere.
package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pgparity/pgparity/internal/fault"
)

// Node is one PostgreSQL node of a cluster: its name and its libpq keywords, shared keywords of
// the cluster already merged in.
type Node struct {
	Name   string
	Params map[string]string
}

// Cluster is a named set of nodes meant to hold the same rows.
type Cluster struct {
	Name   string
	Source string // file the definition was read from
	Nodes  []Node
}

// Keywords are the libpq connection keywords a cluster or node section may set: the ones pgx
// understands. Anything else is rejected so that a typo never silently connects elsewhere.
var Keywords = map[string]bool{
	"host": true, "port": true, "dbname": true, "user": true, "password": true, "passfile": true,
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslsni": true, "sslnegotiation": true, "sslcertmode": true, "connect_timeout": true,
	"target_session_attrs": true, "options": true, "krbsrvname": true, "krbspn": true,
	"channel_binding": true, "require_auth": true,
}

// LoadOptions says where to look for cluster definitions.
type LoadOptions struct {
	ServiceFile string // explicit file (flag); skips discovery when set
	Dir         string // directory holding <cluster>.json fallbacks; "." when empty
}

// ServiceFileCandidates returns the files searched for cluster definitions, in order:
// $PGPARITY_SERVICEFILE, $PGSERVICEFILE, ./pg_service.conf, ~/.pg_service.conf,
// $PGSYSCONFDIR/pg_service.conf, /etc/pg_service.conf.
func ServiceFileCandidates() []string {
	var c []string
	for _, env := range []string{"PGPARITY_SERVICEFILE", "PGSERVICEFILE"} {
		if v := os.Getenv(env); v != "" {
			c = append(c, v)
		}
	}
	c = append(c, "pg_service.conf")
	if home, err := os.UserHomeDir(); err == nil {
		c = append(c, filepath.Join(home, ".pg_service.conf"))
	}
	if v := os.Getenv("PGSYSCONFDIR"); v != "" {
		c = append(c, filepath.Join(v, "pg_service.conf"))
	}
	return append(c, "/etc/pg_service.conf")
}

// Load finds and reads the definition of cluster name: from the explicit service file, else from
// the first candidate service file that defines it, else from <name>.json in opts.Dir.
func Load(name string, opts LoadOptions) (*Cluster, error) {
	if name == "" {
		return nil, fault.Input("no cluster named: pass CLUSTER or set default_cluster in pgparity.yaml")
	}
	if opts.ServiceFile != "" {
		secs, err := parseServiceFile(opts.ServiceFile)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fault.Input("service file %s does not exist", opts.ServiceFile)
		}
		if err != nil {
			return nil, err
		}
		return fromSections(name, opts.ServiceFile, secs)
	}
	var seen []string
	known := map[string]bool{}
	for _, path := range ServiceFileCandidates() {
		secs, err := parseServiceFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		seen = append(seen, path)
		if _, ok := secs.get(name); ok {
			return fromSections(name, path, secs)
		}
		for _, c := range secs.clusters() {
			known[c] = true
		}
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	jsonPath := filepath.Join(dir, name+".json")
	if _, err := os.Stat(jsonPath); err == nil {
		return loadJSON(name, jsonPath)
	}
	if len(seen) == 0 {
		return nil, fault.Input("no service file found (looked for %s) and no %s: run `pgparity cluster init` to write one",
			strings.Join(ServiceFileCandidates(), ", "), jsonPath)
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	defined := "none"
	if len(names) > 0 {
		defined = strings.Join(names, ", ")
	}
	return nil, fault.Input("cluster %q is not defined in %s (clusters defined: %s)", name, strings.Join(seen, ", "), defined)
}

// section is one [name] block of a service file.
type section struct {
	name   string
	line   int
	params map[string]string
	lines  map[string]int
}

type sections struct {
	path string
	list []*section
}

func (s sections) get(name string) (*section, bool) {
	for _, sec := range s.list {
		if sec.name == name {
			return sec, true
		}
	}
	return nil, false
}

// clusters returns the names of sections that have at least one node section.
func (s sections) clusters() []string {
	var out []string
	for _, sec := range s.list {
		if i := strings.IndexByte(sec.name, '.'); i < 0 {
			for _, other := range s.list {
				if strings.HasPrefix(other.name, sec.name+".") {
					out = append(out, sec.name)
					break
				}
			}
		}
	}
	return out
}

// parseServiceFile reads a libpq service file: [section] headers, key=value lines, # comments.
func parseServiceFile(path string) (sections, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return sections{}, err
		}
		return sections{}, fault.Input("cannot read service file %s: %v", path, err)
	}
	defer f.Close()
	out := sections{path: path}
	var cur *section
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return out, fault.Input("%s:%d: malformed section header %q", path, n, line)
			}
			cur = &section{name: strings.TrimSpace(line[1 : len(line)-1]), line: n, params: map[string]string{}, lines: map[string]int{}}
			if _, dup := out.get(cur.name); dup {
				return out, fault.Input("%s:%d: section [%s] defined twice", path, n, cur.name)
			}
			out.list = append(out.list, cur)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return out, fault.Input("%s:%d: expected keyword=value, got %q", path, n, redactLine(line))
		}
		if cur == nil {
			return out, fault.Input("%s:%d: keyword outside of any [section]", path, n)
		}
		k = strings.TrimSpace(k)
		cur.params[k] = strings.TrimSpace(v)
		cur.lines[k] = n
	}
	if err := sc.Err(); err != nil {
		return out, fault.Input("cannot read service file %s: %v", path, err)
	}
	return out, nil
}

// redactLine keeps a malformed line out of errors when it might hold a password.
func redactLine(line string) string {
	if strings.Contains(strings.ToLower(line), "password") {
		return "<line mentioning a password, not shown>"
	}
	return line
}

func fromSections(name, path string, secs sections) (*Cluster, error) {
	shared, ok := secs.get(name)
	if !ok {
		defined := "none"
		if cs := secs.clusters(); len(cs) > 0 {
			defined = strings.Join(cs, ", ")
		}
		return nil, fault.Input("cluster %q is not defined in %s (clusters defined: %s)", name, path, defined)
	}
	if err := checkKeywords(path, shared); err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Source: path}
	for _, sec := range secs.list {
		node, isNode := strings.CutPrefix(sec.name, name+".")
		if !isNode {
			continue
		}
		if node == "" || strings.ContainsAny(node, ". ") {
			return nil, fault.Input("%s:%d: bad node section name [%s]: use [%s.NODE] with a simple node name", path, sec.line, sec.name, name)
		}
		if err := checkKeywords(path, sec); err != nil {
			return nil, err
		}
		params := map[string]string{}
		for k, v := range shared.params {
			params[k] = v
		}
		for k, v := range sec.params {
			params[k] = v
		}
		c.Nodes = append(c.Nodes, Node{Name: node, Params: params})
	}
	if len(c.Nodes) == 0 {
		return nil, fault.Input("cluster %q in %s has no node sections: add [%s.n1], [%s.n2] ...", name, path, name, name)
	}
	return c, nil
}

func checkKeywords(path string, sec *section) error {
	keys := make([]string, 0, len(sec.params))
	for k := range sec.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !Keywords[k] {
			return fault.Input("%s:%d: unknown connection keyword %q in [%s] (known: %s)", path, sec.lines[k], k, sec.name, knownKeywords())
		}
	}
	return nil
}

func knownKeywords() string {
	ks := make([]string, 0, len(Keywords))
	for k := range Keywords {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// jsonCluster is the JSON fallback format: shared keywords plus an ordered list of nodes.
type jsonCluster struct {
	Name   string                       `json:"name"`
	Shared map[string]json.RawMessage   `json:"shared"`
	Nodes  []map[string]json.RawMessage `json:"nodes"`
}

func loadJSON(name, path string) (*Cluster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Input("cannot read %s: %v", path, err)
	}
	var jc jsonCluster
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jc); err != nil {
		return nil, fault.Input("%s is not a valid cluster file: %v", path, err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fault.Input("%s is not a valid cluster file: data after the cluster object", path)
	}
	if jc.Name != "" && jc.Name != name {
		return nil, fault.Input("%s defines cluster %q, not %q", path, jc.Name, name)
	}
	shared, err := jsonParams(path, "shared", jc.Shared)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Source: path}
	seen := map[string]bool{}
	for i, raw := range jc.Nodes {
		nameRaw, ok := raw["name"]
		var nodeName string
		if !ok || json.Unmarshal(nameRaw, &nodeName) != nil || nodeName == "" {
			return nil, fault.Input("%s: node %d has no \"name\" string", path, i+1)
		}
		if seen[nodeName] {
			return nil, fault.Input("%s: node %q defined twice", path, nodeName)
		}
		seen[nodeName] = true
		delete(raw, "name")
		own, err := jsonParams(path, "node "+nodeName, raw)
		if err != nil {
			return nil, err
		}
		params := map[string]string{}
		for k, v := range shared {
			params[k] = v
		}
		for k, v := range own {
			params[k] = v
		}
		c.Nodes = append(c.Nodes, Node{Name: nodeName, Params: params})
	}
	if len(c.Nodes) == 0 {
		return nil, fault.Input("%s defines no nodes", path)
	}
	return c, nil
}

func jsonParams(path, where string, raw map[string]json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first unknown keyword reported is the same on every run
	for _, k := range keys {
		v := raw[k]
		if !Keywords[k] {
			return nil, fault.Input("%s: unknown connection keyword %q in %s (known: %s)", path, k, where, knownKeywords())
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			out[k] = n.String()
			continue
		}
		return nil, fault.Input("%s: %s.%s must be a string or a number", path, where, k)
	}
	return out, nil
}

// Select returns the nodes named in names (all when empty), in the cluster's order, and checks
// that at least two remain.
func (c *Cluster) Select(names []string) ([]Node, error) {
	if len(names) == 0 {
		if len(c.Nodes) < 2 {
			return nil, fault.Input("cluster %q has %d node(s); comparing needs at least 2", c.Name, len(c.Nodes))
		}
		return c.Nodes, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if want[n] {
			return nil, fault.Input("node %q named twice in --nodes", n)
		}
		want[n] = true
	}
	var out []Node
	for _, n := range c.Nodes {
		if want[n.Name] {
			out = append(out, n)
			delete(want, n.Name)
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fault.Input("unknown node(s) %s in cluster %q (nodes: %s)", strings.Join(missing, ", "), c.Name, strings.Join(c.NodeNames(), ", "))
	}
	if len(out) < 2 {
		return nil, fault.Input("comparing needs at least 2 nodes, --nodes names %d", len(out))
	}
	return out, nil
}

// NodeNames returns the names of the cluster's nodes in order.
func (c *Cluster) NodeNames() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Name
	}
	return out
}

// Address returns host:port of a node for display (never credentials).
func (n Node) Address() string {
	host := n.Params["host"]
	if host == "" {
		host = "localhost"
	}
	port := n.Params["port"]
	if port == "" {
		port = "5432"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return host
	}
	return net.JoinHostPort(host, port) // brackets an IPv6 literal
}

// connString builds a keyword/value connection string with every value quoted.
func (n Node) connString() string {
	keys := make([]string, 0, len(n.Params))
	for k := range n.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strings.ReplaceAll(n.Params[k], `\`, `\\`)
		v = strings.ReplaceAll(v, `'`, `\'`)
		fmt.Fprintf(&b, "%s='%s' ", k, v)
	}
	return strings.TrimSpace(b.String())
}
