package cdc

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/marks"
)

// Tracker kinds.
const (
	CDC     = "cdc"
	Trigger = "trigger"
)

// commentPrefix starts the comment on schema pgparity that records the node's tracker (a
// comment is catalog state: it survives a crash, unlike the unlogged tables, and no logical
// replication carries it).
const commentPrefix = "pgparity tracker: "

// Init sets up the tracker kind on node p (schema pgparity must exist): "" picks cdc where
// wal_level = logical, else trigger. For cdc it creates the publication and, once that is
// committed, the logical slot. It returns the kind set up.
func Init(ctx context.Context, p *cluster.Pool, kind string) (string, error) {
	var walLevel string
	if err := p.QueryRow(ctx, "SELECT pg_catalog.current_setting('wal_level')").Scan(&walLevel); err != nil {
		return "", nodeErr(p, "read wal_level", err)
	}
	kind, err := chooseKind(kind, walLevel, p.Node.Name)
	if err != nil {
		return "", err
	}
	if old, err := Kind(ctx, p); err != nil {
		return "", err
	} else if old != "" && old != kind {
		return "", fault.Input("node %s already tracks changes with the %s tracker: run `pgparity mtree teardown` first to switch to %s", p.Node.Name, old, kind)
	}
	if kind == CDC {
		if err := createSlot(ctx, p); err != nil {
			return "", err
		}
	}
	if _, err := p.Exec(ctx, "COMMENT ON SCHEMA pgparity IS '"+commentPrefix+kind+"'"); err != nil {
		return "", nodeErr(p, "record the tracker", err)
	}
	return kind, nil
}

// chooseKind decides the tracker of a node from the request and its wal_level.
func chooseKind(kind, walLevel, node string) (string, error) {
	switch kind {
	case "":
		if walLevel == "logical" {
			return CDC, nil
		}
		return Trigger, nil
	case Trigger:
		return Trigger, nil
	case CDC:
		if walLevel != "logical" {
			return "", fault.Input("node %s has wal_level = %s: the cdc tracker needs logical decoding; use --tracker trigger, or set wal_level = logical and restart the node", node, walLevel)
		}
		return CDC, nil
	}
	return "", fault.Input("--tracker must be cdc or trigger, got %q", kind)
}

// Kind returns the node's tracker kind ("" when none is set up).
func Kind(ctx context.Context, p *cluster.Pool) (string, error) {
	var c *string
	err := p.QueryRow(ctx, "SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgparity'").Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", nodeErr(p, "read the tracker", err)
	}
	if c == nil || !strings.HasPrefix(*c, commentPrefix) {
		return "", nil
	}
	return strings.TrimPrefix(*c, commentPrefix), nil
}

// Track starts tracking table t on node p with the node's tracker. It returns a note for the
// user (e.g. a replica identity that was set), or "".
func Track(ctx context.Context, p *cluster.Pool, t *catalog.Table) (string, error) {
	kind, err := Kind(ctx, p)
	if err != nil {
		return "", err
	}
	switch kind {
	case Trigger:
		return "", TrackTrigger(ctx, p, t)
	case CDC:
		return trackCDC(ctx, p, t)
	}
	return "", fault.Input("node %s has no tracker: run `pgparity mtree init` first", p.Node.Name)
}

// Untrack stops tracking schema.table on node p (whatever the tracker).
func Untrack(ctx context.Context, p *cluster.Pool, schema, table string) error {
	if err := UntrackTrigger(ctx, p, schema, table); err != nil {
		return err
	}
	return untrackCDC(ctx, p, schema, table)
}

// Teardown removes the node's slot and publication (the schema, with the trigger functions and
// so the triggers, is dropped by merkle.Teardown).
func Teardown(ctx context.Context, p *cluster.Pool) error {
	return dropSlot(ctx, p)
}

// Check makes sure the node still tracks schema.table: for the trigger tracker its four
// triggers exist and fire always, for cdc the table is in the publication. A table whose tracking
// was removed (triggers dropped, publication altered) would otherwise look unchanged forever.
func Check(ctx context.Context, p *cluster.Pool, schema, table string) error {
	kind, err := Kind(ctx, p)
	if err != nil {
		return err
	}
	ident := pgx.Identifier{schema, table}.Sanitize()
	var ok, widen bool
	var relid uint32
	if kind != "" {
		// without a stored tree, its marks table (a tree of an earlier pgparity) or the table
		// there is nothing to check (the tree reports why)
		err = p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pgparity.trees t WHERE schema_name = $1 AND table_name = $2 AND `+marks.Exists("t.relid")+`)
  AND pg_catalog.to_regclass($3) IS NOT NULL`, schema, table, ident).Scan(&ok)
		if err != nil || !ok {
			return err
		}
	}
	switch kind {
	case Trigger:
		// The old key of a key-changing UPDATE comes from the rekey row trigger, or (trackers
		// installed before it existed) from the UPDATE trigger's old transition table.
		// widen: the rekey trigger is restricted to UPDATE OF the key, yet the table now has a
		// BEFORE UPDATE trigger of its own (widenRekey).
		err = p.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1)::oid,
  count(*) FILTER (WHERE tgenabled = 'A' AND tgname IN ('pgparity_track_insert', 'pgparity_track_update', 'pgparity_track_delete', 'pgparity_track_truncate')) = 4
  AND count(*) FILTER (WHERE tgenabled = 'R' AND tgname = 'pgparity_track_applied') = 1
  AND (count(*) FILTER (WHERE tgenabled = 'A' AND tgname = 'pgparity_track_rekey') = 1
    OR coalesce(bool_or(tgname = 'pgparity_track_update' AND tgoldtable IS NOT NULL), false)),
  coalesce(bool_or(tgname = '`+rekeyTrigger+`' AND tgattr::text <> ''), false) AND coalesce(bool_or(`+userBeforeUpdate+`), false)
  FROM pg_catalog.pg_trigger WHERE tgrelid = pg_catalog.to_regclass($1)`, ident).Scan(&relid, &ok, &widen)
	case CDC:
		err = p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
  WHERE pub.pubname = $1 AND pr.prrelid = pg_catalog.to_regclass($2))`, Publication, ident).Scan(&ok)
	default:
		return nil // not initialized: the tree reports it
	}
	if err != nil {
		return nodeErr(p, "check the tracking of "+ident, err)
	}
	if !ok {
		return fault.Input("node %s no longer tracks changes of %s (its %s tracking was removed): run `pgparity mtree build` again", p.Node.Name, ident, kind)
	}
	if widen {
		return widenRekey(ctx, p, schema, table, ident, relid)
	}
	return nil
}

// widenRekey handles a table that gained a BEFORE UPDATE row trigger after its tracker was
// installed with the rekey trigger restricted to UPDATE OF the key columns: a key changed by
// that trigger is not in the SET list, so its old key went unmarked. The node's whole tree is
// marked (this re-check rehashes every leaf of the node in its snapshot, which holds every such
// change) before the tracker is reinstalled with the rekey trigger declared for every UPDATE;
// reinstalling waits for the writers in flight, so none commits after the snapshot unmarked.
func widenRekey(ctx context.Context, p *cluster.Pool, schema, table, ident string, relid uint32) error {
	slog.Warn("a BEFORE UPDATE trigger may change keys behind the tracker: rehashing the node's whole tree and tracking every UPDATE",
		"node", p.Node.Name, "table", ident)
	if _, err := p.Exec(ctx, "INSERT INTO "+marks.Table(relid)+" (k) VALUES (NULL)"); err != nil {
		return nodeErr(p, "mark "+ident+" as changed", err)
	}
	t, err := catalog.Load(ctx, p, schema, table)
	if err != nil {
		return nodeErr(p, "read "+ident, err)
	}
	if err := p.QueryRow(ctx, "SELECT key_columns FROM pgparity.trees WHERE relid = $1", relid).Scan(&t.Key); err != nil {
		return nodeErr(p, "read the tree of "+ident, err)
	}
	return TrackTrigger(ctx, p, t)
}
