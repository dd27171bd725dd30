package job

import (
	"context"
	"path/filepath"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/schema"
)

// PublicationDiff says which publication publication-diff compares.
type PublicationDiff struct {
	Cluster     string // "" = default_cluster
	Publication string // as the user wrote it: folded to lower case unless quoted
	Nodes       []string
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
	if err := CheckWritable(filepath.Join(env.Settings.OutputDir, ".probe")); err != nil {
		return nil, err
	}
	cl, pools, err := env.Connect(ctx, o.Cluster, o.Nodes)
	if err != nil {
		return nil, err
	}
	defer pools.Close()
	files := newTableFiles(env.Settings.OutputDir, report.TableRef.String)
	res, err := schema.Publication(ctx, pools, schema.PublicationOptions{
		Publication: pub, Data: dataOptions(env, cl.Name, o.Tool, files),
	})
	if err != nil {
		return nil, err
	}
	return &PublicationDiffResult{PublicationResult: res, DiffFiles: files.paths()}, nil
}
