package schema

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/diff"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// Status values of a table's data comparison and of a table overall.
const (
	StatusIdentical = "identical"
	StatusDiffer    = "differ"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
)

// DataOptions bound and parameterise the data comparison of many tables.
type DataOptions struct {
	Cluster string
	// Concurrency is the number of tables compared at once.
	Concurrency int
	// MaxConnections is the size of each node's pool: the tables compared at once share it, each
	// with MaxConnections/Concurrency workers, so a node never sees more connections than that.
	MaxConnections int
	BlockSize      int
	MaxDiffRows    int
	Tool           string
	// Sink, when set, returns where one table's differing keys go as they are found; without it
	// they go nowhere and only each table's summary is kept. It is called once per compared
	// table, from several goroutines at once, so that no table's differences are held in memory.
	Sink func(table report.TableRef) (TableSink, error)
}

// TableSink receives the comparison of one table as diff.Run emits it (Begin, every differing
// key, End). When the comparison fails after Begin, Abort is called instead of End, so that the
// sink can discard what it wrote.
type TableSink interface {
	report.Sink
	Abort()
}

// Data is the outcome of one table's data comparison.
type Data struct {
	Status string `json:"status"`
	// Reason says why the table was skipped, or the error it failed with.
	Reason        string           `json:"reason,omitempty"`
	DifferingRows int              `json:"differing_rows"`
	RowsCompared  map[string]int64 `json:"rows_compared,omitempty"`
	// Diff is the finished header and summary of a table whose data was compared; its rows went
	// to DataOptions.Sink as they were found and are not kept.
	Diff *report.Diff `json:"-"`
}

// tableJob is one table to data-compare, with the filter and columns to compare it by.
type tableJob struct {
	schema  string // "" = the schema given to diffTables
	name    string
	where   string
	columns []string
	skip    string // when set, the table is not compared and this is the reason
}

// budget returns how many tables run at once and how many workers each gets, so that
// tables*workers never exceeds maxConns.
func budget(concurrency, maxConns, tables int) (parallel, workers int) {
	parallel = max(1, min(concurrency, maxConns, tables))
	return parallel, max(1, maxConns/parallel)
}

// diffTables compares the data of every job's table, several at once within the connection
// budget. A table's failure does not stop the others; only cancellation of ctx does.
func diffTables(ctx context.Context, pools cluster.Pools, schema string, jobs []tableJob, o DataOptions) ([]Data, error) {
	out := make([]Data, len(jobs))
	runnable := 0
	for i, j := range jobs {
		if j.skip != "" {
			out[i] = Data{Status: StatusSkipped, Reason: j.skip}
			continue
		}
		runnable++
	}
	parallel, workers := budget(o.Concurrency, o.MaxConnections, runnable)
	var g errgroup.Group
	g.SetLimit(parallel)
	for i, j := range jobs {
		if j.skip != "" {
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			out[i] = diffTable(ctx, pools, schema, j, workers, o)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func diffTable(ctx context.Context, pools cluster.Pools, schema string, j tableJob, workers int, o DataOptions) Data {
	if j.schema != "" {
		schema = j.schema
	}
	var sink TableSink = discard{}
	if o.Sink != nil {
		s, err := o.Sink(report.TableRef{Schema: schema, Name: j.name})
		if err != nil {
			return Data{Status: StatusFailed, Reason: oneLine(err)}
		}
		sink = s
	}
	d, err := diff.Run(ctx, pools, diff.Options{
		Cluster: o.Cluster, Schema: schema, Table: j.name, BlockSize: o.BlockSize,
		Concurrency: workers, Where: j.where, Columns: j.columns, MaxDiffRows: o.MaxDiffRows, Tool: o.Tool,
	}, sink)
	if err != nil {
		sink.Abort()
	}
	switch {
	case err != nil && fault.IsInput(err):
		return Data{Status: StatusSkipped, Reason: oneLine(err)}
	case err != nil:
		return Data{Status: StatusFailed, Reason: failReason(err, schema, j.name)}
	}
	res := Data{Status: StatusIdentical, DifferingRows: d.Summary.DifferingKeys, RowsCompared: d.Summary.RowsCompared, Diff: d}
	if d.Summary.Status != report.StatusMatch {
		res.Status = StatusDiffer
	}
	return res
}

// discard is the sink of a table whose differences no caller wants.
type discard struct{}

func (discard) Begin(*report.Diff) error  { return nil }
func (discard) Entry(*report.Entry) error { return nil }
func (discard) End(*report.Diff) error    { return nil }
func (discard) Abort()                    {}

// failReason says why a table's data comparison failed: for a lock wait that gave up at
// lock_timeout (another session holds the table locked) the node and the table, else the error.
func failReason(err error, schema, table string) string {
	var ne *cluster.NodeError
	if isLockTimeout(err) && errors.As(err, &ne) {
		return "node " + ne.Node + ": " + lockedReason(pgx.Identifier{schema, table}.Sanitize())
	}
	return oneLine(err)
}

// oneLine is err's message on one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
