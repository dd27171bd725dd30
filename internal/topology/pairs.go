package topology

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Endpoint is a cluster node as the pairing sees it: its name and libpq connection keywords.
type Endpoint struct {
	Name   string
	Params map[string]string
}

// Pair is a publisher -> subscriber relation between two nodes: the subscriber's subscription
// streams from the publisher. Nodes are positions in the slices given to Pairs.
type Pair struct {
	Publisher, Subscriber int
	Subscription          *Subscription // on the subscriber
}

// ParseAddress returns the host, port and database of a connection string (keywords or URI), or
// nil when it cannot be parsed. Nothing else of it is kept.
func ParseAddress(conninfo string) *Address {
	cfg, err := pgconn.ParseConfig(conninfo)
	if err != nil {
		return nil
	}
	return &Address{Host: normalHost(cfg.Host), Port: cfg.Port, DBName: cfg.Database}
}

// endpointAddress returns the address a node's connection keywords point at, with libpq's
// defaults for what they leave out.
func endpointAddress(e Endpoint) Address {
	a := Address{Host: normalHost(e.Params["host"]), Port: 5432, DBName: e.Params["dbname"]}
	if h := e.Params["hostaddr"]; h != "" {
		a.Host = normalHost(h)
	}
	if p, err := strconv.ParseUint(e.Params["port"], 10, 16); err == nil {
		a.Port = uint16(p)
	}
	if a.DBName == "" {
		a.DBName = e.Params["user"]
	}
	return a
}

// normalHost maps every spelling of the local machine to one name, so that a subscription to
// 127.0.0.1 matches a node defined as localhost.
func normalHost(h string) string {
	h = strings.ToLower(h)
	if i := strings.IndexByte(h, ','); i >= 0 { // several hosts: the first
		h = h[:i]
	}
	switch {
	case h == "", h == "localhost", h == "127.0.0.1", h == "::1", strings.HasPrefix(h, "/"):
		return "localhost"
	}
	return h
}

// Pairs finds every publisher -> subscriber pair among nodes (states[i] is the state of
// nodes[i]): a subscription belongs to the node its connection string points at (host, port,
// database), or, when the connection string could not be read, to the one other node holding a
// logical slot of the subscription's slot name (streaming to it when several do). Subscriptions
// to servers outside the cluster are not paired. A bidirectional setup yields a pair per
// direction. Pairs are in subscriber, then subscription order.
func Pairs(nodes []Endpoint, states []*Node) []Pair {
	addrs := make([]Address, len(nodes))
	for i, n := range nodes {
		addrs[i] = endpointAddress(n)
	}
	var out []Pair
	for i, st := range states {
		for j := range st.Subscriptions {
			s := &st.Subscriptions[j]
			pub := -1
			if s.Conn != nil {
				for k, a := range addrs {
					if k != i && a == *s.Conn {
						pub = k
						break
					}
				}
			} else {
				pub = SlotHolder(states, i, s)
			}
			if pub >= 0 {
				out = append(out, Pair{Publisher: pub, Subscriber: i, Subscription: s})
			}
		}
	}
	return out
}

// SlotHolder returns the node other than sub holding a logical slot named like s's slot: the one
// streaming to a walsender named like s when several do (slot names are unique per server only: a
// cascade may reuse them), -1 when none is singled out.
func SlotHolder(states []*Node, sub int, s *Subscription) int {
	if s.Slot == "" {
		return -1
	}
	var found, named []int
	for k, n := range states {
		if k == sub {
			continue
		}
		for _, sl := range n.Slots {
			if sl.Name != s.Slot || sl.Type != "logical" {
				continue
			}
			found = append(found, k)
			if sl.Consumer == s.Name {
				named = append(named, k)
			}
		}
	}
	if len(found) > 1 {
		found = named
	}
	if len(found) == 1 {
		return found[0]
	}
	return -1
}
