package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// batchSize is how many keys one statement, in one transaction, records.
const batchSize = 1000

// ErrInvalidKey is returned for a key that has no canonical form: no columns, or a column whose
// text is not valid UTF-8.
var ErrInvalidKey = errors.New("invalid key")

// Key is a row's key: the text of each key column, in the key's column order.
type Key []string

// Seen is a key a run saw differing, with the nodes involved.
type Seen struct {
	Key   Key
	Nodes []string
}

// Divergence is one episode of a key differing between nodes: from the run that first saw it to
// the run that found it resolved. Run ids are 0 and times zero where the store holds NULL.
type Divergence struct {
	ID            int64
	Cluster       string
	Table         string // schema.name
	Key           Key
	Nodes         []string // the nodes involved when last seen, sorted
	FirstSeenRun  int64
	FirstSeenAt   time.Time
	LastSeenRun   int64
	LastSeenAt    time.Time
	LastRepairRun int64     // the latest repair run that touched the key while open
	LastRepairAt  time.Time // when that repair run started
	ResolvedRun   int64     // the run that found the key no longer differing (0: open)
	ResolvedAt    time.Time
	// ResolvedByRepairRun is the repair run credited with the resolution: the latest repair that
	// touched the key after it was last seen and before the resolving run started.
	ResolvedByRepairRun int64
}

// Open reports whether the divergence is not resolved.
func (d Divergence) Open() bool { return d.ResolvedRun == 0 }

// encodeKey returns the canonical text of a key: a compact JSON array of strings, without HTML
// escaping. Equal keys, and only equal keys, have equal texts.
func encodeKey(k Key) (string, error) {
	if len(k) == 0 {
		return "", fmt.Errorf("%w: no columns", ErrInvalidKey)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range k {
		if !utf8.ValidString(v) {
			// encoding/json would replace the bytes with U+FFFD: two keys would collide.
			return "", fmt.Errorf("%w: column %d is not valid UTF-8", ErrInvalidKey, i+1)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, v)
	}
	b.WriteByte(']')
	return b.String(), nil
}

// writeJSONString writes s as a JSON string, escaping only what JSON requires.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// encodeNodes returns the canonical text of a set of node names: sorted, without duplicates.
func encodeNodes(nodes []string) (string, error) {
	n := slices.Clone(nodes)
	slices.Sort(n)
	b, err := json.Marshal(nonNil(slices.Compact(n)))
	return string(b), err
}

// runStartedAt returns when a run started, or ErrNoRun.
func (s *Store) runStartedAt(ctx context.Context, runID int64) (time.Time, error) {
	var t time.Time
	err := s.db.QueryRowContext(ctx, s.d.sql("SELECT started_at FROM @runs WHERE id = ?"), runID).Scan(scanTime{&t})
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNoRun
	}
	return t, err
}

// RecordDivergences records the keys a run saw differing on a table, in batches of one transaction
// each, and returns how many distinct keys it recorded (a key repeated within a batch counts once).
// A key without an open divergence opens one, first and last seen by the run; an open one gets the
// run as its last sighting, and the run's nodes, unless it was already seen by a run that started
// later. A resolved divergence is never reopened: the key opens a new one. Keys are consumed as
// they come, so memory does not grow with their number; keys recorded before an error stay
// recorded.
func (s *Store) RecordDivergences(ctx context.Context, runID int64, cluster, table string, keys iter.Seq[Seen]) (int64, error) {
	if _, err := s.runStartedAt(ctx, runID); err != nil {
		return 0, fmt.Errorf("record divergences of run %d: %w", runID, err)
	}
	var n int64
	batch := make(map[string]string, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		q, args := upsertQuery(runID, cluster, table, batch)
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, s.d.sql(q), args...)
			return err
		})
		if err != nil {
			return err
		}
		n += int64(len(batch))
		clear(batch)
		return nil
	}
	var err error
	for k := range keys {
		var key, nodes string
		if key, err = encodeKey(k.Key); err != nil {
			break
		}
		if nodes, err = encodeNodes(k.Nodes); err != nil {
			break
		}
		batch[key] = nodes
		if len(batch) == batchSize {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, fmt.Errorf("record divergences of run %d on %s %s: %w", runID, cluster, table, err)
	}
	return n, nil
}

// upsertQuery builds RecordDivergences' statement for one batch (key text -> nodes text). Rows are
// in key order, so that concurrent writers lock keys in the same order and cannot deadlock.
func upsertQuery(runID int64, cluster, table string, batch map[string]string) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO @divergences AS d (cluster, table_name, key, nodes, first_seen_run, first_seen_at, last_seen_run, last_seen_at)
SELECT ?, ?, v.column1, v.column2, r.id, r.started_at, r.id, r.started_at
FROM (VALUES `)
	args := make([]any, 0, 2*len(batch)+3)
	args = append(args, cluster, table)
	for i, k := range slices.Sorted(maps.Keys(batch)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, k, batch[k])
	}
	b.WriteString(`) AS v, @runs r
WHERE r.id = ?
ON CONFLICT (cluster, table_name, key) WHERE resolved_run IS NULL DO UPDATE SET
 nodes = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.nodes ELSE d.nodes END,
 last_seen_run = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.last_seen_run ELSE d.last_seen_run END,
 last_seen_at = CASE WHEN excluded.last_seen_at >= d.last_seen_at THEN excluded.last_seen_at ELSE d.last_seen_at END,
 first_seen_run = CASE WHEN excluded.first_seen_at < d.first_seen_at THEN excluded.first_seen_run ELSE d.first_seen_run END,
 first_seen_at = CASE WHEN excluded.first_seen_at < d.first_seen_at THEN excluded.first_seen_at ELSE d.first_seen_at END`)
	args = append(args, runID)
	return b.String(), args
}

// RecordRepair notes that a repair run touched keys of a table, in batches of one transaction
// each, and returns how many open divergences it marked. Keys without an open divergence are
// ignored. The repair is dated by its run's start, like every sighting; it is credited when a run
// started later finds the key resolved (ResolveAbsent).
func (s *Store) RecordRepair(ctx context.Context, runID int64, cluster, table string, keys iter.Seq[Key]) (int64, error) {
	started, err := s.runStartedAt(ctx, runID)
	if err != nil {
		return 0, fmt.Errorf("record repair of run %d: %w", runID, err)
	}
	at := s.d.time(started)
	n, err := s.updateKeys(ctx, keys, func(in string, keys []any) (string, []any) {
		return "UPDATE @divergences SET last_repair_run = ?, last_repair_at = ?\nWHERE cluster = ? AND table_name = ? AND resolved_run IS NULL AND key IN " + in,
			append([]any{runID, at, cluster, table}, keys...)
	})
	if err != nil {
		return n, fmt.Errorf("record repair of run %d on %s %s: %w", runID, cluster, table, err)
	}
	return n, nil
}

// ResolveKeys marks resolved, by the run, the open divergences of the given keys that the run
// compared and did not see differing, and returns how many it resolved: for a run that compared
// exactly these keys (table-rerun), not the whole table. As with ResolveAbsent, the keys the run
// saw differing must be recorded first (a divergence is resolved when it was last seen before the
// run started), and the repair credited is the latest that touched the key after that sighting
// and before the run started.
func (s *Store) ResolveKeys(ctx context.Context, runID int64, cluster, table string, keys iter.Seq[Key]) (int64, error) {
	started, err := s.runStartedAt(ctx, runID)
	if err != nil {
		return 0, fmt.Errorf("resolve divergences of run %d: %w", runID, err)
	}
	at := s.d.time(started)
	n, err := s.updateKeys(ctx, keys, func(in string, keys []any) (string, []any) {
		return `UPDATE @divergences SET resolved_run = ?, resolved_at = ?,
 resolved_by_repair_run = CASE WHEN last_repair_at > last_seen_at AND last_repair_at <= ? THEN last_repair_run END
WHERE cluster = ? AND table_name = ? AND resolved_run IS NULL AND last_seen_at < ? AND key IN ` + in,
			append([]any{runID, at, at, cluster, table, at}, keys...)
	})
	if err != nil {
		return n, fmt.Errorf("resolve divergences of run %d on %s %s: %w", runID, cluster, table, err)
	}
	return n, nil
}

// updateKeys runs an UPDATE of divergences for keys, batchSize keys per statement and
// transaction, and returns the rows it changed. query builds the statement from the key list
// ("(?, ?, ...)") and the encoded keys (its last arguments), sorted so that concurrent writers
// lock rows in the same order.
func (s *Store) updateKeys(ctx context.Context, keys iter.Seq[Key], query func(in string, keys []any) (string, []any)) (int64, error) {
	var n int64
	batch := make(map[string]bool, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sorted := slices.Sorted(maps.Keys(batch))
		args := make([]any, len(sorted))
		for i, k := range sorted {
			args[i] = k
		}
		q, args := query("(?"+strings.Repeat(", ?", len(sorted)-1)+")", args)
		var m int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.d.sql(q), args...)
			if err != nil {
				return err
			}
			m, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		n += m
		clear(batch)
		return nil
	}
	var err error
	for k := range keys {
		var key string
		if key, err = encodeKey(k); err != nil {
			break
		}
		batch[key] = true
		if len(batch) == batchSize {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = flush()
	}
	return n, err
}

// ResolveAbsent marks resolved, by the run, every open divergence of the table that the run did
// not see differing, and returns how many it resolved. coveredAll says the run compared the whole
// table; when false nothing is resolved, since an uncompared key may still differ. The keys the run
// saw differing are those it recorded with RecordDivergences, which must come first: a divergence
// is resolved when it was last seen before the run started. The repair credited is the latest that
// touched the key after that sighting and before the run started.
func (s *Store) ResolveAbsent(ctx context.Context, runID int64, cluster, table string, coveredAll bool) (int64, error) {
	if !coveredAll {
		return 0, nil
	}
	started, err := s.runStartedAt(ctx, runID)
	if err != nil {
		return 0, fmt.Errorf("resolve divergences of run %d: %w", runID, err)
	}
	at := s.d.time(started)
	var n int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.sql(`UPDATE @divergences SET resolved_run = ?, resolved_at = ?,
 resolved_by_repair_run = CASE WHEN last_repair_at > last_seen_at AND last_repair_at <= ? THEN last_repair_run END
WHERE cluster = ? AND table_name = ? AND resolved_run IS NULL AND last_seen_at < ?`),
			runID, at, at, cluster, table, at)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("resolve divergences of run %d on %s %s: %w", runID, cluster, table, err)
	}
	return n, nil
}

// DivergenceFilter selects divergences; empty fields select everything.
type DivergenceFilter struct {
	Cluster string
	Table   string
	Open    bool      // only divergences not resolved
	Since   time.Time // last seen at or after
	Limit   int       // at most this many (0: no limit)
}

// divergencesQuery builds the query of Divergences, in the store's query spelling.
func divergencesQuery(f DivergenceFilter, d dialect) (string, []any) {
	var where []string
	var args []any
	if f.Cluster != "" {
		where = append(where, "cluster = ?")
		args = append(args, f.Cluster)
	}
	if f.Table != "" {
		where = append(where, "table_name = ?")
		args = append(args, f.Table)
	}
	if f.Open {
		where = append(where, "resolved_run IS NULL")
	}
	if !f.Since.IsZero() {
		where = append(where, "last_seen_at >= ?")
		args = append(args, d.time(f.Since))
	}
	q := `SELECT id, cluster, table_name, key, nodes, first_seen_run, first_seen_at, last_seen_run, last_seen_at,
 last_repair_run, last_repair_at, resolved_run, resolved_at, resolved_by_repair_run
FROM @divergences`
	if len(where) > 0 {
		q += "\nWHERE " + strings.Join(where, " AND ")
	}
	q += "\nORDER BY last_seen_at DESC, id DESC"
	if f.Limit > 0 {
		q += "\nLIMIT ?"
		args = append(args, f.Limit)
	}
	return q, args
}

// Divergences returns the divergences the filter selects, the most recently seen first.
func (s *Store) Divergences(ctx context.Context, f DivergenceFilter) ([]Divergence, error) {
	q, args := divergencesQuery(f, s.d)
	rows, err := s.db.QueryContext(ctx, s.d.sql(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list divergences: %w", err)
	}
	defer rows.Close()
	var out []Divergence
	for rows.Next() {
		var d Divergence
		var key, nodes string
		var repairRun, resolvedRun, byRepair sql.NullInt64
		err := rows.Scan(&d.ID, &d.Cluster, &d.Table, &key, &nodes, &d.FirstSeenRun, scanTime{&d.FirstSeenAt},
			&d.LastSeenRun, scanTime{&d.LastSeenAt}, &repairRun, scanTime{&d.LastRepairAt}, &resolvedRun,
			scanTime{&d.ResolvedAt}, &byRepair)
		if err != nil {
			return nil, fmt.Errorf("list divergences: %w", err)
		}
		d.LastRepairRun, d.ResolvedRun, d.ResolvedByRepairRun = repairRun.Int64, resolvedRun.Int64, byRepair.Int64
		if err := json.Unmarshal([]byte(key), &d.Key); err != nil {
			return nil, fmt.Errorf("divergence %d key: %w", d.ID, err)
		}
		if err := json.Unmarshal([]byte(nodes), &d.Nodes); err != nil {
			return nil, fmt.Errorf("divergence %d nodes: %w", d.ID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list divergences: %w", err)
	}
	return out, nil
}
