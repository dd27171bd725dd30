package schema

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

var (
	//go:embed pub_definition.sql
	pubDefinitionSQL string
	//go:embed pub_tables.sql
	pubTablesSQL string
	//go:embed pub_subscriptions.sql
	pubSubscriptionsSQL string
	//go:embed pub_subscribed_tables.sql
	pubSubscribedTablesSQL string
	//go:embed pub_schemas.sql
	pubSchemasSQL string
)

// KindPublication is the object kind of publication differences.
const KindPublication = "publication"

// PublicationOptions say which publication to compare and how to compare its tables' data.
type PublicationOptions struct {
	Publication string
	// SkipTables are member tables whose data is not compared (their membership still is); each
	// must be a member on some node.
	SkipTables []report.TableRef
	Data       DataOptions
}

// PublicationResult is the outcome of a publication comparison.
type PublicationResult struct {
	Publication string   `json:"publication"`
	Nodes       []string `json:"nodes"`
	// Roles says per node how its tables were found: "publisher", or "subscriber (NAME, ...)"
	// for a node that holds no publication but subscriptions to it.
	Roles map[string]string `json:"roles"`
	// Definition holds the differences of the publication's definition between publisher nodes
	// and of its membership between all nodes.
	Definition []Difference `json:"definition"`
	// Tables holds every table that is a member on any node, named schema.table.
	Tables []Table `json:"tables"`
}

// Differs reports whether the definition, membership or any table's data differs.
func (r *PublicationResult) Differs() bool { return len(r.Definition) > 0 || tablesDiffer(r.Tables) }

// Failed returns the tables whose data comparison failed.
func (r *PublicationResult) Failed() []string { return failedTables(r.Tables) }

// pubMember is one member table of the publication on one node.
type pubMember struct {
	schema, table string
	columns       []string
	filter        *string
	state         string // subscriber nodes: the sync state
	// shared is set on a subscriber node when the table's subscription also subscribes to
	// other publications: the table may come from one of those.
	shared bool
}

func (m pubMember) key() string { return m.schema + "." + m.table }

// pubNode is the publication as one node sees it.
type pubNode struct {
	publisher bool
	subs      []string
	props     map[string]string
	members   map[string]pubMember
}

// Publication compares a publication across nodes: its definition on every node that has it,
// its member tables on every node (on a node without the publication, the tables of its
// subscriptions to it), then the data of every member table, restricted to the published
// columns and rows. A node with neither the publication nor a subscription to it is an input
// error.
func Publication(ctx context.Context, pools cluster.Pools, o PublicationOptions) (*PublicationResult, error) {
	nodes := pools.Names()
	views := make([]*pubNode, len(pools))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pools {
		g.Go(func() error {
			v, err := readPublication(gctx, p, o.Publication)
			if err != nil {
				return &cluster.NodeError{Node: p.Node.Name, Err: err}
			}
			views[i] = v
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &PublicationResult{Publication: o.Publication, Nodes: nodes, Roles: map[string]string{}, Definition: []Difference{}, Tables: []Table{}}
	var lack []string
	for i, v := range views {
		switch {
		case v.publisher:
			res.Roles[nodes[i]] = "publisher"
		case len(v.subs) > 0:
			res.Roles[nodes[i]] = "subscriber (" + strings.Join(v.subs, ", ") + ")"
		default:
			lack = append(lack, nodes[i])
		}
	}
	if len(lack) > 0 {
		return nil, fault.Input("publication %s does not exist on node(s) %s, and no subscription there subscribes to it",
			pgx.Identifier{o.Publication}.Sanitize(), strings.Join(lack, ", "))
	}
	dropForeignMembers(views)
	names := memberNames(views)
	skip := map[string]bool{}
	for _, t := range o.SkipTables {
		if !slices.Contains(names, t.String()) {
			return nil, fault.Input("--skip-tables: %s is not a table of publication %s on any node", t, o.Publication)
		}
		skip[t.String()] = true
	}
	res.Definition = comparePublication(nodes, views, o.Publication)

	jobs := make([]tableJob, len(names))
	for i, name := range names {
		t := Table{Name: name, Structure: []Difference{}}
		for _, d := range res.Definition {
			if d.Property == "table "+name || strings.HasPrefix(d.Property, "table "+name+" ") {
				t.Structure = append(t.Structure, d)
			}
		}
		res.Tables = append(res.Tables, t)
		jobs[i] = publishedJob(views, name)
		if skip[name] {
			jobs[i].skip = "--skip-tables"
		}
	}
	data, err := diffTables(ctx, pools, "", jobs, o.Data)
	if err != nil {
		return nil, err
	}
	for i := range res.Tables {
		t := &res.Tables[i]
		t.Data = data[i]
		t.Status = tableStatus(len(t.Structure) > 0, false, t.Data, false)
	}
	return res, nil
}

// dropForeignMembers removes from subscriber nodes the tables of subscriptions to several
// publications that no publisher node has in this publication: they come from the others. When
// no node of the cluster is a publisher, such tables cannot be attributed and are kept.
func dropForeignMembers(views []*pubNode) {
	published := map[string]bool{}
	publishers := 0
	for _, v := range views {
		if v.publisher {
			publishers++
			for k := range v.members {
				published[k] = true
			}
		}
	}
	if publishers == 0 {
		return
	}
	for _, v := range views {
		for k, m := range v.members {
			if !v.publisher && m.shared && !published[k] {
				delete(v.members, k)
			}
		}
	}
}

// publishedJob is the data comparison of a member table: the published columns and rows of the
// first publisher that has it (the subscriber holds only those), when publishers agree on them.
func publishedJob(views []*pubNode, name string) tableJob {
	var job *tableJob
	for _, v := range views {
		m, ok := v.members[name]
		if !ok || !v.publisher {
			continue
		}
		j := tableJob{schema: m.schema, name: m.table, columns: m.columns}
		if m.filter != nil {
			j.where = *m.filter
		}
		if job == nil {
			job = &j
		} else if job.where != j.where || strings.Join(job.columns, ",") != strings.Join(j.columns, ",") {
			return tableJob{schema: m.schema, name: m.table, skip: "publishers differ in the table's column list or row filter"}
		}
	}
	if job == nil { // only subscribers list it
		for _, v := range views {
			if m, ok := v.members[name]; ok {
				return tableJob{schema: m.schema, name: m.table}
			}
		}
	}
	return *job
}

// comparePublication compares the definition among publisher nodes, and the membership of
// every table among all nodes.
func comparePublication(nodes []string, views []*pubNode, pub string) []Difference {
	var pubNodes []string
	var snaps []*Snapshot
	for i, v := range views {
		if v.publisher {
			pubNodes = append(pubNodes, nodes[i])
			s := &Snapshot{Node: nodes[i], Objects: map[ObjectID]map[string]string{{KindPublication, pub}: v.props}}
			snaps = append(snaps, s)
		}
	}
	out := []Difference{}
	if len(snaps) > 1 {
		out = append(out, Compare(pubNodes, snaps)...)
	}
	for _, name := range memberNames(views) {
		d := Difference{Kind: KindPublication, Object: pub, Property: "table " + name, Values: map[string]*string{}}
		missing := false
		for i, v := range views {
			m, ok := v.members[name]
			switch {
			case !ok:
				d.Values[nodes[i]] = nil
				missing = true
			case v.publisher:
				d.Values[nodes[i]] = ptr("published")
			default:
				d.Values[nodes[i]] = ptr("subscribed (state " + m.state + ")")
			}
		}
		if missing {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	return out
}

// listOrNone joins names with ", ", or says "(none)".
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func memberNames(views []*pubNode) []string {
	seen := map[string]bool{}
	for _, v := range views {
		for k := range v.members {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readPublication reads the publication on one node, or, when the node lacks it, the tables of
// the node's subscriptions to it.
func readPublication(ctx context.Context, p *cluster.Pool, pub string) (*pubNode, error) {
	v := &pubNode{members: map[string]pubMember{}, props: map[string]string{}}
	var all, viaRoot bool
	var ops string
	var named []string
	var version int
	err := p.QueryRow(ctx, pubDefinitionSQL, pub).Scan(&all, &ops, &viaRoot, &named, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read publication %s: %w", pub, err)
	default:
		v.publisher = true
		v.props["all tables"] = fmt.Sprint(all)
		v.props["operations"] = ops
		v.props["publish_via_partition_root"] = fmt.Sprint(viaRoot)
		// FOR TABLES IN SCHEMA s and FOR TABLE with the tables of s have the same members
		// today, but only the first publishes the tables created in s later.
		var schemas []string
		if version >= 150000 {
			rows, _ := p.Query(ctx, pubSchemasSQL, pub)
			if schemas, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return nil, fmt.Errorf("read schemas of publication %s: %w", pub, err)
			}
		}
		v.props["FOR TABLE"] = listOrNone(named)
		v.props["FOR TABLES IN SCHEMA"] = listOrNone(schemas)
		rows, _ := p.Query(ctx, pubTablesSQL, pub)
		var m pubMember
		_, err := pgx.ForEachRow(rows, []any{&m.schema, &m.table, &m.columns, &m.filter}, func() error {
			// Columns are matched by name: the order on disk may differ between nodes.
			sort.Strings(m.columns)
			v.members[m.key()] = m
			def := "columns (" + strings.Join(m.columns, ", ") + ")"
			if m.filter != nil {
				def += " WHERE " + *m.filter
			}
			v.props["table "+m.key()+" columns and row filter"] = def
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read tables of publication %s: %w", pub, err)
		}
		return v, nil
	}
	rows, _ := p.Query(ctx, pubSubscriptionsSQL, pub)
	v.subs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read subscriptions to publication %s: %w", pub, err)
	}
	rows, _ = p.Query(ctx, pubSubscribedTablesSQL, pub)
	var sub string
	var m pubMember
	_, err = pgx.ForEachRow(rows, []any{&sub, &m.schema, &m.table, &m.state, &m.shared}, func() error {
		if old, ok := v.members[m.key()]; ok && !old.shared {
			return nil // another subscription holds it from this publication alone
		}
		v.members[m.key()] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read tables subscribed from publication %s: %w", pub, err)
	}
	return v, nil
}
