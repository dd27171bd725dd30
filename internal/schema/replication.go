package schema

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/topology"
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

// Subscription is one subscription with its settings and progress (topology's reader).
type Subscription = topology.Subscription

// Slot is a replication slot (topology's reader).
type Slot = topology.Slot

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
	st, err := topology.Read(ctx, p)
	if err != nil {
		return nil, err
	}
	n := &NodeReplication{Node: p.Node.Name, ServerVersion: st.ServerVersion, Database: st.Database, WALPosition: st.WALPosition,
		Publications: make([]PublicationState, len(st.Publications)), Subscriptions: st.Subscriptions, Slots: st.Slots}
	for i, pub := range st.Publications {
		n.Publications[i] = PublicationState{Name: pub.Name, AllTables: pub.AllTables, Operations: pub.Operations,
			ViaPartitionRoot: pub.ViaPartitionRoot, Tables: pub.TableNames()}
	}
	return n, nil
}

// measureLag finds, for every subscription, the node holding its slot and takes the apply lag
// from there: the publisher's WAL position minus the slot's confirmed flush position, and the
// walsender's replay lag. Slot names are unique per server only: when several nodes have a
// logical slot of that name (a cascade reusing names), the one streaming to a walsender named
// like the subscription is taken, and none when that does not single one out.
func (t *Topology) measureLag() {
	states := make([]*topology.Node, len(t.Nodes))
	for i := range t.Nodes {
		states[i] = &topology.Node{Slots: t.Nodes[i].Slots}
	}
	for i := range t.Nodes {
		for j := range t.Nodes[i].Subscriptions {
			s := &t.Nodes[i].Subscriptions[j]
			k := topology.SlotHolder(states, i, s)
			if k < 0 {
				continue
			}
			for _, sl := range t.Nodes[k].Slots {
				if sl.Name == s.Slot && sl.Type == "logical" {
					s.Publisher, s.LagBytes, s.LagSeconds = t.Nodes[k].Node, sl.FlushLag, sl.ReplayLag
				}
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
