package job

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cdc"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/merkle"
	"github.com/pgparity/pgparity/internal/report"
)

// Mtree says which cluster (and table) an mtree command works on.
type Mtree struct {
	Cluster   string // "" = default_cluster
	Table     string // SCHEMA.TABLE ("" for cluster-wide commands)
	Tracker   string // init: cdc, trigger or "" (cdc where wal_level = logical)
	BlockSize int    // build: rows per leaf (0 = merkle.DefaultBlockSize)
	Out       string // table-diff: diff file ("" = DefaultName in output_dir)
	HTML      bool
	Tool      string
}

// MtreeResult is what an mtree command did.
type MtreeResult struct {
	Trackers map[string]string // node -> tracker (init)
	Notes    []string          // e.g. replica identities set by build
	Tree     *merkle.Result
	Diff     *DiffResult // table-diff
}

// RunMtreeInit creates pgparity's schema and the change tracker on every node.
func RunMtreeInit(ctx context.Context, env *Env, o Mtree) (*MtreeResult, error) {
	_, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	res := &MtreeResult{Trackers: map[string]string{}}
	for _, p := range pools {
		if err := merkle.Init(ctx, p); err != nil {
			return nil, err
		}
		kind, err := cdc.Init(ctx, p, o.Tracker)
		if err != nil {
			return nil, err
		}
		res.Trackers[p.Node.Name] = kind
	}
	return res, nil
}

// RunMtreeBuild plans and hashes the table's tree on every node and starts tracking its changes.
func RunMtreeBuild(ctx context.Context, env *Env, o Mtree) (*MtreeResult, error) {
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return nil, err
	}
	cl, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	res := &MtreeResult{}
	res.Tree, err = merkle.Build(ctx, pools, mtreeOptions(env, cl.Name, schema, table, o.Tool), o.BlockSize,
		func(ctx context.Context, i int, t *catalog.Table) error {
			note, err := cdc.Track(ctx, pools[i], t)
			if note != "" {
				res.Notes = append(res.Notes, note)
			}
			return err
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func mtreeOptions(env *Env, clusterName, schema, table, tool string) merkle.Options {
	return merkle.Options{Cluster: clusterName, Schema: schema, Table: table, Concurrency: env.Settings.Concurrency, Tool: tool}
}

// drain checks that every node still tracks the table and brings its change marks up to a
// fence written now (cdc nodes), in parallel.
func drain(ctx context.Context, pools cluster.Pools, schema, table string) error {
	start := time.Now()
	defer func() { slog.Debug("mtree drain", "seconds", time.Since(start).Seconds()) }()
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range pools {
		g.Go(func() error {
			if err := cdc.Check(gctx, p, schema, table); err != nil {
				return err
			}
			return cdc.Drain(gctx, p)
		})
	}
	return g.Wait()
}

// RunMtreeUpdate drains the change streams and rehashes the table's dirty leaves.
func RunMtreeUpdate(ctx context.Context, env *Env, o Mtree) (*MtreeResult, error) {
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return nil, err
	}
	cl, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	if err := drain(ctx, pools, schema, table); err != nil {
		return nil, err
	}
	r, err := merkle.Sync(ctx, pools, mtreeOptions(env, cl.Name, schema, table, o.Tool), nil)
	if err != nil {
		return nil, err
	}
	return &MtreeResult{Tree: r}, nil
}

// RunMtreeDiff drains the change streams, brings the trees up to date, compares them and drills
// into differing leaves, writing a normal diff file.
func RunMtreeDiff(ctx context.Context, env *Env, o Mtree) (*MtreeResult, error) {
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := CheckWritable(o.Out); err != nil {
			return nil, err
		}
	} else if err := CheckWritable(filepath.Join(env.Settings.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	name := report.TableRef{Schema: schema, Name: table}.String()
	opts := map[string]any{}
	if o.HTML {
		opts["html"] = true
	}
	rec := env.StartRun(ctx, RunInfo{Command: "mtree table-diff", Cluster: cl.Name, Tables: []string{name}, Options: opts})
	hist := rec.Divergences(ctx, name)
	res, err := func() (*MtreeResult, error) {
		pools, err := env.connectNodes(ctx, cl, nil)
		if err != nil {
			return nil, err
		}
		defer pools.Close()
		if err := drain(ctx, pools, schema, table); err != nil {
			return nil, err
		}
		out := &DiffOutput{Path: o.Out, Dir: env.Settings.OutputDir, HTML: o.HTML}
		defer out.Abort()
		r, err := merkle.Sync(ctx, pools, mtreeOptions(env, cl.Name, schema, table, o.Tool), report.Tee(out, hist))
		if err != nil {
			return nil, err
		}
		d, err := out.Result()
		if err != nil {
			return nil, err
		}
		return &MtreeResult{Tree: r, Diff: d}, nil
	}()
	hist.Close()
	var d *DiffResult
	if res != nil {
		d = res.Diff
	}
	recordDiff(ctx, rec, name, d, len(cl.Nodes), err)
	return res, err
}

// RunMtreeListen consumes the change stream of every cdc node until ctx ends.
func RunMtreeListen(ctx context.Context, env *Env, o Mtree) error {
	_, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return err
	}
	defer pools.Close()
	g, gctx := errgroup.WithContext(ctx)
	n := 0
	for _, p := range pools {
		kind, err := cdc.Kind(ctx, p)
		if err != nil {
			return err
		}
		if kind != cdc.CDC {
			continue
		}
		n++
		g.Go(func() error { return cdc.Listen(gctx, p) })
	}
	if n == 0 {
		return errNoCDC
	}
	return g.Wait()
}

// RunMtreeTeardownTable stops tracking the table and removes its tree on every node.
func RunMtreeTeardownTable(ctx context.Context, env *Env, o Mtree) error {
	schema, table, err := catalog.ParseName(o.Table)
	if err != nil {
		return err
	}
	_, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return err
	}
	defer pools.Close()
	for _, p := range pools {
		if err := cdc.Untrack(ctx, p, schema, table); err != nil {
			return err
		}
		if err := merkle.Forget(ctx, p, schema, table); err != nil {
			return err
		}
	}
	return nil
}

// RunMtreeTeardown removes everything pgparity created on every node: slot, publication,
// schema with its tables and trigger functions (and so the triggers).
func RunMtreeTeardown(ctx context.Context, env *Env, o Mtree) error {
	_, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return err
	}
	defer pools.Close()
	for _, p := range pools {
		if err := cdc.Teardown(ctx, p); err != nil {
			return err
		}
		if err := merkle.Teardown(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

var errNoCDC = fault.Input("no node of the cluster uses the cdc tracker: nothing to listen to (the trigger tracker records changes by itself)")

// MtreeNodeStatus is one node's tracker, slot and trees.
type MtreeNodeStatus struct {
	Node    string              `json:"node"`
	Tracker string              `json:"tracker"`
	Slot    *cdc.SlotStatus     `json:"slot,omitempty"`
	Trees   []merkle.TreeStatus `json:"trees"`
}

// MtreeStatus is the status of every node, with warnings (e.g. a slot retaining too much WAL).
type MtreeStatus struct {
	Nodes    []MtreeNodeStatus `json:"nodes"`
	Warnings []string          `json:"warnings,omitempty"`
}

// RunMtreeStatus reads every node's tracker, slot and trees; a slot retaining more than warnBytes
// of WAL is warned about.
func RunMtreeStatus(ctx context.Context, env *Env, o Mtree, warnBytes int64) (*MtreeStatus, error) {
	_, pools, err := env.Connect(ctx, o.Cluster, nil)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	out := &MtreeStatus{}
	for _, p := range pools {
		ns := MtreeNodeStatus{Node: p.Node.Name, Trees: []merkle.TreeStatus{}}
		if ns.Tracker, err = cdc.Kind(ctx, p); err != nil {
			return nil, err
		}
		if ns.Slot, err = cdc.Slot(ctx, p); err != nil {
			return nil, err
		}
		if ns.Slot != nil && ns.Slot.RetainedBytes > warnBytes {
			out.Warnings = append(out.Warnings, fmt.Sprintf("slot %s on node %s retains %d MB of WAL (more than %d MB): run `pgparity mtree listen` or `mtree update`, or `mtree teardown` if the trees are no longer used",
				ns.Slot.Name, p.Node.Name, ns.Slot.RetainedBytes>>20, warnBytes>>20))
		}
		trees, err := merkle.Status(ctx, p)
		if err != nil {
			return nil, err
		}
		ns.Trees = append(ns.Trees, trees...)
		out.Nodes = append(out.Nodes, ns)
	}
	return out, nil
}
