package repair

import (
	"context"
	"fmt"
)

// loadWhole creates and fills the whole-row change list (row hash, copies, expected count) and
// the rows to insert.
func (w *nodeWork) loadWhole(ctx context.Context) error {
	st := w.st
	for _, sql := range []string{st.wholeOps(), st.rowsTable(tempNew)} {
		if _, err := w.tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("create temporary tables: %w", err)
		}
	}
	err := copyIn(ctx, w.tx, st.copyWholeOps(), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		h, _ := c.Key.Get("row_hash")
		l.int(int64(i))
		l.text(string(c.Kind))
		l.value(h)
		l.int(c.Copies)
		l.int(c.ExpectCount)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load change list: %w", err)
	}
	var idx []int
	for i := range w.changes {
		if w.changes[i].New != nil {
			idx = append(idx, i)
		}
	}
	err = copyIn(ctx, w.tx, st.copyRows(tempNew), len(idx), func(j int, l *line) error {
		c := &w.changes[idx[j]]
		l.int(int64(idx[j]))
		l.text(string(c.Kind))
		l.null()
		return w.rowValues(l, c, *c.New)
	})
	if err != nil {
		return fmt.Errorf("load rows to insert: %w", err)
	}
	return nil
}

// applyWhole repairs a whole-row diff: the table is locked against writes, copies are counted
// per row hash, and copies are inserted or deleted until the count is the source's.
func (w *nodeWork) applyWhole(ctx context.Context) error {
	if err := w.loadWhole(ctx); err != nil {
		return err
	}
	if _, err := w.tx.Exec(ctx, w.st.lockTable()); err != nil {
		return fmt.Errorf("lock table: %w", err)
	}
	if _, err := w.tx.Exec(ctx, w.st.wholeState(!w.opts.NoStaleGuard)); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	rows, err := w.tx.Query(ctx, wholeStates)
	if err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	var entries []undoEntry
	want := map[string]int64{}
	for rows.Next() {
		var ord, cur, n int64
		var action string
		if err := rows.Scan(&ord, &action, &cur, &n); err != nil {
			rows.Close()
			return err
		}
		c := &w.changes[ord]
		switch action {
		case "in_sync":
			w.res.InSync++
			continue
		case "stale":
			w.res.Stale = append(w.res.Stale, StaleRow{Key: c.Key, Kind: c.Kind,
				Reason: fmt.Sprintf("the node holds %d copies of the row, the diff saw %d", cur, c.ExpectCount)})
			continue
		}
		want[action] += n
		rec := c.New
		if rec == nil {
			rec = c.Expected
		}
		after := cur + n
		if action == "delete" {
			after = cur - n
		}
		entries = append(entries, undoEntry{Node: w.node, Op: Kind(action), Key: c.Key, Row: rec,
			Copies: n, CountBefore: cur, CountAfter: after})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	if w.opts.DryRun {
		w.res.Inserted, w.res.Deleted = want["insert"], want["delete"]
		w.res.Changes = entries
		return nil
	}
	if w.undo != nil {
		w.us = w.undo.stream()
		for i := range entries {
			if err := w.us.entry(&entries[i]); err != nil {
				return fmt.Errorf("undo entry: %w", err)
			}
		}
	}
	for _, step := range []struct {
		kind string
		sql  string
		n    *int64
	}{
		{"delete", w.st.wholeDelete(), &w.res.Deleted},
		{"insert", w.st.wholeInsert(), &w.res.Inserted},
	} {
		if want[step.kind] == 0 {
			continue
		}
		tag, err := w.tx.Exec(ctx, step.sql)
		if err != nil {
			return fmt.Errorf("%s rows: %w", step.kind, err)
		}
		if tag.RowsAffected() != want[step.kind] {
			return fmt.Errorf("%s rows: %d changed, %d expected", step.kind, tag.RowsAffected(), want[step.kind])
		}
		*step.n = tag.RowsAffected()
	}
	return nil
}
