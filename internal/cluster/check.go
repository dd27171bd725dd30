package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparity/pgparity/internal/topology"
)

var (
	//go:embed check_node.sql
	checkNodeSQL string
	//go:embed check_publications.sql
	checkPublicationsSQL string
	//go:embed check_replication_role.sql
	checkReplicationRoleSQL string
)

// NodeStatus is what Check found on one node. Fields past Error are meaningful only when the node
// was reachable and Error is empty.
type NodeStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"` // host:port, never credentials
	Reachable bool   `json:"reachable"`
	// Error is one line saying why the node could not be reached or checked; it never holds a
	// password.
	Error                string         `json:"error,omitempty"`
	ServerVersion        string         `json:"server_version,omitempty"`
	WalLevel             string         `json:"wal_level,omitempty"`
	TrackCommitTimestamp bool           `json:"track_commit_timestamp"`
	Publications         []string       `json:"publications"`
	Subscriptions        []Subscription `json:"subscriptions"`
	// SubscriptionsUnknown is set when the user may not read pg_subscription; Subscriptions is
	// then empty.
	SubscriptionsUnknown bool `json:"subscriptions_unknown"`
	Superuser            bool `json:"superuser"`
	// CanSetReplicationRole says whether the user may SET session_replication_role (superuser,
	// or granted SET ON PARAMETER on PostgreSQL 15+): repairs need it to keep triggers and
	// replication of the repair from firing.
	CanSetReplicationRole bool `json:"can_set_replication_role"`
}

// Subscription is a logical-replication subscription of the node's database: its name and
// whether it is enabled.
type Subscription = topology.SubscriptionSummary

// ValidateNodes parses the connection settings of every node without connecting, so that a bad
// definition (say, a non-numeric port) is reported as an input error rather than as a node failure.
func ValidateNodes(nodes []Node, opts PoolOptions) error {
	for _, n := range nodes {
		if _, err := PoolConfig(n, opts); err != nil {
			return err
		}
	}
	return nil
}

// Check connects to every node in parallel and reports its version, replication settings,
// publications, subscriptions and privileges, in the order of nodes. A node that cannot be reached
// or queried gets Error set; Check itself never fails.
func Check(ctx context.Context, nodes []Node, opts PoolOptions) []NodeStatus {
	out := make([]NodeStatus, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { out[i] = checkNode(ctx, n, opts) })
	}
	wg.Wait()
	return out
}

func checkNode(ctx context.Context, n Node, opts PoolOptions) NodeStatus {
	st := NodeStatus{Name: n.Name, Address: n.Address(), Publications: []string{}, Subscriptions: []Subscription{}}
	conn, err := ConnectOne(ctx, n, opts)
	if err != nil {
		st.Error = errorLine(err)
		return st
	}
	defer conn.Close(ctx)
	st.Reachable = true
	if err := inspect(ctx, conn, &st); err != nil {
		st.Error = errorLine(err)
	}
	return st
}

// inspect fills st from the catalogs of a connected node.
func inspect(ctx context.Context, conn *pgx.Conn, st *NodeStatus) error {
	var versionNum int
	if err := conn.QueryRow(ctx, checkNodeSQL).Scan(&st.ServerVersion, &versionNum, &st.WalLevel,
		&st.TrackCommitTimestamp, &st.Superuser); err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	pubs, err := collect(ctx, conn, checkPublicationsSQL, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read publications: %w", err)
	}
	st.Publications = append(st.Publications, pubs...)
	subs, err := topology.ReadSummaries(ctx, conn)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
		st.SubscriptionsUnknown = true
	case err != nil:
		return fmt.Errorf("read subscriptions: %w", err)
	default:
		st.Subscriptions = append(st.Subscriptions, subs...)
	}
	switch {
	case st.Superuser:
		st.CanSetReplicationRole = true
	case versionNum >= 150000: // before 15, only superusers may set session_replication_role
		if err := conn.QueryRow(ctx, checkReplicationRoleSQL).Scan(&st.CanSetReplicationRole); err != nil {
			return fmt.Errorf("read session_replication_role privilege: %w", err)
		}
	}
	return nil
}

// collect runs a static query and scans every row with fn.
func collect[T any](ctx context.Context, conn *pgx.Conn, sql string, fn pgx.RowToFunc[T]) ([]T, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fn)
}

// errorLine is err as one line, without the node name that NodeStatus carries already.
func errorLine(err error) string {
	var ne *NodeError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
