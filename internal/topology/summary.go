package topology

import (
	"context"
	_ "embed"

	"github.com/jackc/pgx/v5"
)

//go:embed subscription_summaries.sql
var subscriptionSummariesSQL string

// SubscriptionSummary is a subscription's name and whether it is enabled: what any user may read
// (the public columns of pg_subscription).
type SubscriptionSummary struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// ReadSummaries lists the subscriptions of the database q is connected to, by name. A user who
// may not read pg_subscription gets PostgreSQL's insufficient_privilege error.
func ReadSummaries(ctx context.Context, q Querier) ([]SubscriptionSummary, error) {
	rows, err := q.Query(ctx, subscriptionSummariesSQL)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SubscriptionSummary, error) {
		var s SubscriptionSummary
		err := row.Scan(&s.Name, &s.Enabled)
		return s, err
	})
}
