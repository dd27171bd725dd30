package cdc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/marks"
)

// fencePrefix is the prefix of the logical decoding messages that end a drain.
const fencePrefix = "pgparity"

// statusInterval is how often a consumer tells the server its position while waiting.
const statusInterval = 10 * time.Second

// Drain brings node p's change marks up to date (cdc tracker; a no-op for the trigger tracker,
// whose marks commit with the changes). It writes a transactional fence message, then reads the
// slot until it has decoded the commit of that very message: every transaction committed before
// the fence has then left its marks, committed, and the slot is confirmed up to there. It never
// stops on silence. When another consumer (`mtree listen`) holds the slot, it waits until that
// consumer has confirmed past the fence instead.
func Drain(ctx context.Context, p *cluster.Pool) error {
	kind, err := Kind(ctx, p)
	if err != nil || kind != CDC {
		return err
	}
	slot, err := SlotName(ctx, p)
	if err != nil {
		return err
	}
	token := randomToken()
	var fence pglogrepl.LSN
	// The fence commits with synchronous_commit = on: a walsender decodes only flushed WAL, and
	// with asynchronous commits the fence would wait for the WAL writer's next round.
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT pg_catalog.pg_logical_emit_message(true, $1, $2)::text", fencePrefix, token).Scan(&fence)
	})
	if err != nil {
		return nodeErr(p, "write the fence", err)
	}
	for {
		var active, passed *bool
		err := p.QueryRow(ctx, `SELECT (SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1),
  (SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`, slot, fence.String()).Scan(&active, &passed)
		if err != nil {
			return nodeErr(p, "look for slot "+slot, err)
		}
		switch {
		case active == nil:
			return nodeErr(p, "drain", fmt.Errorf("slot %s is missing: run `pgparity mtree teardown` and `mtree init` again, then build", slot))
		case passed != nil && *passed:
			return nil // a running consumer (mtree listen) confirmed past the fence
		case !*active:
			err := consume(ctx, p, slot, token)
			if !isSlotInUse(err) {
				return err
			}
			// a listener took the slot meanwhile: wait for it instead
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isSlotInUse reports whether err says another process holds the slot.
func isSlotInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// Listen consumes node p's slot until ctx ends, recording marks and confirming each transaction
// once its marks are committed. It returns nil when ctx is cancelled.
func Listen(ctx context.Context, p *cluster.Pool) error {
	slot, err := SlotName(ctx, p)
	if err != nil {
		return err
	}
	// A walsender whose consumer just went away (a listener restarted) holds the slot until it
	// has noticed: wait a little for it, not for a second listener that is still running.
	for wait := 0; ; wait++ {
		err = consume(ctx, p, slot, "")
		if ctx.Err() != nil {
			return nil
		}
		if !isSlotInUse(err) || wait == 50 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// consume streams the slot from its confirmed position. With a token it stops after the commit
// of the transaction holding the fence message with that token; without, when ctx ends.
func consume(ctx context.Context, p *cluster.Pool, slot, token string) error {
	cfg := p.Config().ConnConfig.Config.Copy()
	cfg.RuntimeParams["replication"] = "database"
	delete(cfg.RuntimeParams, "plan_cache_mode")
	if token == "" {
		dial := cfg.DialFunc
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &pausedConn{Conn: c}, nil
		}
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nodeErr(p, "open a replication connection", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + Publication + "'", "messages 'true'"},
	})
	if err != nil {
		return nodeErr(p, "start replication from slot "+slot, err)
	}
	d := newDecoder(p)
	var deadline time.Time
	stopWatch := context.AfterFunc(ctx, func() { _ = conn.Conn().SetReadDeadline(time.Now()) })
	defer stopWatch()
	var confirmed pglogrepl.LSN
	nextStatus := time.Now().Add(statusInterval)
	status := func() error {
		nextStatus = time.Now().Add(statusInterval)
		return pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: confirmed})
	}
	// flush writes the marks of the transactions decoded so far (one COPY, committed) and only
	// then confirms their end position.
	flush := func() error {
		end, err := d.flush(ctx)
		if err != nil || end == 0 {
			return err
		}
		confirmed = end
		if err := status(); err != nil {
			return nodeErr(p, "confirm slot "+slot, err)
		}
		return nil
	}
	for {
		if d.due() {
			if err := flush(); err != nil {
				return err
			}
		}
		if time.Now().After(nextStatus) { // also when idle: the server ends a silent consumer after wal_sender_timeout
			if err := status(); err != nil {
				return nodeErr(p, "confirm slot "+slot, err)
			}
		}
		wake := nextStatus
		if d.pending > 0 && d.flushBy.Before(wake) {
			wake = d.flushBy
		}
		// A read deadline on the socket, not a context per message: a busy node sends tens of
		// thousands of messages a second, and a cancellable context costs a goroutine and a
		// timer for each (pgconn watches it). ctx's end sets an immediate deadline (stopWatch).
		if !wake.Equal(deadline) {
			deadline = wake
			if err := conn.Conn().SetReadDeadline(wake); err != nil {
				return nodeErr(p, "read slot "+slot, err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		raw, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue // time to flush marks or report our position
			}
			return nodeErr(p, "read slot "+slot, err)
		}
		if e, ok := raw.(*pgproto3.ErrorResponse); ok {
			return nodeErr(p, "read slot "+slot, pgconn.ErrorResponseToPgError(e))
		}
		cd, ok := raw.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return nodeErr(p, "read slot "+slot, err)
			}
			if ka.ReplyRequested {
				nextStatus = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return nodeErr(p, "read slot "+slot, err)
			}
			done, err := d.handle(ctx, x.WALData, token)
			if err != nil {
				return err
			}
			if done {
				if err := flush(); err != nil {
					return err
				}
				_, err := pglogrepl.SendStandbyCopyDone(ctx, conn)
				if err != nil && !errors.Is(err, context.Canceled) {
					return nodeErr(p, "end replication", err)
				}
				return nil
			}
		}
	}
}

// readPause is how long a listener waits before reading again after a read found less than a
// buffer's worth: a busy node's walsender sends every change as a message of its own, and reading
// each as it comes costs a system call and a wake-up per change (most of a listener's CPU under
// pgbench). Marks are written every flushDelay anyway; a drain reads without pauses.
const readPause = 5 * time.Millisecond

// pausedConn is a listener's replication connection, read in batches (readPause).
type pausedConn struct {
	net.Conn
	short bool // the last read returned less than half the buffer
}

func (c *pausedConn) Read(b []byte) (int, error) {
	if c.short {
		time.Sleep(readPause)
	}
	n, err := c.Conn.Read(b)
	c.short = n < len(b)/2
	return n, err
}

// flushDelay and flushMarks say when decoded marks are written: at most this long after the
// first unwritten one, or once this many are waiting (one write per decoded transaction would
// double the commit rate of a busy node).
const (
	flushDelay = 200 * time.Millisecond
	flushMarks = 5000
)

// relation is what the decoder knows of a published table.
type relation struct {
	cols   []string
	keyPos []int // positions of the tree's key columns in the relation's columns; nil = unknown
}

// decoder turns pgoutput messages into marks, one transaction at a time: keys are buffered per
// table up to MaxKeys, past which the table gets one whole-table mark instead.
type decoder struct {
	p     *cluster.Pool
	rels  map[uint32]*relation
	keys  map[uint32][][]string // the transaction being decoded
	whole map[uint32]bool
	fence bool
	// marks of committed transactions not written yet, and the end of the last of them
	rows    [][]any
	seen    map[string]bool // rel and key of every waiting mark: a key changed again is marked once
	pending int
	end     pglogrepl.LSN
	flushBy time.Time
}

func newDecoder(p *cluster.Pool) *decoder {
	return &decoder{p: p, rels: map[uint32]*relation{}, keys: map[uint32][][]string{}, whole: map[uint32]bool{}, seen: map[string]bool{}}
}

// due reports whether the waiting marks should be written now.
func (d *decoder) due() bool {
	return d.pending > 0 && (len(d.rows) >= flushMarks || !time.Now().Before(d.flushBy))
}

// handle decodes one message; at a commit the transaction's marks wait to be written. done
// says the fence with token was committed.
func (d *decoder) handle(ctx context.Context, data []byte, token string) (done bool, err error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return false, nodeErr(d.p, "decode the change stream", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		if err := d.relation(ctx, m); err != nil {
			return false, err
		}
	case *pglogrepl.InsertMessage:
		d.mark(m.RelationID, m.Tuple, nil)
	case *pglogrepl.UpdateMessage:
		d.mark(m.RelationID, m.NewTuple, m.OldTuple)
		if m.OldTuple != nil {
			d.mark(m.RelationID, m.OldTuple, nil)
		}
	case *pglogrepl.DeleteMessage:
		d.mark(m.RelationID, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			d.whole[id] = true
		}
	case *pglogrepl.LogicalDecodingMessage:
		if token != "" && m.Prefix == fencePrefix && string(m.Content) == token {
			d.fence = true
		}
	case *pglogrepl.CommitMessage:
		d.commit(m.TransactionEndLSN)
		done = d.fence
		d.fence = false
		return done, nil
	}
	return false, nil
}

// commit moves the transaction's marks to the waiting ones.
func (d *decoder) commit(end pglogrepl.LSN) {
	for rel := range d.whole {
		d.add(rel, nil)
	}
	for rel, keys := range d.keys {
		if d.whole[rel] {
			continue
		}
		for _, k := range keys {
			d.add(rel, k)
		}
	}
	d.keys, d.whole = map[uint32][][]string{}, map[uint32]bool{}
	if d.pending == 0 {
		d.flushBy = time.Now().Add(flushDelay)
	}
	d.pending++
	d.end = end
}

// add makes a mark of table rel wait to be written, unless the same mark already waits (hot rows
// of a busy table change many times between two writes).
func (d *decoder) add(rel uint32, k []string) {
	id := strconv.FormatUint(uint64(rel), 10)
	if k == nil {
		id += "*"
	} else {
		id += ":" + strings.Join(k, "\x00")
	}
	if d.seen[id] {
		return
	}
	d.seen[id] = true
	d.rows = append(d.rows, []any{rel, k})
}

// relation learns a table's columns and the positions of its tree's key.
func (d *decoder) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	r := &relation{}
	for _, c := range m.Columns {
		r.cols = append(r.cols, c.Name)
	}
	d.rels[m.RelationID] = r
	return d.resolve(ctx, m.RelationID, r)
}

// resolve finds the positions of the tree's key columns; without a tree (not built yet, or lost
// in a crash) they stay unknown and the table's changes become whole-table marks.
func (d *decoder) resolve(ctx context.Context, id uint32, r *relation) error {
	var key []string
	err := d.p.QueryRow(ctx, "SELECT key_columns FROM pgparity.trees WHERE relid = $1", id).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return nodeErr(d.p, "read the tree of a published table", err)
	}
	var pos []int
	for _, k := range key {
		for i, c := range r.cols {
			if c == k {
				pos = append(pos, i)
			}
		}
	}
	if len(pos) == len(key) {
		r.keyPos = pos
	}
	return nil
}

// mark records the key of tuple (for an UPDATE whose key column is an unchanged TOASTed value,
// the old key stands for it); anything it cannot read becomes a whole-table mark.
func (d *decoder) mark(rel uint32, tuple, old *pglogrepl.TupleData) {
	if d.whole[rel] {
		return
	}
	r := d.rels[rel]
	if r == nil || r.keyPos == nil || tuple == nil {
		d.whole[rel] = true
		return
	}
	k := make([]string, len(r.keyPos))
	for i, pos := range r.keyPos {
		if pos >= len(tuple.Columns) || tuple.Columns[pos].DataType != pglogrepl.TupleDataTypeText {
			if old != nil {
				return // unchanged key: the old key is marked by the caller
			}
			d.whole[rel] = true
			return
		}
		k[i] = string(tuple.Columns[pos].Data)
	}
	if len(d.keys[rel]) >= MaxKeys {
		d.whole[rel] = true
		delete(d.keys, rel)
		return
	}
	d.keys[rel] = append(d.keys[rel], k)
}

// flush writes the waiting marks (one COPY, committed on return) and returns the end position of
// the last transaction they cover (0 when nothing waited).
func (d *decoder) flush(ctx context.Context) (pglogrepl.LSN, error) {
	if d.pending == 0 {
		return 0, nil
	}
	if len(d.rows) > 0 {
		if err := d.write(ctx); err != nil {
			return 0, nodeErr(d.p, "write change marks", err)
		}
	}
	for id, r := range d.rels {
		if r.keyPos == nil { // a tree built meanwhile is used from now on
			if err := d.resolve(ctx, id, r); err != nil {
				return 0, err
			}
		}
	}
	end := d.end
	d.rows, d.pending = nil, 0
	clear(d.seen)
	return end, nil
}

// write copies the waiting marks into the marks tables of their trees, in one transaction. A
// table published without a marks table (its tree removed since the change) has none to write.
func (d *decoder) write(ctx context.Context) error {
	byRel := map[uint32][][]any{}
	var rels []uint32
	for _, r := range d.rows {
		rel := r[0].(uint32)
		if _, ok := byRel[rel]; !ok {
			rels = append(rels, rel)
		}
		byRel[rel] = append(byRel[rel], r[1:])
	}
	tx, err := d.p.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, "SELECT r FROM unnest($1::oid[]) AS r WHERE "+marks.Exists("r"), rels)
	if err != nil {
		return err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return err
	}
	for _, rel := range have {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pgparity", marks.Name(rel)}, []string{"k"}, pgx.CopyFromRows(byRel[rel])); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
