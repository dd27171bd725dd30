package topology

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	//go:embed node.sql
	nodeSQL string
	//go:embed publications.sql
	publicationsSQL string
	//go:embed publication_tables.sql
	publicationTablesSQL string
	//go:embed publication_tables_pre15.sql
	publicationTablesPre15SQL string
	//go:embed subscriptions.sql
	subscriptionsSQL string
	//go:embed subscription_origin.sql
	subscriptionOriginSQL string
	//go:embed subscription_conninfo.sql
	subscriptionConninfoSQL string
	//go:embed origins.sql
	originsSQL string
	//go:embed slots.sql
	slotsSQL string
)

// Read reads the replication state of the database q is connected to. What only superusers may
// read (subscription connection strings, replication origin progress) is left unset for others.
func Read(ctx context.Context, q Querier) (*Node, error) {
	n := &Node{Publications: []Publication{}, Subscriptions: []Subscription{}, Slots: []Slot{}}
	if err := q.QueryRow(ctx, nodeSQL).Scan(&n.ServerVersion, &n.WALPosition, &n.Database); err != nil {
		return nil, fmt.Errorf("read server state: %w", err)
	}
	var err error
	if n.Publications, err = readPublications(ctx, q, n.ServerVersion); err != nil {
		return nil, err
	}
	if n.Subscriptions, err = readSubscriptions(ctx, q, n.ServerVersion); err != nil {
		return nil, err
	}
	rows, _ := q.Query(ctx, slotsSQL)
	n.Slots, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Slot, error) {
		var s Slot
		err := r.Scan(&s.Name, &s.Type, &s.Plugin, &s.Active, &s.WALStatus, &s.SafeWALSize, &s.Retained, &s.FlushLag, &s.ReplayLag, &s.Consumer)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read replication slots: %w", err)
	}
	return n, nil
}

func readPublications(ctx context.Context, q Querier, version int) ([]Publication, error) {
	rows, _ := q.Query(ctx, publicationsSQL)
	pubs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Publication, error) {
		p := Publication{Tables: []PublishedTable{}}
		err := r.Scan(&p.Name, &p.AllTables, &p.Operations, &p.ViaPartitionRoot)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read publications: %w", err)
	}
	sql := publicationTablesSQL
	if version < 150000 {
		sql = publicationTablesPre15SQL
	}
	// pg_get_publication_tables is estimated at 1,000 rows per publication: the plan's cost then
	// passes jit_above_cost, and compiling it takes seconds for a query that runs in a
	// millisecond. JIT is turned off for this query only.
	tx, err := q.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read publication tables: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only: the rollback only ends the transaction
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return nil, fmt.Errorf("read publication tables: %w", err)
	}
	rows, _ = tx.Query(ctx, sql)
	var pub string
	var t PublishedTable
	var filter *string
	_, err = pgx.ForEachRow(rows, []any{&pub, &t.Schema, &t.Name, &t.Columns, &filter}, func() error {
		for i := range pubs {
			if pubs[i].Name == pub {
				m := t
				if filter != nil {
					m.RowFilter = *filter
				}
				pubs[i].Tables = append(pubs[i].Tables, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read publication tables: %w", err)
	}
	return pubs, nil
}

func readSubscriptions(ctx context.Context, q Querier, version int) ([]Subscription, error) {
	rows, _ := q.Query(ctx, subscriptionsSQL)
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) {
		var s Subscription
		var stream string
		var tables []string
		err := r.Scan(&s.Name, &s.Enabled, &s.Slot, &stream, &s.DisableOnError, &s.Publications, &s.ApplyErrors,
			&s.SyncErrors, &s.ReceivedLSN, &s.LatestEndLSN, &s.LastMessageAt, &tables, &s.OID, &s.ApplyPID)
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
	byName := func(name string) *Subscription {
		for i := range subs {
			if subs[i].Name == name {
				return &subs[i]
			}
		}
		return nil
	}
	var name, value string
	if version >= 160000 {
		rows, _ = q.Query(ctx, subscriptionOriginSQL)
		if _, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
			if s := byName(name); s != nil {
				s.Origin = value
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read subscription origins: %w", err)
		}
	}
	if len(subs) == 0 {
		return subs, nil
	}
	rows, _ = q.Query(ctx, subscriptionConninfoSQL)
	_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		if s := byName(name); s != nil {
			s.Conn = ParseAddress(value)
		}
		return nil
	})
	if err != nil && !denied(err) {
		return nil, fmt.Errorf("read subscription connections: %w", err)
	}
	rows, _ = q.Query(ctx, originsSQL)
	var lsn *string
	_, err = pgx.ForEachRow(rows, []any{&name, &lsn}, func() error {
		for i := range subs {
			if subs[i].OriginName() == name {
				subs[i].OriginLSN = lsn
			}
		}
		return nil
	})
	if err != nil && !denied(err) {
		return nil, fmt.Errorf("read replication origins: %w", err)
	}
	return subs, nil
}

// denied reports whether err is PostgreSQL's insufficient_privilege.
func denied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
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

func originName(oid uint32) string { return "pg_" + strconv.FormatUint(uint64(oid), 10) }
