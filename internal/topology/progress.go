package topology

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed progress.sql
var progressSQL string

// ErrNoSubscription is returned by ReadProgress when the subscription does not exist.
var ErrNoSubscription = errors.New("no such subscription")

// Progress is how far a subscription has applied its publisher's changes, read in one query.
type Progress struct {
	Enabled  bool
	ApplyPID *int32 // nil: no apply worker runs
	// OriginLSN is the end of the last publisher commit applied (replication origin).
	OriginLSN *LSN
	// ReportedLSN is the last position the publisher's walsender reported in a keepalive: every
	// commit before it has been received and, as the apply worker handles messages in order,
	// applied (nil while no apply worker runs).
	ReportedLSN   *LSN
	ApplyErrors   int64
	SyncErrors    int64
	LastMessageAt *time.Time
}

// Applied returns the publisher position up to which every commit is applied: the later of the
// origin's and the reported position (0 when neither is known).
func (p *Progress) Applied() LSN {
	var out LSN
	if p.OriginLSN != nil {
		out = *p.OriginLSN
	}
	if p.ReportedLSN != nil && p.ApplyPID != nil && *p.ReportedLSN > out {
		out = *p.ReportedLSN
	}
	return out
}

// ReadProgress reads the progress of subscription name of the database q is connected to.
func ReadProgress(ctx context.Context, q Querier, name string) (*Progress, error) {
	p := &Progress{}
	var origin, reported *string
	err := q.QueryRow(ctx, progressSQL, name).Scan(&p.Enabled, &p.ApplyPID, &origin, &reported, &p.ApplyErrors, &p.SyncErrors, &p.LastMessageAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("subscription %s: %w", name, ErrNoSubscription)
	}
	if err != nil {
		return nil, fmt.Errorf("read progress of subscription %s: %w", name, err)
	}
	for _, c := range []struct {
		text *string
		dst  **LSN
	}{{origin, &p.OriginLSN}, {reported, &p.ReportedLSN}} {
		if c.text == nil {
			continue
		}
		l, err := ParseLSN(*c.text)
		if err != nil {
			return nil, fmt.Errorf("read progress of subscription %s: %w", name, err)
		}
		*c.dst = &l
	}
	return p, nil
}

// ReadSlotFlush reads, on a publisher, the position a logical slot's consumer has confirmed as
// durably applied (confirmed_flush_lsn); nil when the slot does not exist or has none.
func ReadSlotFlush(ctx context.Context, q Querier, slot string) (*LSN, error) {
	var text *string
	err := q.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", slot).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && text == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read slot %s: %w", slot, err)
	}
	l, err := ParseLSN(*text)
	if err != nil {
		return nil, err
	}
	return &l, nil
}
