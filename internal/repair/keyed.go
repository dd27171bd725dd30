package repair

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pgparity/pgparity/internal/fault"
)

// action is what the guard decided for one change.
type action uint8

const (
	actNone action = iota // not decided yet
	actInSync
	actStale
	actInsert
	actUpdate
	actDelete
	actMove // an update that changes a GENERATED ALWAYS identity column (see statements.move)
)

var actionKind = map[action]Kind{actInsert: Insert, actUpdate: Update, actDelete: Delete, actMove: Update}

// applyKeyed repairs one batch of a keyed diff on the node with a fixed number of statements,
// whatever the number of changes in the batch:
//
//  1. COPY the change list (change number and key) into a temporary table (emptied between
//     batches);
//  2. only for rows whose hash the diff did not record (undo, fix-nulls merges, older diff
//     files): COPY them into a temporary table and read their hashes;
//  3. one SELECT locks every row of those keys that the node holds and returns its hash and its
//     columns as text (one hash per change: the expected and new hashes come from the diff);
//  4. Go decides each change (in sync, stale, insert, update, delete) and streams the undo
//     entries of the changes to make to the undo file while the node goes on;
//  5. COPY the rows to write (only the key of a row to delete), then one DELETE, one UPDATE and
//     one INSERT, each checked against the count the guard decided.
func (w *nodeWork) applyKeyed(ctx context.Context) error {
	st := w.st
	if done, err := w.insertAbsent(ctx); done || err != nil {
		return err
	}
	if err := w.empty(ctx, tempOps, tempNew); err != nil {
		return err
	}
	_, err := copyIn(ctx, w.tx, st.copyKeyedOps(), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		l.int(int64(i))
		if len(c.Key) != len(st.key) {
			return fault.Input("diff entry %d: %d key values, the key has %d columns", c.Row+1, len(c.Key), len(st.key))
		}
		for _, k := range c.Key {
			l.text(k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load change list: %w", err)
	}
	w.step("copy change list")
	exp, nw, err := w.hashes(ctx)
	if err != nil {
		return err
	}
	w.step("hash rows the diff has no hash of")
	actions, err := w.guard(ctx, exp, nw)
	if err != nil {
		return err
	}
	w.step("lock, guard and read rows to change")
	if err := w.moves(actions); err != nil {
		return err
	}
	want := map[action]int64{}
	for _, a := range actions {
		want[a]++
	}
	if w.opts.DryRun {
		w.res.Inserted += want[actInsert]
		w.res.Updated += want[actUpdate] + want[actMove]
		w.res.Deleted += want[actDelete]
		return nil
	}
	if n := want[actUpdate] + want[actDelete] + want[actMove]; n > 0 {
		if err := w.loadWrites(ctx, actions, n); err != nil {
			return fmt.Errorf("load rows to write: %w", err)
		}
		w.step("copy rows to update or delete")
	}
	// Deletes first, inserts last: a row deleted and another inserted may share a unique value.
	for _, s := range []struct {
		act action
		sql string
		n   *int64
	}{
		{actDelete, st.remove(), &w.res.Deleted},
		{actUpdate, st.update(w.columnsSet(actions)), &w.res.Updated},
		{actMove, st.move(w.insertable), &w.res.Updated},
	} {
		kind := actionKind[s.act]
		if want[s.act] == 0 {
			continue
		}
		tag, err := w.tx.Exec(ctx, s.sql)
		if err != nil {
			return fmt.Errorf("%s rows: %w", kind, err)
		}
		if tag.RowsAffected() != want[s.act] {
			return fmt.Errorf("%s rows: %d changed, %d expected", kind, tag.RowsAffected(), want[s.act])
		}
		*s.n += tag.RowsAffected()
		w.step(string(kind) + " rows")
	}
	if want[actInsert] > 0 {
		n, err := w.insertRows(ctx, actions, want[actInsert])
		if err != nil {
			return fmt.Errorf("insert rows: %w", err)
		}
		if n != want[actInsert] {
			return fmt.Errorf("insert rows: %d changed, %d expected", n, want[actInsert])
		}
		w.res.Inserted += n
		w.step("insert rows")
	}
	return nil
}

// insertRows copies the rows to insert straight into the table: one pass, as a plain COPY of the
// rows would be. COPY writes identity columns as given (as OVERRIDING SYSTEM VALUE does) and fires
// triggers as INSERT does; a key inserted meanwhile by someone else (a row the guard could not
// lock, being absent) fails the node on the key's unique index, as INSERT would. The undo entries
// of the inserts are written as their rows are sent, while the node is busy storing them.
func (w *nodeWork) insertRows(ctx context.Context, actions []action, n int64) (int64, error) {
	idx := make([]int, 0, n)
	for i, a := range actions {
		if a == actInsert {
			idx = append(idx, i)
		}
	}
	return copyIn(ctx, w.tx, w.st.copyInto(), len(idx), func(j int, l *line) error {
		c := &w.changes[idx[j]]
		if err := w.rowValues(l, c, c.New); err != nil {
			return err
		}
		w.track(c.New, nil)
		w.undoLine(c, actInsert, nil)
		return nil
	})
}

// insertAbsent is the fast path of a batch whose every change inserts a row the node lacked when
// the diff read it (a truncated, rebuilt or new node being refilled): one COPY of the rows into
// the table, with no change list and no guard query. The guard would find every key still absent,
// or else the key's unique index refuses the COPY (the key's index is always unique and
// immediate, see catalog): the batch is then rolled back to a savepoint, its undo entries
// dropped, and it goes through the guarded path, which skips or fails exactly as it always did.
// It reports whether the batch was applied.
func (w *nodeWork) insertAbsent(ctx context.Context) (bool, error) {
	if w.opts.DryRun || len(w.changes) == 0 {
		return false, nil
	}
	for i := range w.changes {
		if c := &w.changes[i]; c.Kind != Insert || c.Expected != nil || c.New == nil {
			return false, nil
		}
	}
	if _, err := w.tx.Exec(ctx, "SAVEPOINT pgparity_insert"); err != nil {
		return false, fmt.Errorf("insert rows: %w", err)
	}
	mark := 0
	if w.us != nil {
		mark = w.us.hold()
	}
	n, err := copyIn(ctx, w.tx, w.st.copyInto(), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		if err := w.rowValues(l, c, c.New); err != nil {
			return err
		}
		w.track(c.New, nil)
		w.undoLine(c, actInsert, nil)
		return nil
	})
	if err == nil && n != int64(len(w.changes)) {
		err = fmt.Errorf("%d rows copied, %d expected", n, len(w.changes))
	}
	if err != nil {
		if w.us != nil {
			w.us.drop(mark)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if _, rerr := w.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pgparity_insert"); rerr != nil {
			return false, fmt.Errorf("insert rows: %w (and rolling back to the savepoint: %v)", err, rerr)
		}
		slog.Debug("batch of inserts goes through the guard", "node", w.node, "reason", err)
		w.step("insert rows without guard (rolled back)")
		return false, nil
	}
	if w.us != nil {
		w.us.release()
	}
	if _, err := w.tx.Exec(ctx, "RELEASE SAVEPOINT pgparity_insert"); err != nil {
		return false, fmt.Errorf("insert rows: %w", err)
	}
	w.res.Inserted += n
	w.step("insert rows without guard")
	return true, nil
}

// hashes returns the hash of every change's expected and new row: the diff's where the plan has
// it, else computed by the node from the row cast back from the diff's text (unknown = absent).
func (w *nodeWork) hashes(ctx context.Context) (exp, nw []rowHash, err error) {
	exp = make([]rowHash, len(w.changes))
	nw = make([]rowHash, len(w.changes))
	type row struct {
		ord int
		new bool
	}
	var missing []row
	for i := range w.changes {
		c := &w.changes[i]
		exp[i], nw[i] = c.expHash, c.newHash
		if c.Expected != nil && !c.expHash.known {
			missing = append(missing, row{i, false})
		}
		if c.New != nil && !c.newHash.known {
			missing = append(missing, row{i, true})
		}
	}
	if len(missing) == 0 {
		return exp, nw, nil
	}
	st := w.st
	if err := w.empty(ctx, tempHash); err != nil {
		return nil, nil, err
	}
	_, err = copyIn(ctx, w.tx, st.copyRows(tempHash), len(missing), func(j int, l *line) error {
		m := missing[j]
		c := &w.changes[m.ord]
		l.int(int64(m.ord))
		vals, side := c.Expected, "expected"
		if m.new {
			vals, side = c.New, "new"
		}
		l.text(side)
		l.null()
		return w.rowValues(l, c, vals)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load rows to hash: %w", err)
	}
	rows, err := w.tx.Query(ctx, st.hashes())
	if err != nil {
		return nil, nil, fmt.Errorf("hash rows: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ord, h int64
		var side string
		if err := rows.Scan(&ord, &side, &h); err != nil {
			return nil, nil, fmt.Errorf("hash rows: %w", err)
		}
		if ord < 0 || ord >= int64(len(w.changes)) {
			return nil, nil, fmt.Errorf("hash rows: unexpected change number %d", ord)
		}
		if side == "new" {
			nw[ord] = rowHash{v: h, known: true}
		} else {
			exp[ord] = rowHash{v: h, known: true}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("hash rows: %w", err)
	}
	if n != len(missing) {
		return nil, nil, fmt.Errorf("hash rows: %d hashed, %d expected", n, len(missing))
	}
	return exp, nw, nil
}

// rowValues appends a row's values (by column position) in the order of the written columns,
// which is the diff's column order.
func (w *nodeWork) rowValues(l *line, c *Change, vals []*string) error {
	if len(vals) < len(w.st.cols) {
		return fault.Input("diff entry %d: %d values, the diff has %d columns", c.Row+1, len(vals), len(w.st.cols))
	}
	for i := range w.st.cols {
		l.textPtr(vals[i])
	}
	return nil
}

// guard reads (and, unless this is a dry run, locks) the node's current row of every change and
// decides each change. The hash of the current row is needed only when its text is neither the
// expected row's nor the new row's: equal text is an equal value, so such a row has that row's
// hash. The few others (rows changed since the diff) are hashed by a second query. The undo
// entries of the changes to make go to the undo stream as the rows arrive; a dry run lists them
// in the result instead (the first ones, see listLimit).
func (w *nodeWork) guard(ctx context.Context, exp, nw []rowHash) ([]action, error) {
	st := w.st
	g := &guardState{w: w, exp: exp, nw: nw,
		actions: make([]action, len(w.changes)), present: make([]bool, len(w.changes))}
	if n := len(w.changes) * len(st.cols); cap(w.masks) >= n {
		g.masks = w.masks[:n]
	} else {
		g.masks = make([]byte, n)
	}
	if w.opts.DryRun {
		g.dryBefore = map[int][]*string{}
	}
	rows, err := w.tx.Query(ctx, st.current(!w.opts.DryRun))
	if err != nil {
		return nil, fmt.Errorf("lock and read rows: %w", err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	unknown := map[int64][][]byte{} // rows to hash, with their texts
	for rows.Next() {
		raw := rows.RawValues()
		ord, err := rawInt8(raw[0], fds[0].Format)
		if err != nil {
			return nil, fmt.Errorf("lock and read rows: change number: %w", err)
		}
		if ord < 0 || ord >= int64(len(w.changes)) || g.present[ord] {
			return nil, fmt.Errorf("lock and read rows: unexpected change number %d", ord)
		}
		g.present[ord] = true
		c, texts := &w.changes[ord], raw[1:]
		var cur rowHash
		switch {
		case c.New != nil && w.sameTexts(texts, c.New):
			cur = nw[ord]
		case c.Expected != nil && w.sameTexts(texts, c.Expected):
			cur = exp[ord]
		default:
			keep := make([][]byte, len(texts))
			for i, t := range texts {
				if t != nil {
					keep[i] = append([]byte{}, t...)
				}
			}
			unknown[ord] = keep
			continue
		}
		if err := g.resolve(ord, cur, texts); err != nil {
			return nil, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock and read rows: %w", err)
	}
	if len(unknown) > 0 {
		if err := g.hashUnknown(ctx, unknown); err != nil {
			return nil, err
		}
	}
	w.hashed += int64(len(unknown))
	for i := range w.changes {
		c := &w.changes[i]
		if !g.present[i] {
			if err := g.resolve(int64(i), rowHash{}, nil); err != nil {
				return nil, err
			}
		}
		switch a := g.actions[i]; a {
		case actInSync:
			w.res.InSync++
		case actStale:
			w.res.stale(StaleRow{Key: w.plan.keyRecord(c.Key), Kind: c.Kind, Reason: staleReason(!g.present[i], !exp[i].known)})
		default:
			if g.dryBefore != nil {
				w.res.change(func() undoEntry {
					e := undoEntry{Node: w.node, Op: actionKind[a], Key: w.plan.keyRecord(c.Key)}
					if b, ok := g.dryBefore[i]; ok {
						rec := recordOf(w.st.cols, b)
						e.Before = &rec
					}
					if a != actDelete {
						e.After = w.plan.valuesRecord(c.New)
					}
					return e
				})
			}
		}
	}
	w.masks = g.masks
	return g.actions, nil
}

// guardState is what guard gathers about every change of a batch.
type guardState struct {
	w         *nodeWork
	exp, nw   []rowHash
	actions   []action
	present   []bool
	masks     []byte            // per change, one '0' or '1' per column: the update sets it
	dryBefore map[int][]*string // dry run: the rows before
}

// resolve decides one change from its current row (texts, nil: absent, and its hash), records
// the columns an update sets and writes the undo entry of a change to make.
func (g *guardState) resolve(ord int64, cur rowHash, texts [][]byte) error {
	w := g.w
	c := &w.changes[ord]
	a := w.decide(ord, cur, g.exp[ord], g.nw[ord])
	g.actions[ord] = a
	switch a {
	case actUpdate:
		mask := g.masks[int(ord)*len(w.st.cols):][:len(w.st.cols)]
		for i := range w.st.cols {
			mask[i] = '0'
			if !sameText(texts[i], at(c.New, i)) {
				mask[i] = '1'
			}
		}
	case actInsert, actDelete:
	default:
		return nil
	}
	if g.dryBefore != nil {
		if texts != nil {
			strs := make([]*string, len(texts))
			for i, t := range texts {
				if t != nil {
					s := string(t)
					strs[i] = &s
				}
			}
			g.dryBefore[int(ord)] = strs
		}
		return nil
	}
	if a == actInsert {
		return nil // its undo entry is written as the row is copied in (insertRows)
	}
	var before func([]byte) []byte
	if texts != nil {
		before = func(b []byte) []byte { return w.row.appendTexts(b, texts) }
	}
	w.undoLine(c, a, before)
	return nil
}

// hashUnknown hashes the current rows whose text matched neither version and resolves them.
func (g *guardState) hashUnknown(ctx context.Context, unknown map[int64][][]byte) error {
	ords := make([]int64, 0, len(unknown))
	for o := range unknown {
		ords = append(ords, o)
	}
	rows, err := g.w.tx.Query(ctx, g.w.st.currentHashes(), ords)
	if err != nil {
		return fmt.Errorf("hash current rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ord, h int64
		if err := rows.Scan(&ord, &h); err != nil {
			return fmt.Errorf("hash current rows: %w", err)
		}
		texts, ok := unknown[ord]
		if !ok {
			return fmt.Errorf("hash current rows: unexpected change number %d", ord)
		}
		delete(unknown, ord)
		if err := g.resolve(ord, rowHash{v: h, known: true}, texts); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("hash current rows: %w", err)
	}
	// Locked rows cannot vanish; in a dry run (no locks) one may have been deleted since.
	if len(unknown) > 0 && !g.w.opts.DryRun {
		return fmt.Errorf("hash current rows: %d locked rows not found", len(unknown))
	}
	for ord := range unknown {
		g.present[ord] = false
		if err := g.resolve(ord, rowHash{}, nil); err != nil {
			return err
		}
	}
	return nil
}

// sameTexts reports whether a row read as texts holds exactly vals (same text for every column:
// the same value). It only spares hashing: texts that differ may still be equal values.
func (w *nodeWork) sameTexts(texts [][]byte, vals []*string) bool {
	for i := range w.st.cols {
		if !sameText(texts[i], at(vals, i)) {
			return false
		}
	}
	return true
}

func sameText(t []byte, v *string) bool {
	if t == nil || v == nil {
		return t == nil && v == nil
	}
	return string(t) == *v
}

// decide is the stale guard of one change, from the hashes of the row the node holds now (cur),
// the one the diff saw (exp) and the one to write (nw); an unknown hash is an absent row. A row
// that already holds the new version is in sync; with the guard on, a row that holds anything
// but the expected version is stale; without it, a row that appeared (insert) or vanished
// (update, delete) since the diff still is.
func (w *nodeWork) decide(ord int64, cur, exp, nw rowHash) action {
	c := &w.changes[ord]
	switch {
	case cur.same(nw):
		return actInSync
	case !w.opts.NoStaleGuard && !cur.same(exp):
		return actStale
	case c.Kind == Insert && cur.known, c.Kind != Insert && !cur.known:
		return actStale
	case c.Kind == Insert:
		return actInsert
	case c.Kind == Update:
		return actUpdate
	default:
		return actDelete
	}
}

// undoLine streams the undo entry of a change to make: the row before (appended by before, nil
// for an insert) and after (the change's new row, none for a delete).
func (w *nodeWork) undoLine(c *Change, a action, before func([]byte) []byte) {
	if w.us == nil {
		return
	}
	b := appendUndoOp(w.us.buf, w.node, actionKind[a])
	b = w.keyRow.appendKey(b, c.Key)
	if before != nil {
		b = append(b, `,"before":`...)
		b = before(b)
	}
	if a != actDelete && c.New != nil {
		b = append(b, `,"after":`...)
		b = w.row.appendStrs(b, c.New)
	}
	w.us.buf = append(b, '}')
	w.us.endLine()
}

// moves turns the updates that set a GENERATED ALWAYS identity column into moves (delete and
// insert with OVERRIDING SYSTEM VALUE, see statements.move): no UPDATE may assign such a column.
// A move fires delete and insert triggers, and foreign-key actions such as ON DELETE CASCADE,
// when triggers are on: with --fire-triggers the node fails instead, before it writes.
func (w *nodeWork) moves(actions []action) error {
	n := len(w.st.cols)
	for i, a := range actions {
		if a != actUpdate {
			continue
		}
		for j, m := range w.masks[i*n:][:n] {
			if m != '1' || !w.st.always[j] {
				continue
			}
			if w.opts.FireTriggers {
				return fmt.Errorf("column %s is GENERATED ALWAYS AS IDENTITY and its value differs (key %s): "+
					"the repair rewrites such a row as a delete and an insert (OVERRIDING SYSTEM VALUE), which with --fire-triggers "+
					"would fire delete triggers and foreign-key actions; repair it without --fire-triggers",
					ident(w.st.cols[j].Name), describe(w.plan.keyRecord(w.changes[i].Key)))
			}
			actions[i] = actMove
			break
		}
	}
	return nil
}

// columnsSet returns, per written column, whether some update of the batch sets it.
func (w *nodeWork) columnsSet(actions []action) []bool {
	n := len(w.st.cols)
	used := make([]bool, n)
	for i, a := range actions {
		if a != actUpdate {
			continue
		}
		for j, m := range w.masks[i*n:][:n] {
			used[j] = used[j] || m == '1'
		}
	}
	return used
}

// loadWrites copies the updates and deletes that passed the guard into tempNew: the key and the
// columns set of an update, only the key of a delete.
func (w *nodeWork) loadWrites(ctx context.Context, actions []action, n int64) error {
	idx := make([]int, 0, n)
	for i, a := range actions {
		if a == actUpdate || a == actDelete || a == actMove {
			idx = append(idx, i)
		}
	}
	st := w.st
	_, err := copyIn(ctx, w.tx, st.copyRows(tempNew), len(idx), func(j int, l *line) error {
		ord := idx[j]
		c := &w.changes[ord]
		a := actions[ord]
		l.int(int64(ord))
		if a == actMove {
			l.text("move")
		} else {
			l.text(string(actionKind[a]))
		}
		if a == actUpdate || a == actMove {
			// The key, and the columns the update sets; the others travel as NULL.
			mask := w.masks[ord*len(st.cols):][:len(st.cols)]
			l.bytes(mask)
			w.track(c.New, mask)
			if len(c.New) < len(st.cols) {
				return fault.Input("diff entry %d: %d values, the diff has %d columns", c.Row+1, len(c.New), len(st.cols))
			}
			for i := range st.cols {
				if mask[i] == '1' || st.keyPos[i] >= 0 {
					l.textPtr(c.New[i])
				} else {
					l.null()
				}
			}
			return nil
		}
		l.null()
		for i := range st.cols {
			if k := st.keyPos[i]; k >= 0 {
				l.text(c.Key[k])
			} else {
				l.null()
			}
		}
		return nil
	})
	return err
}

func staleReason(absent, expectedAbsent bool) string {
	switch {
	case absent && !expectedAbsent:
		return "the row was deleted since the diff"
	case !absent && expectedAbsent:
		return "the row was inserted since the diff"
	default:
		return "the row changed since the diff"
	}
}
