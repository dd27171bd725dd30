package job

import (
	"context"
	"path/filepath"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/schema"
)

// PublicationDiff says which publication publication-diff compares.
type PublicationDiff struct {
	Cluster     string // "" = default_cluster
	Publication string // as the user wrote it: folded to lower case unless quoted
	Nodes       []string
	// SkipTables name member tables whose data is not compared, as the user wrote them
	// (SCHEMA.TABLE; a bare name is in public, as for table-diff); SkipFile names a file with
	// more, one per line (# starts a comment), as for schema-diff.
	SkipTables []string
	SkipFile   string
	// LockTimeout bounds every wait for a lock another session holds (see SchemaDiff).
	LockTimeout time.Duration
	Tool        string
}

// PublicationDiffResult is the outcome of publication-diff: the comparison and the diff file of
// every member table whose data differs (by table name, schema.table).
type PublicationDiffResult struct {
	*schema.PublicationResult
	DiffFiles map[string]string `json:"diff_files"`
}

// RunPublicationDiff runs publication-diff: the publication's definition and membership on
// every node, then the published data of every member table, each table's differing keys
// streamed into its own diff file in output_dir as they are found.
func RunPublicationDiff(ctx context.Context, env *Env, o PublicationDiff) (*PublicationDiffResult, error) {
	pub, err := parseSchemaName(o.Publication) // publication names follow the same identifier rules
	if err != nil {
		return nil, err
	}
	names, err := skipList(o.SkipTables, o.SkipFile)
	if err != nil {
		return nil, err
	}
	skip := make([]report.TableRef, len(names))
	for i, n := range names {
		if skip[i].Schema, skip[i].Name, err = catalog.ParseName(n); err != nil {
			return nil, err
		}
	}
	if err := CheckWritable(filepath.Join(env.Settings.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	cl, pools, err := connectLockTimeout(ctx, env, o.Cluster, o.Nodes, o.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	files := newTableFiles(env.Settings.OutputDir, report.TableRef.String)
	res, err := schema.Publication(ctx, pools, schema.PublicationOptions{
		Publication: pub, SkipTables: skip, Data: dataOptions(env, cl.Name, o.Tool, files),
	})
	if err != nil {
		return nil, err
	}
	return &PublicationDiffResult{PublicationResult: res, DiffFiles: files.paths()}, nil
}
