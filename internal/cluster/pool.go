package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/fault"
)

// SessionSettings are pinned on every connection (sent in the startup packet, so they hold before
// the first query): values then render as the same text on every node whatever the server's
// defaults (DESIGN.md rule 1). search_path is empty: every name we generate is schema-qualified.
var SessionSettings = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"search_path":        "",
	"application_name":   "pgparity",
	"lc_monetary":        "C",
	// Key bounds arrive as text parameters cast to the key's type; custom plans fold those casts
	// into constants instead of evaluating them for every row.
	"plan_cache_mode": "force_custom_plan",
}

// PoolOptions bound and time the connections to each node.
type PoolOptions struct {
	MaxConns         int           // per node; at least 1
	StatementTimeout time.Duration // 0 = server default
	ConnectTimeout   time.Duration // applied when the node does not set connect_timeout
}

// Pool is the connection pool of one node.
type Pool struct {
	Node Node
	*pgxpool.Pool
}

// Pools are the pools of the selected nodes, in the same order.
type Pools []*Pool

// Close closes every pool.
func (ps Pools) Close() {
	for _, p := range ps {
		p.Close()
	}
}

// Each runs fn for every pool at once and returns each one's error (nil where it succeeded), in
// pool order: unlike an errgroup, a failure on one node does not cancel the others, so a
// caller can report the first failing node in a stable order.
func (ps Pools) Each(fn func(i int, p *Pool) error) []error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, p)
		}()
	}
	wg.Wait()
	return errs
}

// Names returns the node names of the pools, in order.
func (ps Pools) Names() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Node.Name
	}
	return out
}

// NodeError is a failure on one node; callers print the node name.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %s: %v", e.Node, e.Err) }

// Unwrap returns the underlying error.
func (e *NodeError) Unwrap() error { return e.Err }

// PoolConfig returns the pgxpool configuration for one node, with the session settings pinned.
func PoolConfig(n Node, opts PoolOptions) (*pgxpool.Config, error) {
	params := n.Params
	if _, ok := params["connect_timeout"]; !ok && opts.ConnectTimeout > 0 {
		params = map[string]string{}
		for k, v := range n.Params {
			params[k] = v
		}
		// Whole seconds, rounded up: connect_timeout=0 would mean no timeout at all.
		params["connect_timeout"] = strconv.Itoa(int((opts.ConnectTimeout + time.Second - 1) / time.Second))
	}
	cfg, err := pgxpool.ParseConfig(Node{Name: n.Name, Params: params}.connString())
	if err != nil {
		return nil, fault.Input("node %s: bad connection settings: %s", n.Name, parseErrorText(err))
	}
	for k, v := range SessionSettings {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	maxConns := opts.MaxConns
	if maxConns < 1 {
		maxConns = 1
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MinConns = 0
	cfg.HealthCheckPeriod = time.Minute
	return cfg, nil
}

// parseErrorText describes a connection-settings parse error without the connection string: pgx
// quotes it with best-effort password redaction, which misses passwords holding spaces or quotes.
func parseErrorText(err error) string {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return err.Error()
	}
	bare := *pce
	bare.ConnString = ""
	return strings.TrimPrefix(bare.Error(), "cannot parse ``: ")
}

// Connect opens one pool per node in parallel and checks each with a round trip. On failure every
// unreachable node is named and no pool is left open.
func Connect(ctx context.Context, nodes []Node, opts PoolOptions) (Pools, error) {
	pools := make(Pools, len(nodes))
	errs := make([]error, len(nodes))
	var g errgroup.Group
	for i, n := range nodes {
		g.Go(func() error {
			cfg, err := PoolConfig(n, opts)
			if err != nil {
				errs[i] = err
				return nil
			}
			p, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				errs[i] = &NodeError{Node: n.Name, Err: err}
				return nil
			}
			if err := p.Ping(ctx); err != nil {
				p.Close()
				errs[i] = &NodeError{Node: n.Name, Err: err}
				return nil
			}
			pools[i] = &Pool{Node: n, Pool: p}
			return nil
		})
	}
	_ = g.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		for _, p := range pools {
			if p != nil {
				p.Close()
			}
		}
		return nil, JoinErrors(failed)
	}
	return pools, nil
}

// JoinErrors joins per-node errors on one line (errors.Join would use newlines), keeping each
// reachable with errors.As.
func JoinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return multiError(errs)
}

type multiError []error

func (m multiError) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

func (m multiError) Unwrap() []error { return m }

// ConnectOne opens a single connection to a node with the session settings pinned.
func ConnectOne(ctx context.Context, n Node, opts PoolOptions) (*pgx.Conn, error) {
	cfg, err := PoolConfig(n, opts)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, &NodeError{Node: n.Name, Err: err}
	}
	return conn, nil
}
