// Package topology reads the logical-replication state of nodes: publications (with column lists
// and row filters), subscriptions (settings, apply worker, progress, error counters, table sync
// states, replication origin), replication slots, and which node publishes to which. It is the
// one reader that replication-diff, cluster check and verify share.
package topology

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier runs queries on one node: a pool, a connection or a transaction (Begin then opens a
// savepoint).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Node is the replication state of one node's database.
type Node struct {
	ServerVersion int
	Database      string
	// WALPosition is the current WAL position (the replay position on a standby).
	WALPosition   string
	Publications  []Publication
	Subscriptions []Subscription
	Slots         []Slot
}

// Publication is a publication's definition and member tables.
type Publication struct {
	Name             string
	AllTables        bool
	Operations       string // e.g. "insert, update, delete, truncate"
	ViaPartitionRoot bool
	Tables           []PublishedTable // in schema, table order (byte-wise)
}

// TableNames returns the member tables as schema.table.
func (p *Publication) TableNames() []string {
	out := make([]string, len(p.Tables))
	for i, t := range p.Tables {
		out[i] = t.String()
	}
	return out
}

// PublishedTable is a member table of a publication with what of it is published.
type PublishedTable struct {
	Schema, Name string
	// Columns are the published columns (every column when the publication has no column list).
	Columns []string
	// RowFilter is the publication's row filter as the server prints it ("" when none).
	RowFilter string
}

// String returns schema.table (unquoted, as the catalogs name it).
func (t PublishedTable) String() string { return t.Schema + "." + t.Name }

// Subscription is one subscription with its settings and progress. Fields tagged `json:"-"` are
// not part of replication-diff's JSON output (kept stable).
type Subscription struct {
	Name           string   `json:"name"`
	Enabled        bool     `json:"enabled"`
	Slot           string   `json:"slot"`      // "" after SET (slot_name = NONE)
	Origin         string   `json:"origin"`    // "any" before PostgreSQL 16
	Streaming      string   `json:"streaming"` // off, on, parallel
	DisableOnError bool     `json:"disable_on_error"`
	Publications   []string `json:"publications"`
	// ApplyErrors and SyncErrors count errors since the statistics were reset
	// (pg_stat_subscription_stats); the error text itself is in the subscriber's server log.
	ApplyErrors   int64      `json:"apply_error_count"`
	SyncErrors    int64      `json:"sync_error_count"`
	ReceivedLSN   *string    `json:"received_lsn"`
	LatestEndLSN  *string    `json:"latest_end_lsn"`
	LastMessageAt *time.Time `json:"last_msg_receipt_time"`
	// Tables maps schema.table to its sync state (r = ready, d = copying, s/f/i = syncing).
	Tables map[string]string `json:"tables"`
	// Publisher is the node publishing to the subscription ("" when no node of the cluster
	// does); the lag is measured there.
	Publisher  string   `json:"publisher,omitempty"`
	LagBytes   *int64   `json:"apply_lag_bytes"`
	LagSeconds *float64 `json:"apply_lag_seconds"`

	// OID is the subscription's oid; its replication origin is named pg_<OID>.
	OID uint32 `json:"-"`
	// ApplyPID is the apply worker's process id (nil when no apply worker runs).
	ApplyPID *int32 `json:"-"`
	// OriginLSN is the publisher's commit position the subscription has applied up to (its
	// replication origin's remote_lsn; nil when unknown).
	OriginLSN *string `json:"-"`
	// Conn is where the subscription connects (host, port, dbname only: never credentials);
	// nil when the connection string could not be read (only superusers may read it).
	Conn *Address `json:"-"`
}

// OriginName returns the name of the subscription's replication origin.
func (s *Subscription) OriginName() string { return originName(s.OID) }

// Address is a PostgreSQL server and database: what pairs subscriptions with cluster nodes.
type Address struct {
	Host   string
	Port   uint16
	DBName string
}

// Slot is a replication slot.
type Slot struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Plugin      string   `json:"plugin,omitempty"`
	Active      bool     `json:"active"`
	WALStatus   string   `json:"wal_status"`
	SafeWALSize *int64   `json:"safe_wal_size"`
	Retained    *int64   `json:"retained_wal_bytes"`
	FlushLag    *int64   `json:"confirmed_flush_lag_bytes"`
	ReplayLag   *float64 `json:"replay_lag_seconds"`
	// Consumer is the application_name of the walsender streaming from the slot ("" when none).
	Consumer string `json:"-"`
}
