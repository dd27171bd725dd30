// Package job runs pgparity's commands end to end, for the CLI and (later) the HTTP server alike:
// it resolves settings (flags over pgparity.yaml over defaults), connects to the cluster's nodes,
// runs one capability, streams its outputs to files (diff file, HTML report) and returns a
// result to print. It never prints and never picks an exit code.
package job

import (
	"context"
	"os"
	"path/filepath"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

// Env is what every command needs: runtime settings and where clusters are defined.
type Env struct {
	Settings     cluster.Settings
	SettingsFile string // the pgparity.yaml read ("" when none)
	ServiceFile  string // explicit service file ("" = libpq's search order)
	NoHistory    bool   // record nothing in the history store (--no-history)
}

// Overrides are settings given as flags; zero = not given.
type Overrides struct {
	Concurrency, MaxConnections, BlockSize int
	// MaxDiffRows: nil = not given; 0 = no limit.
	MaxDiffRows *int
}

// LoadEnv reads pgparity.yaml (configFile, or the default search) and applies serviceFile.
func LoadEnv(configFile, serviceFile string) (*Env, error) {
	s, path, err := cluster.LoadSettings(configFile)
	if err != nil {
		return nil, err
	}
	if serviceFile == "" {
		serviceFile = s.ServiceFile
	}
	return &Env{Settings: s, SettingsFile: path, ServiceFile: serviceFile}, nil
}

// With returns a copy of e with the flags applied (flags override the file) and validated.
// Without an explicit MaxConnections, connections grow to the concurrency.
func (e *Env) With(o Overrides) (*Env, error) {
	s := e.Settings
	override(&s.Concurrency, o.Concurrency)
	override(&s.MaxConnections, o.MaxConnections)
	override(&s.BlockSize, o.BlockSize)
	if o.MaxDiffRows != nil {
		s.MaxDiffRows = *o.MaxDiffRows
	}
	if o.MaxConnections == 0 && s.MaxConnections < s.Concurrency {
		s.MaxConnections = s.Concurrency
	}
	if err := s.Validate(); err != nil {
		return nil, fault.AsInput(err)
	}
	out := *e
	out.Settings = s
	return &out, nil
}

func override(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

// Cluster resolves a cluster by name, or default_cluster when name is empty.
func (e *Env) Cluster(name string) (*cluster.Cluster, error) {
	if name == "" {
		name = e.Settings.DefaultCluster
	}
	if name == "" {
		return nil, fault.Input("no CLUSTER given and no default_cluster in pgparity.yaml")
	}
	return cluster.Load(name, cluster.LoadOptions{ServiceFile: e.ServiceFile})
}

// Connect resolves the cluster named (or default_cluster), selects nodeNames (all when empty)
// and opens one pool per node.
func (e *Env) Connect(ctx context.Context, name string, nodeNames []string) (*cluster.Cluster, cluster.Pools, error) {
	cl, err := e.Cluster(name)
	if err != nil {
		return nil, nil, err
	}
	pools, err := e.connectNodes(ctx, cl, nodeNames)
	if err != nil {
		return nil, nil, err
	}
	return cl, pools, nil
}

// connectNodes selects nodeNames of a resolved cluster (all when empty) and opens one pool per node.
func (e *Env) connectNodes(ctx context.Context, cl *cluster.Cluster, nodeNames []string) (cluster.Pools, error) {
	nodes, err := cl.Select(nodeNames)
	if err != nil {
		return nil, err
	}
	return cluster.Connect(ctx, nodes, e.PoolOptions())
}

// PoolOptions derives connection settings from the runtime settings.
func (e *Env) PoolOptions() cluster.PoolOptions {
	return cluster.PoolOptions{
		MaxConns:         e.Settings.MaxConnections,
		StatementTimeout: e.Settings.StatementTimeout.Duration,
		ConnectTimeout:   e.Settings.ConnectTimeout.Duration,
	}
}

// CheckWritable fails early, before any database work, when a file cannot be created at path's
// directory.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fault.Input("output directory %s does not exist", dir)
	}
	f, err := os.CreateTemp(dir, ".pgparity-probe-*")
	if err != nil {
		return fault.Input("cannot write in %s: %v", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
