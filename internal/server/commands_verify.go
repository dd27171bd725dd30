package server

import (
	"context"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/verify"
)

// verifyOptions are verify's flags that a request may set (--out-dir is not: the server names
// its files). The request's table (one) or publication narrows what is verified.
type verifyOptions struct {
	Tables         []string  `json:"tables"`
	MaxWait        *duration `json:"max-wait"`
	MinCoverage    *float64  `json:"min-coverage"`
	Concurrency    int       `json:"concurrency"`
	MaxConnections int       `json:"max-connections"`
	BlockSize      int       `json:"block-size"`
}

func prepareVerify(env *job.Env, r *Request) (*prepared, error) {
	var o verifyOptions
	if err := decodeOptions(r.Options, &o); err != nil {
		return nil, err
	}
	tables := o.Tables
	if r.Table != "" {
		tables = append([]string{r.Table}, tables...)
	}
	for _, t := range tables {
		if _, _, err := catalog.ParseName(t); err != nil {
			return nil, err
		}
	}
	if r.Publication != "" && len(tables) > 0 {
		return nil, fault.Input("give tables or a publication, not both")
	}
	v := job.Verify{Cluster: r.Cluster, Tables: tables, Publication: r.Publication, MaxWait: job.DefaultMaxWait,
		MinCoverage: 100, Tool: "pgparity serve"}
	if o.MaxWait != nil {
		if o.MaxWait.Duration <= 0 {
			return nil, fault.Input("max-wait must be positive, got %s", o.MaxWait.Duration)
		}
		v.MaxWait = o.MaxWait.Duration
	}
	if o.MinCoverage != nil {
		if *o.MinCoverage < 0 || *o.MinCoverage > 100 {
			return nil, fault.Input("min-coverage must be between 0 and 100, got %g", *o.MinCoverage)
		}
		v.MinCoverage = *o.MinCoverage
	}
	e, err := env.With(job.Overrides{Concurrency: o.Concurrency, MaxConnections: o.MaxConnections, BlockSize: o.BlockSize})
	if err != nil {
		return nil, err
	}
	name, nodes, err := nodesOf(e, r.Cluster, nil)
	if err != nil {
		return nil, err
	}
	v.Cluster = name
	p := &prepared{Cluster: name, Nodes: nodes}
	p.Run = func(ctx context.Context, _ *job.Env, dir string) (*Outcome, error) {
		run := *e
		v := v
		v.OutDir = dir
		res, err := job.RunVerify(ctx, &run, v)
		if res == nil {
			return nil, err
		}
		out := verifyOutcome(name, res)
		switch {
		case err != nil:
			return out, err
		case res.Status == verify.StatusDiffer:
			return out, fault.ErrDiffer
		case res.Status == verify.StatusInconclusive:
			return out, fault.ErrInconclusive
		}
		return out, nil
	}
	return p, nil
}

// verifyOutcome turns a verify result into a job outcome: its summary, diff files, per-table
// verdicts (a table of several pairs differs when one pair does) and per-pair lag and coverage.
func verifyOutcome(clusterName string, res *verify.Result) *Outcome {
	out := &Outcome{Summary: res, Files: map[string]string{}}
	byTable := map[string]int{}
	for _, p := range res.Pairs {
		pm := PairResult{Cluster: clusterName, Publisher: p.Publisher, Subscriber: p.Subscriber, LagBytes: p.LagBytes, Coverage: -1}
		var rows, covered float64
		for _, t := range p.Tables {
			if t.DiffFile != nil {
				out.Files["diff:"+t.Table+":"+p.Publisher+"-"+p.Subscriber] = *t.DiffFile
				out.DiffFile = *t.DiffFile
			}
			n := float64(t.RowsCompared[p.Publisher])
			rows += n
			covered += n * t.CoveragePct / 100
			i, ok := byTable[t.Table]
			if !ok {
				i = len(out.Tables)
				byTable[t.Table] = i
				out.Tables = append(out.Tables, TableResult{Cluster: clusterName, Table: t.Table, Status: t.Status, RowsCompared: t.RowsCompared})
			}
			tr := &out.Tables[i]
			tr.DifferingKeys += t.Confirmed
			switch {
			case t.Status == verify.StatusInconclusive || tr.Status == verify.StatusInconclusive:
				tr.Status = verify.StatusInconclusive
			case t.Status == verify.StatusDiffer:
				tr.Status = verify.StatusDiffer
			}
		}
		if rows > 0 {
			pm.Coverage = covered / rows
		}
		out.Pairs = append(out.Pairs, pm)
	}
	return out
}

// PairResult is one publisher -> subscriber pair's lag and coverage in a verify job, for the
// metrics.
type PairResult struct {
	Cluster    string `json:"cluster"`
	Publisher  string `json:"publisher"`
	Subscriber string `json:"subscriber"`
	LagBytes   int64  `json:"lag_bytes"`
	// Coverage is the share of the pair's rows verified (0 to 1); -1 when nothing was compared.
	Coverage float64 `json:"coverage"`
}

// mtreeDiffOptions are mtree table-diff's flags that a request may set.
type mtreeDiffOptions struct {
	Output string `json:"output"`
}

// prepareMtreeDiff validates an mtree table-diff request: the trees must have been built with
// `pgparity mtree build` (the job fails with exit 2 otherwise, as the command does).
func prepareMtreeDiff(env *job.Env, r *Request) (*prepared, error) {
	var o mtreeDiffOptions
	if err := decodeOptions(r.Options, &o); err != nil {
		return nil, err
	}
	html, err := outputHTML(o.Output)
	if err != nil {
		return nil, err
	}
	if _, _, err := catalog.ParseName(r.Table); err != nil {
		return nil, err
	}
	name, nodes, err := nodesOf(env, r.Cluster, nil)
	if err != nil {
		return nil, err
	}
	run := func(ctx context.Context, _ *job.Env, dir string) (*Outcome, error) {
		run := *env
		run.Settings.OutputDir = dir
		res, err := job.RunMtreeDiff(ctx, &run, job.Mtree{Cluster: name, Table: r.Table, HTML: html, Tool: "pgparity serve"})
		if err != nil {
			return nil, err
		}
		return diffOutcome(name, res.Diff), differs(res.Diff.Diff.Summary.Status)
	}
	return &prepared{Cluster: name, Nodes: nodes, Run: run}, nil
}
