package repair

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgparity/pgparity/internal/encode"
)

// Whole-row mode counts copies per row hash, which takes a scan of the whole table. So that a
// repair of many batches scans it once, not once per batch, each batch's changes are only loaded
// into the node's temporary tables (PostgreSQL holds them, not Go), and applyWhole decides and
// writes every change after the last batch, in the same transaction.

// loadWhole appends one batch's whole-row changes to the change list (row hash, copies, expected
// count) and their rows (the row to insert, or to delete: the undo file records it).
func (w *nodeWork) loadWhole(ctx context.Context) error {
	st := w.st
	base := w.loaded
	_, err := copyIn(ctx, w.tx, st.copyWholeOps(), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		if len(c.Key) != 1 {
			return fmt.Errorf("diff entry %d: a whole-row change without its row hash", c.Row+1)
		}
		l.int(base + int64(i))
		l.text(string(c.Kind))
		l.text(c.Key[0])
		l.int(c.Copies)
		l.int(c.ExpectCount)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load change list: %w", err)
	}
	_, err = copyIn(ctx, w.tx, st.copyRows(tempNew), len(w.changes), func(i int, l *line) error {
		c := &w.changes[i]
		l.int(base + int64(i))
		l.text(string(c.Kind))
		l.null()
		vals := c.New
		if c.Kind == Delete {
			vals = c.Expected
		} else {
			w.track(vals, nil) // planned copies: a sequence may move further than needed, never back
		}
		return w.rowValues(l, c, vals)
	})
	if err != nil {
		return fmt.Errorf("load rows: %w", err)
	}
	w.loaded += int64(len(w.changes))
	w.step("copy change list and rows")
	return nil
}

// applyWhole repairs a whole-row diff once every batch is loaded: the table is locked against
// writes, copies are counted per row hash, and copies are inserted or deleted until the count is
// the source's. The decisions stream back from the node one change at a time.
func (w *nodeWork) applyWhole(ctx context.Context) error {
	if w.loaded == 0 {
		return nil
	}
	st := w.st
	if _, err := w.tx.Exec(ctx, st.lockTable()); err != nil {
		return fmt.Errorf("lock table: %w", err)
	}
	if _, err := w.tx.Exec(ctx, st.wholeState(!w.opts.NoStaleGuard)); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	w.step("count copies")
	rows, err := w.tx.Query(ctx, st.wholeStates())
	if err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	defer rows.Close()
	want := map[string]int64{}
	for rows.Next() {
		raw := rows.RawValues()
		fds := rows.FieldDescriptions()
		var nums [5]int64 // ord, cur, n, hash, expect
		for i, j := range []int{0, 2, 3, 4, 5} {
			if nums[i], err = rawInt8(raw[j], fds[j].Format); err != nil {
				return fmt.Errorf("count copies: %w", err)
			}
		}
		cur, n, hash, expect := nums[1], nums[2], nums[3], nums[4]
		act, kind := string(raw[1]), Kind(raw[6])
		key := w.plan.keyRecord([]string{strconv.FormatInt(hash, 10)})
		switch act {
		case "in_sync":
			w.res.InSync++
			continue
		case "stale":
			w.res.stale(StaleRow{Key: key, Kind: kind,
				Reason: fmt.Sprintf("the node holds %d copies of the row, the diff saw %d", cur, expect)})
			continue
		}
		want[act] += n
		after := cur + n
		if act == "delete" {
			after = cur - n
		}
		texts := raw[7:]
		entry := func() undoEntry {
			strs := make([]*string, len(texts))
			for i, t := range texts {
				if t != nil {
					s := string(t)
					strs[i] = &s
				}
			}
			rec := recordOf(st.cols, strs)
			return undoEntry{Node: w.node, Op: Kind(act), Key: key, Row: &rec, Copies: n, CountBefore: cur, CountAfter: after}
		}
		if w.opts.DryRun {
			w.res.change(entry)
			continue
		}
		if w.us != nil {
			e := entry()
			if err := w.us.entry(&e); err != nil {
				return fmt.Errorf("undo entry: %w", err)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count copies: %w", err)
	}
	w.step("decide and write undo entries")
	if w.opts.DryRun {
		w.res.Inserted, w.res.Deleted = want["insert"], want["delete"]
		return nil
	}
	for _, s := range []struct {
		kind string
		sql  string
		n    *int64
	}{
		{"delete", st.wholeDelete(), &w.res.Deleted},
		{"insert", st.wholeInsert(), &w.res.Inserted},
	} {
		if want[s.kind] == 0 {
			continue
		}
		tag, err := w.tx.Exec(ctx, s.sql)
		if err != nil {
			return fmt.Errorf("%s rows: %w", s.kind, err)
		}
		if tag.RowsAffected() != want[s.kind] {
			return fmt.Errorf("%s rows: %d changed, %d expected", s.kind, tag.RowsAffected(), want[s.kind])
		}
		*s.n = tag.RowsAffected()
		w.step(s.kind + " rows")
	}
	return nil
}

// wholeStates reads the decision of every whole-row change with what the undo file and the
// report need: change number, action, current copies, copies to write, row hash, expected copies,
// kind, and the row's columns as text.
func (s *statements) wholeStates() string {
	texts := make([]string, len(s.cols))
	for i, c := range s.cols {
		texts[i] = encode.TextExpr(aliasN, c)
	}
	return "SELECT " + aliasS + ".ord, " + aliasS + ".action, " + aliasS + ".cur, " + aliasS + ".n, " + aliasS + ".hash, " +
		aliasO + ".pgparity_expect, " + aliasO + "." + s.kind + ", " + strings.Join(texts, ", ") +
		" FROM " + tempState + " AS " + aliasS + " JOIN " + tempOps + " AS " + aliasO + " ON " + aliasO + "." + s.ord + " = " + aliasS + ".ord" +
		" JOIN " + tempNew + " AS " + aliasN + " ON " + aliasN + "." + s.ord + " = " + aliasS + ".ord ORDER BY " + aliasS + ".ord"
}
