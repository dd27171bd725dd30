package job

import (
	"bufio"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/schema"
)

// SchemaDiff says which schema schema-diff compares and how.
type SchemaDiff struct {
	Cluster string // "" = default_cluster
	Schema  string // as the user wrote it: folded to lower case unless quoted
	Nodes   []string
	DDLOnly bool
	// SkipTables name tables of Schema whose data is not compared, bare or qualified with Schema,
	// as the user wrote them; SkipFile names a file with more, one per line (# starts a comment).
	SkipTables []string
	SkipFile   string
	// FixSequences plans the setval statements that advance sequences behind their keys; Apply
	// also runs them.
	FixSequences bool
	Apply        bool
	// LockTimeout bounds every wait for a lock another session holds (lock_timeout of every
	// session): a table locked longer fails alone. 0 keeps the server's lock_timeout (by
	// default none: a locked table makes the run wait).
	LockTimeout time.Duration
	Tool        string
}

// SchemaDiffResult is the outcome of schema-diff: the comparison, the diff file of every table
// whose data differs (by table name) and the sequence fixes planned or applied.
type SchemaDiffResult struct {
	*schema.Result
	DiffFiles map[string]string `json:"diff_files"`
	Fixes     []schema.Fix      `json:"sequence_fixes,omitempty"`
}

// RunSchemaDiff runs schema-diff: the structure of the schema, then the data of every comparable
// table, each table's differing keys streamed into its own diff file in output_dir as they are
// found (a table that matches leaves no file), then the sequences. When applying sequence fixes
// fails, the result is returned with the error, so that what was applied can be shown.
func RunSchemaDiff(ctx context.Context, env *Env, o SchemaDiff) (*SchemaDiffResult, error) {
	if o.Apply && !o.FixSequences {
		return nil, fault.Input("--apply needs --fix-sequences")
	}
	name, err := parseSchemaName(o.Schema)
	if err != nil {
		return nil, err
	}
	skip, err := skipList(o.SkipTables, o.SkipFile)
	if err != nil {
		return nil, err
	}
	if skip, err = tablesOfSchema(name, skip); err != nil {
		return nil, err
	}
	if err := CheckWritable(filepath.Join(env.Settings.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	cl, err := env.Cluster(o.Cluster)
	if err != nil {
		return nil, err
	}
	rec := env.StartRun(ctx, RunInfo{Command: "schema-diff", Cluster: cl.Name, Options: o.historyOptions(name)})
	out, err := runSchemaDiff(ctx, env, o, name, skip, rec)
	var res *schema.Result
	if out != nil {
		res = out.Result
	}
	rec.Finish(ctx, schemaHistoryResult(rec, res), err)
	return out, err
}

func runSchemaDiff(ctx context.Context, env *Env, o SchemaDiff, name string, skip []string, rec *Recorder) (*SchemaDiffResult, error) {
	cl, pools, err := connectLockTimeout(ctx, env, o.Cluster, o.Nodes, o.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	files := newTableFiles(env.Settings.OutputDir, func(t report.TableRef) string { return t.Name })
	data := dataOptions(env, cl.Name, o.Tool, files)
	data.Sink = recordTables(ctx, rec, data.Sink, len(cl.Nodes))
	res, err := schema.Run(ctx, pools, schema.Options{
		Schema: name, DDLOnly: o.DDLOnly, SkipTables: skip, Data: data,
	})
	if err != nil {
		return nil, err
	}
	out := &SchemaDiffResult{Result: res, DiffFiles: files.paths()}
	if o.FixSequences {
		out.Fixes = schema.PlanSequenceFixes(res)
		if o.Apply {
			out.Fixes, err = schema.ApplySequenceFixes(ctx, pools, res, out.Fixes)
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// connectLockTimeout connects to the cluster's nodes as Env.Connect does, with lock_timeout
// pinned on every session unless lockTimeout is 0: a catalog or data read of a table another
// session holds locked gives up after it, so that the table fails alone instead of stalling
// the run.
func connectLockTimeout(ctx context.Context, env *Env, clusterName string, nodeNames []string, lockTimeout time.Duration) (*cluster.Cluster, cluster.Pools, error) {
	if lockTimeout < 0 {
		return nil, nil, fault.Input("--lock-timeout must be 0 (the server's lock_timeout) or more, got %s", lockTimeout)
	}
	if lockTimeout == 0 {
		return env.Connect(ctx, clusterName, nodeNames)
	}
	cl, err := env.Cluster(clusterName)
	if err != nil {
		return nil, nil, err
	}
	selected, err := cl.Select(nodeNames)
	if err != nil {
		return nil, nil, err
	}
	// Whole milliseconds, rounded up: lock_timeout = 0 would mean no limit.
	ms := (lockTimeout + time.Millisecond - 1) / time.Millisecond
	nodes := make([]cluster.Node, len(selected))
	for i, n := range selected {
		nodes[i] = n
		nodes[i].Params = maps.Clone(n.Params)
		if nodes[i].Params == nil {
			nodes[i].Params = map[string]string{}
		}
		nodes[i].Params["lock_timeout"] = strconv.FormatInt(int64(ms), 10) + "ms" // sent in the startup packet
	}
	pools, err := cluster.Connect(ctx, nodes, env.PoolOptions())
	if err != nil {
		return nil, nil, err
	}
	return cl, pools, nil
}

// dataOptions are the settings of a multi-table data comparison, each table's differences
// streamed to files.
func dataOptions(env *Env, clusterName, tool string, files *tableFiles) schema.DataOptions {
	s := env.Settings
	return schema.DataOptions{
		Cluster: clusterName, Concurrency: s.Concurrency, MaxConnections: s.MaxConnections,
		BlockSize: s.BlockSize, MaxDiffRows: s.MaxDiffRows, Tool: tool, Sink: files.sink,
	}
}

// tableFiles hands every compared table a sink writing its diff file into dir, named when the
// table's header is known (report.DefaultName), and remembers the files of tables that differ.
// Sinks are asked for from several goroutines at once.
type tableFiles struct {
	dir  string
	name func(report.TableRef) string // how the result names a table
	mu   sync.Mutex
	kept map[string]string
}

func newTableFiles(dir string, name func(report.TableRef) string) *tableFiles {
	return &tableFiles{dir: dir, name: name, kept: map[string]string{}}
}

func (f *tableFiles) sink(t report.TableRef) (schema.TableSink, error) {
	return &tableFile{files: f, name: f.name(t)}, nil
}

// paths returns the diff files written, by table name.
func (f *tableFiles) paths() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.kept))
	for k, v := range f.kept {
		out[k] = v
	}
	return out
}

// tableFile streams one table's differing keys into its diff file and keeps nothing else; the
// file is discarded when the table matches or its comparison fails.
type tableFile struct {
	files *tableFiles
	name  string
	file  *report.FileSink
}

func (t *tableFile) Begin(d *report.Diff) error {
	f, err := report.CreateFile(filepath.Join(t.files.dir, report.DefaultName(d)))
	if err != nil {
		return err
	}
	t.file = f
	return f.Begin(d)
}

func (t *tableFile) Entry(e *report.Entry) error { return t.file.Entry(e) }

func (t *tableFile) End(d *report.Diff) error {
	if d.Summary.Status == report.StatusMatch {
		t.file.Abort()
		return nil
	}
	if err := t.file.End(d); err != nil {
		return err
	}
	t.files.mu.Lock()
	t.files.kept[t.name] = t.file.Path()
	t.files.mu.Unlock()
	return nil
}

func (t *tableFile) Abort() {
	if t.file != nil {
		t.file.Abort()
	}
}

// parseSchemaName folds an unquoted schema name to lower case and unquotes a quoted one.
func parseSchemaName(s string) (string, error) {
	sch, _, err := catalog.ParseName(s + ".x")
	if err != nil || strings.HasPrefix(s, `"`) && !strings.HasSuffix(s, `"`) {
		return "", fault.Input("schema name %q: write SCHEMA, quoted if it holds dots, spaces or upper case", s)
	}
	return sch, nil
}

// tablesOfSchema turns user-written table names (bare, or qualified with SCHEMA) into table names
// of the schema.
func tablesOfSchema(schemaName string, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		_, table, err := catalog.ParseName(pgx.Identifier{schemaName}.Sanitize() + "." + n)
		if err != nil { // a qualified name (three parts above): it must be in SCHEMA
			var sch string
			if sch, table, err = catalog.ParseName(n); err != nil {
				return nil, err
			}
			if sch != schemaName {
				return nil, fault.Input("table %s is not in schema %s", n, schemaName)
			}
		}
		out = append(out, table)
	}
	return out, nil
}

// skipList returns the tables named by --skip-tables and, when file is set, by --skip-file, as
// the user wrote them.
func skipList(tables []string, file string) ([]string, error) {
	out := append([]string{}, tables...)
	if file != "" {
		more, err := readSkipFile(file)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// readSkipFile reads table names, one per line; blank lines and # comments are ignored.
func readSkipFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fault.Input("cannot read --skip-file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fault.Input("cannot read --skip-file %s: %v", path, err)
	}
	return out, nil
}
