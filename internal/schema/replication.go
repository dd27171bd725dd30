package schema

import (
	"context"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
)

var (
	//go:embed repl_node.sql
	replNodeSQL string
	//go:embed repl_publications.sql
	replPublicationsSQL string
	//go:embed repl_subscriptions.sql
	replSubscriptionsSQL string
	//go:embed repl_subscription_origin.sql
	replSubscriptionOriginSQL string
	//go:embed repl_slots.sql
	replSlotsSQL string
)

// Topology is the logical-replication state of every node and what is broken or risky in it.
type Topology struct {
	Nodes    []NodeReplication `json:"nodes"`
	Findings []Finding         `json:"findings"`
}

// NodeReplication is one node's publications, subscriptions and replication slots.
type NodeReplication struct {
	Node          string             `json:"node"`
	ServerVersion int                `json:"server_version_num"`
	Database      string             `json:"database"`
	WALPosition   string             `json:"wal_position"`
	Publications  []PublicationState `json:"publications"`
	Subscriptions []Subscription     `json:"subscriptions"`
	Slots         []Slot             `json:"slots"`
}

// PublicationState is a publication's definition and member tables on one node.
type PublicationState struct {
	Name             string   `json:"name"`
	AllTables        bool     `json:"all_tables"`
	Operations       string   `json:"operations"`
	ViaPartitionRoot bool     `json:"publish_via_partition_root"`
	Tables           []string `json:"tables"`
}

// Subscription is one subscription with its settings and progress.
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
	// Publisher is the node holding the subscription's slot ("" when no node of the cluster
	// does); the lag is measured there.
	Publisher  string   `json:"publisher,omitempty"`
	LagBytes   *int64   `json:"apply_lag_bytes"`
	LagSeconds *float64 `json:"apply_lag_seconds"`
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
	// consumer is the application_name of the walsender streaming from the slot ("" when none).
	consumer string
}

// Severity of a finding.
const (
	SeverityBroken = "broken"
	SeverityRisky  = "risky"
)

// Finding is something broken or risky in the topology.
type Finding struct {
	Node     string `json:"node"`
	Object   string `json:"object"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Replication reads the replication state of every node at once and flags what is broken or
// risky: disabled subscriptions, subscription errors, tables not yet synchronised, tables of a
// publication the subscriber does not receive, inactive slots retaining WAL, slots that lost WAL.
// A node that cannot be read is a *cluster.NodeError.
func Replication(ctx context.Context, pools cluster.Pools) (*Topology, error) {
	top := &Topology{Nodes: make([]NodeReplication, len(pools)), Findings: []Finding{}}
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			n, err := readReplication(gctx, p)
			if err != nil {
				return &cluster.NodeError{Node: p.Node.Name, Err: err}
			}
			top.Nodes[i] = *n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	top.measureLag()
	top.Findings = top.check()
	return top, nil
}

func readReplication(ctx context.Context, p *cluster.Pool) (*NodeReplication, error) {
	n := &NodeReplication{Node: p.Node.Name, Publications: []PublicationState{}, Subscriptions: []Subscription{}, Slots: []Slot{}}
	if err := p.QueryRow(ctx, replNodeSQL).Scan(&n.ServerVersion, &n.WALPosition, &n.Database); err != nil {
		return nil, fmt.Errorf("read server state: %w", err)
	}
	rows, _ := p.Query(ctx, replPublicationsSQL)
	var err error
	n.Publications, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PublicationState, error) {
		var s PublicationState
		err := r.Scan(&s.Name, &s.AllTables, &s.Operations, &s.ViaPartitionRoot, &s.Tables)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read publications: %w", err)
	}
	rows, _ = p.Query(ctx, replSubscriptionsSQL)
	n.Subscriptions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) {
		var s Subscription
		var stream string
		var tables []string
		err := r.Scan(&s.Name, &s.Enabled, &s.Slot, &stream, &s.DisableOnError, &s.Publications, &s.ApplyErrors,
			&s.SyncErrors, &s.ReceivedLSN, &s.LatestEndLSN, &s.LastMessageAt, &tables)
		s.Streaming = streamingText(stream)
		s.Origin = "any"
		s.Tables = map[string]string{}
		for _, t := range tables {
			i := strings.LastIndexByte(t, ':')
			s.Tables[t[:i]] = t[i+1:]
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	if n.ServerVersion >= 160000 {
		rows, _ = p.Query(ctx, replSubscriptionOriginSQL)
		var name, origin string
		_, err := pgx.ForEachRow(rows, []any{&name, &origin}, func() error {
			for i := range n.Subscriptions {
				if n.Subscriptions[i].Name == name {
					n.Subscriptions[i].Origin = origin
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read subscription origins: %w", err)
		}
	}
	rows, _ = p.Query(ctx, replSlotsSQL)
	n.Slots, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Slot, error) {
		var s Slot
		err := r.Scan(&s.Name, &s.Type, &s.Plugin, &s.Active, &s.WALStatus, &s.SafeWALSize, &s.Retained, &s.FlushLag, &s.ReplayLag, &s.consumer)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read replication slots: %w", err)
	}
	return n, nil
}

// streamingText normalises substream: a boolean before PostgreSQL 16, then f/t/p.
func streamingText(s string) string {
	switch s {
	case "t", "true":
		return "on"
	case "p":
		return "parallel"
	default:
		return "off"
	}
}

// measureLag finds, for every subscription, the node holding its slot and takes the apply lag
// from there: the publisher's WAL position minus the slot's confirmed flush position, and the
// walsender's replay lag. Slot names are unique per server only: when several nodes have a
// logical slot of that name (a cascade reusing names), the one streaming to a walsender named
// like the subscription is taken, and none when that does not single one out.
func (t *Topology) measureLag() {
	for i := range t.Nodes {
		for j := range t.Nodes[i].Subscriptions {
			s := &t.Nodes[i].Subscriptions[j]
			if s.Slot == "" {
				continue
			}
			var found, named []int
			var slots, namedSlots []Slot
			for k, n := range t.Nodes {
				if k == i {
					continue
				}
				for _, sl := range n.Slots {
					if sl.Name != s.Slot || sl.Type != "logical" {
						continue
					}
					found, slots = append(found, k), append(slots, sl)
					if sl.consumer == s.Name {
						named, namedSlots = append(named, k), append(namedSlots, sl)
					}
				}
			}
			if len(found) > 1 {
				found, slots = named, namedSlots
			}
			if len(found) == 1 {
				s.Publisher, s.LagBytes, s.LagSeconds = t.Nodes[found[0]].Node, slots[0].FlushLag, slots[0].ReplayLag
			}
		}
	}
}

func (t *Topology) node(name string) *NodeReplication {
	for i := range t.Nodes {
		if t.Nodes[i].Node == name {
			return &t.Nodes[i]
		}
	}
	return nil
}

// check lists what is broken or risky, node by node.
func (t *Topology) check() []Finding {
	out := []Finding{}
	add := func(node, object, severity, format string, args ...any) {
		out = append(out, Finding{Node: node, Object: object, Severity: severity, Message: fmt.Sprintf(format, args...)})
	}
	for _, n := range t.Nodes {
		for _, s := range n.Subscriptions {
			obj := "subscription " + s.Name
			if !s.Enabled {
				add(n.Node, obj, SeverityBroken, "subscription %s is disabled: no changes are applied", s.Name)
			}
			if s.ApplyErrors > 0 || s.SyncErrors > 0 {
				add(n.Node, obj, SeverityBroken, "subscription %s had %d apply error(s) and %d sync error(s) (see the server log of %s)", s.Name, s.ApplyErrors, s.SyncErrors, n.Node)
			}
			for _, table := range sortedKeys(s.Tables) {
				if st := s.Tables[table]; st != "r" {
					add(n.Node, obj, SeverityRisky, "table %s of subscription %s is not synchronised yet (state %s)", table, s.Name, st)
				}
			}
			if pub := t.node(s.Publisher); pub != nil {
				for _, name := range s.Publications {
					for _, p := range pub.Publications {
						if p.Name != name {
							continue
						}
						for _, table := range p.Tables {
							if _, ok := s.Tables[table]; !ok {
								add(n.Node, obj, SeverityBroken, "table %s is in publication %s on %s but not subscribed by %s (missing on the subscriber, or ALTER SUBSCRIPTION %s REFRESH PUBLICATION was not run)",
									table, name, pub.Node, s.Name, s.Name)
							}
						}
					}
				}
			}
		}
		for _, sl := range n.Slots {
			obj := "slot " + sl.Name
			switch sl.WALStatus {
			case "lost":
				add(n.Node, obj, SeverityBroken, "slot %s lost WAL its consumer still needs (wal_status lost)", sl.Name)
			case "unreserved":
				add(n.Node, obj, SeverityRisky, "slot %s is about to lose WAL (wal_status unreserved)", sl.Name)
			}
			if !sl.Active {
				add(n.Node, obj, SeverityRisky, "slot %s is inactive and retains %s of WAL", sl.Name, bytesText(sl.Retained))
			}
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func bytesText(b *int64) string {
	if b == nil {
		return "an unknown amount"
	}
	return fmt.Sprintf("%d bytes", *b)
}
