package diff

import (
	"context"
	"sync"

	"fmt"
	"github.com/jackc/pgx/v5"
	"io"
	"time"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/report"
)

// rereadBatch is how many keys are re-read per round trip by recheck and rerun.
const rereadBatch = 10000

// recheck waits, then re-reads every key found (fresh snapshots, so that replication has had
// time to apply) and emits those that still differ as found now, and those that agree now as
// transient (with the rows first seen).
func (e *engine) recheck(ctx context.Context, sp *report.Spool, out *emitter) error {
	t := time.NewTimer(e.opts.Recheck)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r, err := sp.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	return e.reread(ctx, r, out, true)
}

// reread re-reads the keys of r's entries in batches, in a fresh read-only snapshot per node,
// and emits each key that still differs with its current rows; with transient, each key that
// agrees now is emitted too, as transient, with the rows r recorded.
func (e *engine) reread(ctx context.Context, r report.Source, out *emitter, transient bool) error {
	sessions, err := openSessions(ctx, e.pools, 1, nil, false)
	if err != nil {
		return err
	}
	defer closeSessions(ctx, sessions)
	e.sessions = sessions
	batch := make([]report.Entry, 0, rereadBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		now, err := e.rereadBatch(ctx, batch)
		if err != nil {
			return err
		}
		if !transient { // rerun: every node compared exactly these keys
			for i := range e.nodes {
				e.rowsCompared[i].Add(int64(len(batch)))
			}
		}
		for i := range batch {
			en := &now[i]
			if en.Versions == nil && en.Counts == nil { // agrees now
				if !transient {
					continue
				}
				en = &batch[i]
				en.Transient = true
			}
			if _, err := out.emit(en); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		en, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if en.Transient {
			continue
		}
		if batch = append(batch, *en); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// rereadBatch returns, per entry, its current entry on every node (zero Entry: the nodes agree).
func (e *engine) rereadBatch(ctx context.Context, batch []report.Entry) ([]report.Entry, error) {
	if e.cmp.Table.KeyKind == catalog.KeyNone {
		return e.recountBatch(ctx, batch)
	}
	keys := make([]Key, len(batch))
	for i := range batch {
		if len(batch[i].Key) != len(e.q.key) {
			return nil, fault.Input("entry %d has %d key values, the key has %d columns", i+1, len(batch[i].Key), len(e.q.key))
		}
		keys[i] = batch[i].Key
	}
	// Row hashes first (no text rendered or sent): after a repair nearly every key agrees, and
	// only the keys that still differ are read in full.
	f := newFound(len(e.nodes))
	var mu sync.Mutex
	err := e.onEveryNode(ctx, func(ctx context.Context, i int, tx pgx.Tx) error {
		return e.fetchKeysAs(ctx, tx, keys, true, func(k Key, row *nodeRow) {
			mu.Lock()
			f.put(k, i, row)
			mu.Unlock()
		})
	}, 0)
	if err != nil {
		return nil, err
	}
	all := make([]int, len(e.nodes))
	for i := range all {
		all[i] = i
	}
	var differing []Key
	var at []int
	for i, k := range keys {
		if _, ok := f.byID[k.id()]; ok && f.differs(k.id(), all) {
			differing = append(differing, k)
			at = append(at, i)
		}
	}
	out := make([]report.Entry, len(keys))
	if len(differing) == 0 {
		return out, nil
	}
	full, err := e.fetchEntries(ctx, 0, differing)
	if err != nil {
		return nil, err
	}
	for j, en := range full {
		out[at[j]] = en
	}
	return out, nil
}

// Rerun re-reads the keys of an earlier diff (from src: a diff file, or an in-memory diff) on its
// nodes and streams to sink those that still differ. The table's compared columns must still have
// the recorded types.
func Rerun(ctx context.Context, pools cluster.Pools, r report.Source, tool string, sink report.Sink) (*report.Diff, error) {
	started := time.Now().UTC()
	old := r.Header()
	cols := make([]string, len(old.Columns))
	for i, c := range old.Columns {
		cols[i] = c.Name
	}
	o := Options{
		Cluster: old.Cluster, Schema: old.Table.Schema, Table: old.Table.Name,
		BlockSize: max(old.Options.BlockSize, 10), Concurrency: max(old.Options.Concurrency, 1),
		Where: old.Options.Where, Columns: cols, Strict: old.Options.Strict, Tool: tool,
	}
	if old.Options.Until != "" {
		t, err := time.Parse(time.RFC3339Nano, old.Options.Until)
		if err != nil {
			return nil, fault.Input("diff file: options.until %q is not an RFC 3339 time", old.Options.Until)
		}
		o.Until = &t
	}
	e, err := prepare(ctx, pools, o)
	if err != nil {
		return nil, err
	}
	for _, c := range old.Columns {
		now, ok := e.cmp.Table.Column(c.Name)
		if !ok || now.Type != c.Type {
			return nil, fault.Input("column %q of %s changed type since the diff (%s, was %s): run table-diff again", c.Name, e.cmp.Table.Ident(), now.Type, c.Type)
		}
	}
	if fmt.Sprint(old.Key) != fmt.Sprint(e.cmp.Table.Key) && !(len(old.Key) == 0 && len(e.cmp.Table.Key) == 0) {
		return nil, fault.Input("the key of %s changed since the diff (%v, was %v): run table-diff again", e.cmp.Table.Ident(), e.cmp.Table.Key, old.Key)
	}
	d := e.newReport(started)
	fresh := d.Options
	d.Options = old.Options
	d.Options.RowHash, d.Options.RowHashVersion, d.Options.Checksum = fresh.RowHash, fresh.RowHashVersion, fresh.Checksum
	tally := report.NewTally(e.nodes)
	if err := sink.Begin(d); err != nil {
		return nil, err
	}
	// Keys are all a keyed rerun reads of the old entries: still differing keys are read again
	// in full on the nodes. (A whole-row entry's values are its identity: they are kept.)
	if s, ok := r.(interface{ SkipValues() }); ok && len(old.Key) > 0 {
		s.SkipValues()
	}
	if err := e.reread(ctx, r, &emitter{sink: sink, tally: tally}, false); err != nil {
		return nil, err
	}
	e.finish(d, started, tally)
	if err := sink.End(d); err != nil {
		return nil, err
	}
	return d, nil
}
