package job

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/verify"
)

// Verify says what verify checks and where confirmed differences go.
type Verify struct {
	Cluster     string   // "" = default_cluster
	Tables      []string // SCHEMA.TABLE as the user wrote them; none = every replicated table
	Publication string
	OutDir      string // diff files of confirmed differences; "" = output_dir
	MaxWait     time.Duration
	MinCoverage float64
	Tool        string
}

// DefaultMaxWait is how long verify waits, per fence, for a subscriber to catch up.
const DefaultMaxWait = 60 * time.Second

// RunVerify verifies every publisher -> subscriber pair of the cluster (see verify.Run): a diff
// file per table with confirmed differences is written in the output directory. The result's
// Status tells match, differ or inconclusive; errors are input or runtime failures only.
func RunVerify(ctx context.Context, env *Env, o Verify) (*verify.Result, error) {
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MinCoverage < 0 || o.MinCoverage > 100 {
		return nil, fault.Input("--min-coverage must be between 0 and 100, got %g", o.MinCoverage)
	}
	if o.MaxWait < 0 {
		return nil, fault.Input("--max-wait must be positive, got %s", o.MaxWait)
	}
	if o.Publication != "" && len(o.Tables) > 0 {
		return nil, fault.Input("give tables or --publication, not both")
	}
	var tables []report.TableRef
	for _, name := range o.Tables {
		schema, table, err := catalog.ParseName(name)
		if err != nil {
			return nil, err
		}
		tables = append(tables, report.TableRef{Schema: schema, Name: table})
	}
	s := env.Settings
	dir := o.OutDir
	if dir == "" {
		dir = s.OutputDir
	}
	if err := CheckWritable(filepath.Join(dir, ".probe")); err != nil {
		return nil, err
	}
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	nodes, err := cl.Select(nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.String()
	}
	rec := env.StartRun(ctx, RunInfo{Command: "verify", Cluster: cl.Name, Tables: names, Options: o.historyOptions()})
	res, err := runVerify(ctx, env, o, cl.Name, nodes, tables, dir, verifySeen(ctx, rec))
	recordVerify(ctx, rec, res, len(nodes), err)
	return res, err
}

// runVerify connects to the nodes and runs verify.Run; confirmed receives the confirmed keys.
func runVerify(ctx context.Context, env *Env, o Verify, clusterName string, nodes []cluster.Node, tables []report.TableRef, dir string,
	confirmed func(*verify.PairResult, string, [][]string)) (*verify.Result, error) {
	s := env.Settings
	po := env.PoolOptions()
	// One connection more than the workers: the fence is flushed and awaited while a snapshot
	// is held.
	po.MaxConns = max(po.MaxConns, s.Concurrency+1, 2)
	pools, err := cluster.Connect(ctx, nodes, po)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	return verify.Run(ctx, pools, verify.Options{
		Cluster: clusterName, Tables: tables, Publication: o.Publication, MaxWait: o.MaxWait,
		MinCoverage: o.MinCoverage, BlockSize: s.BlockSize, Concurrency: s.Concurrency, Tool: o.Tool, Confirmed: confirmed,
		Output: func(pr *verify.PairResult, t report.TableRef) (verify.Output, error) {
			name := fmt.Sprintf("%s_%s_verify_%s_%s_%s.json", clean(t.Schema), clean(t.Name), clean(pr.Publisher), clean(pr.Subscriber),
				time.Now().UTC().Format("20060102T150405.000"))
			return &verifyOutput{DiffOutput{Path: filepath.Join(dir, name)}}, nil
		},
	})
}

// WatchVerify runs RunVerify every interval until ctx ends, handing each result (or error) to
// cycle; a cycle's error ends the watch. Each cycle is a full verification (incremental trees
// do not exist yet).
func WatchVerify(ctx context.Context, env *Env, o Verify, interval time.Duration, cycle func(*verify.Result, error) error) error {
	if interval <= 0 {
		return fault.Input("--watch must be positive, got %s", interval)
	}
	for {
		res, err := RunVerify(ctx, env, o)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fault.IsInput(err) {
			return err
		}
		if err := cycle(res, err); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// verifyOutput is a DiffOutput that names its file.
type verifyOutput struct{ DiffOutput }

// File implements verify.Output.
func (v *verifyOutput) File() string { return v.Path }

// clean makes a name safe as part of a file name.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
