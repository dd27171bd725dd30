package cdc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/marks"
)

// Publication is the name of the tracker's publication (one per database).
const Publication = "pgparity"

// SlotName returns the tracker's logical slot of the connected database: slots are per server,
// so the database OID makes it unique.
func SlotName(ctx context.Context, p *cluster.Pool) (string, error) {
	var oid uint32
	if err := p.QueryRow(ctx, "SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()").Scan(&oid); err != nil {
		return "", nodeErr(p, "read the database OID", err)
	}
	return "pgparity_" + strconv.FormatUint(uint64(oid), 10), nil
}

// createSlot creates the publication (committed first) and then the logical slot, if absent.
func createSlot(ctx context.Context, p *cluster.Pool) error {
	var exists bool
	if err := p.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = $1)", Publication).Scan(&exists); err != nil {
		return nodeErr(p, "look for the publication", err)
	}
	if !exists {
		if _, err := p.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{Publication}.Sanitize()+" WITH (publish_via_partition_root = true)"); err != nil {
			return nodeErr(p, "create the publication", err)
		}
	}
	slot, err := SlotName(ctx, p)
	if err != nil {
		return err
	}
	if err := p.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)", slot).Scan(&exists); err != nil {
		return nodeErr(p, "look for the slot", err)
	}
	if !exists {
		if _, err := p.Exec(ctx, "SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
			return nodeErr(p, "create slot "+slot, err)
		}
	}
	return nil
}

// dropSlot drops the slot and the publication, if present. A slot in use (a running `mtree
// listen`) is an input error.
func dropSlot(ctx context.Context, p *cluster.Pool) error {
	slot, err := SlotName(ctx, p)
	if err != nil {
		return err
	}
	var active *bool
	if err := p.QueryRow(ctx, "SELECT (SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)", slot).Scan(&active); err != nil {
		return nodeErr(p, "look for the slot", err)
	}
	if active != nil && *active {
		return fault.Input("slot %s on node %s is in use: stop `pgparity mtree listen` first", slot, p.Node.Name)
	}
	if active != nil {
		if _, err := p.Exec(ctx, "SELECT pg_catalog.pg_drop_replication_slot($1)", slot); err != nil {
			return nodeErr(p, "drop slot "+slot, err)
		}
	}
	if _, err := p.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{Publication}.Sanitize()); err != nil {
		return nodeErr(p, "drop the publication", err)
	}
	return nil
}

// trackCDC adds the table to the publication and makes sure its replica identity gives the old
// key of a key-changing UPDATE and of a DELETE; it returns a note when it changed the identity.
func trackCDC(ctx context.Context, p *cluster.Pool, t *catalog.Table) (string, error) {
	var member bool
	var ident string
	var relid uint32
	err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
  WHERE pub.pubname = $1 AND pr.prrelid = pg_catalog.to_regclass($2)), c.relreplident::text, c.oid
FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($2)`,
		Publication, t.Ident()).Scan(&member, &ident, &relid)
	if err != nil {
		return "", nodeErr(p, "read the publication of "+t.Ident(), err)
	}
	// the marks table exists before the table's changes are published
	for _, s := range marks.Create(relid) {
		if _, err := p.Exec(ctx, s); err != nil {
			return "", nodeErr(p, "create the change marks of "+t.Ident(), err)
		}
	}
	note := ""
	switch {
	case ident == "f", ident == "d" && t.KeyKind == catalog.KeyPrimary:
		// the old key (or the whole old row) is in the WAL of key-changing UPDATEs and DELETEs
	case t.KeyKind == catalog.KeyUnique && ident == "i":
		// replica identity index: assumed to be the key index chosen by the catalog
	case t.KeyKind == catalog.KeyUnique:
		if _, err := p.Exec(ctx, "ALTER TABLE "+t.Ident()+" REPLICA IDENTITY USING INDEX "+pgx.Identifier{t.KeyIndex}.Sanitize()); err != nil {
			return "", nodeErr(p, "set the replica identity of "+t.Ident(), err)
		}
		note = fmt.Sprintf("set REPLICA IDENTITY USING INDEX %s on %s (node %s) so that changes carry the old key", t.KeyIndex, t.Ident(), p.Node.Name)
	default:
		if _, err := p.Exec(ctx, "ALTER TABLE "+t.Ident()+" REPLICA IDENTITY DEFAULT"); err != nil {
			return "", nodeErr(p, "set the replica identity of "+t.Ident(), err)
		}
		note = fmt.Sprintf("set REPLICA IDENTITY DEFAULT on %s (node %s) so that changes carry the old key", t.Ident(), p.Node.Name)
	}
	if !member {
		add := "ALTER PUBLICATION " + pgx.Identifier{Publication}.Sanitize() + " ADD TABLE " + t.Ident()
		// Only the key is decoded (PostgreSQL 15 column lists; the replica identity is the key
		// unless it is FULL): the walsender formats, and the consumer parses, a few columns per
		// change instead of every column.
		var version int
		if err := p.QueryRow(ctx, "SELECT pg_catalog.current_setting('server_version_num')::int").Scan(&version); err != nil {
			return "", nodeErr(p, "read the server version", err)
		}
		if version >= 150000 && ident != "f" {
			cols := make([]string, len(t.Key))
			for i, k := range t.Key {
				cols[i] = pgx.Identifier{k}.Sanitize()
			}
			if _, err := p.Exec(ctx, add+" ("+strings.Join(cols, ", ")+")"); err == nil {
				return note, nil
			}
			// e.g. a generated key column, which a column list cannot name: publish every column
		}
		if _, err := p.Exec(ctx, add); err != nil {
			return "", nodeErr(p, "add "+t.Ident()+" to the publication", err)
		}
	}
	return note, nil
}

// untrackCDC removes schema.table from the publication, if it is a member.
func untrackCDC(ctx context.Context, p *cluster.Pool, schema, table string) error {
	ident := pgx.Identifier{schema, table}.Sanitize()
	var member bool
	err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
  WHERE pub.pubname = $1 AND pr.prrelid = pg_catalog.to_regclass($2))`, Publication, ident).Scan(&member)
	if err != nil {
		return nodeErr(p, "read the publication", err)
	}
	if member {
		if _, err := p.Exec(ctx, "ALTER PUBLICATION "+pgx.Identifier{Publication}.Sanitize()+" DROP TABLE "+ident); err != nil {
			return nodeErr(p, "remove "+ident+" from the publication", err)
		}
	}
	return nil
}

// SlotStatus is the tracker's slot on one node.
type SlotStatus struct {
	Name          string `json:"name"`
	Active        bool   `json:"active"`
	RetainedBytes int64  `json:"retained_wal_bytes"` // WAL kept for the slot (from its restart position)
	PendingBytes  int64  `json:"pending_wal_bytes"`  // WAL written since its confirmed position
}

// Slot returns the node's slot status, or nil when it has none.
func Slot(ctx context.Context, p *cluster.Pool) (*SlotStatus, error) {
	name, err := SlotName(ctx, p)
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT active, coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::bigint,
  coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint
FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, name)
	if err != nil {
		return nil, nodeErr(p, "read slot "+name, err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*SlotStatus, error) {
		s := &SlotStatus{Name: name}
		return s, r.Scan(&s.Active, &s.RetainedBytes, &s.PendingBytes)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, nodeErr(p, "read slot "+name, err)
	}
	return s, nil
}
