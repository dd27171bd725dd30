package job

import (
	"context"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/report"
)

// HistoryQuery says what `pgparity history` lists: runs, or with Divergences the divergences.
type HistoryQuery struct {
	Cluster     string        // "" = every cluster
	Table       string        // SCHEMA.TABLE as the user wrote it ("" = every table)
	Since       time.Duration // runs started (divergences last seen) this long ago or later; 0 = all
	Divergences bool
	Open        bool // only divergences not resolved
	Limit       int  // at most this many, the newest (0 = no limit)
}

// HistoryList is what the history store holds for a query: runs newest first, or divergences
// most recently seen first.
type HistoryList struct {
	Runs        []history.Run
	Divergences []history.Divergence
}

// ListHistory reads runs or divergences from the configured history store.
func ListHistory(ctx context.Context, env *Env, q HistoryQuery) (*HistoryList, error) {
	if q.Since < 0 {
		return nil, fault.Input("--since must not be negative, got %s", q.Since)
	}
	if q.Limit < 0 {
		return nil, fault.Input("--limit must be 0 (no limit) or more, got %d", q.Limit)
	}
	if q.Open && !q.Divergences {
		return nil, fault.Input("--open goes with --divergences")
	}
	table := ""
	if q.Table != "" {
		schema, name, err := catalog.ParseName(q.Table)
		if err != nil {
			return nil, err
		}
		table = report.TableRef{Schema: schema, Name: name}.String()
	}
	var since time.Time
	if q.Since > 0 {
		since = time.Now().Add(-q.Since)
	}
	store, err := env.HistoryOpen(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	out := &HistoryList{}
	if q.Divergences {
		out.Divergences, err = store.Divergences(ctx, history.DivergenceFilter{
			Cluster: q.Cluster, Table: table, Open: q.Open, Since: since, Limit: q.Limit})
	} else {
		out.Runs, err = store.Runs(ctx, history.RunFilter{Cluster: q.Cluster, Table: table, Since: since, Limit: q.Limit})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
