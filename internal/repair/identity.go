package repair

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
)

//go:embed identity.sql
var identitySQL string

// sequenced is a written column fed by a sequence (serial or identity): the repair advances the
// sequence past the values it writes into the column, so that the node's later inserts do not
// collide with them.
type sequenced struct {
	col   int    // position in statements.cols
	oid   uint32 // the sequence
	ident string // its quoted, schema-qualified name
	inc   int64  // its increment: past means above for > 0, below for < 0
	seen  bool   // a value was written
	ext   int64  // the largest (inc > 0) or smallest (inc < 0) value written
}

// loadIdentity reads which written columns are GENERATED ALWAYS AS IDENTITY (an UPDATE may not
// assign them: such updates are rewritten, see statements.move) and which are fed by a sequence.
func (w *nodeWork) loadIdentity(ctx context.Context) error {
	st := w.st
	rows, err := w.pool.Query(ctx, identitySQL, st.table.OID)
	if err != nil {
		return err
	}
	defer rows.Close()
	st.always = make([]bool, len(st.cols))
	w.seqs = nil
	for rows.Next() {
		var name, schema, seq string
		var always bool
		var oid *int64
		var inc int64
		if err := rows.Scan(&name, &always, &oid, &schema, &seq, &inc); err != nil {
			return err
		}
		for i, c := range st.cols {
			if c.Name != name {
				continue
			}
			st.always[i] = always
			if oid != nil && inc != 0 && intType(c) {
				w.seqs = append(w.seqs, &sequenced{col: i, oid: uint32(*oid), ident: pgx.Identifier{schema, seq}.Sanitize(), inc: inc})
			}
		}
	}
	return rows.Err()
}

// intType reports whether a column holds integers a sequence could have produced.
func intType(c catalog.Column) bool {
	switch c.BaseType {
	case "smallint", "integer", "bigint":
		return true
	}
	return false
}

// track notes the values of a row written to the node (vals by position in statements.cols;
// set, when not nil, says which columns an update writes).
func (w *nodeWork) track(vals []*string, set []byte) {
	for _, s := range w.seqs {
		if set != nil && set[s.col] != '1' {
			continue
		}
		v := at(vals, s.col)
		if v == nil {
			continue
		}
		n, err := strconv.ParseInt(*v, 10, 64)
		if err != nil {
			continue
		}
		if !s.seen || (s.inc > 0 && n > s.ext) || (s.inc < 0 && n < s.ext) {
			s.seen, s.ext = true, n
		}
	}
}

// advanceSequences moves, inside the node's transaction, each written column's sequence past the
// largest value the repair wrote into the column (the smallest for a descending sequence), and
// never back: setval(seq, greatest(written, last_value), true) only when last_value has not
// passed it already, and only when the value is within the sequence's bounds. setval is not
// rolled back with the transaction: a repair that rolls back may leave a sequence advanced, never
// behind. A concurrent nextval between the read of last_value and the setval, in the same
// statement, is the one way left to move it back, by the values handed out in that instant.
func (w *nodeWork) advanceSequences(ctx context.Context) error {
	for _, s := range w.seqs {
		if !s.seen {
			continue
		}
		cmp := "<="
		if s.inc < 0 {
			cmp = ">="
		}
		sql := "SELECT pg_catalog.setval(p.seqrelid, $2, true) FROM pg_catalog.pg_sequence AS p, " + s.ident + " AS s" +
			" WHERE p.seqrelid = $1::pg_catalog.oid AND s.last_value " + cmp + " $2 AND $2 BETWEEN p.seqmin AND p.seqmax"
		if _, err := w.tx.Exec(ctx, sql, s.oid, s.ext); err != nil {
			return fmt.Errorf("advance sequence %s of column %s: %w", s.ident, ident(w.st.cols[s.col].Name), err)
		}
	}
	return nil
}

// move rewrites the updates that change a GENERATED ALWAYS identity column (kind 'move' in
// tempNew), which no UPDATE may assign, as a delete of the row and an insert with OVERRIDING
// SYSTEM VALUE in one statement: the columns the update sets come from tempNew, every other
// column (also those the diff left out) from the deleted row.
func (s *statements) move(insertable []catalog.Column) string {
	ret := make([]string, len(insertable))
	for i, c := range insertable {
		expr := encode.ColumnRef(aliasT, c.Name)
		for j, wc := range s.cols {
			if wc.Name == c.Name {
				expr = fmt.Sprintf("CASE WHEN pg_catalog.get_bit(%s.%s, %d) = 1 THEN %s ELSE %s END",
					aliasN, s.mask, j, encode.ColumnRef(aliasN, c.Name), expr)
			}
		}
		ret[i] = expr + " AS " + ident(c.Name)
	}
	list := colList(insertable)
	return "WITH pgparity_d AS (DELETE FROM " + s.table.From() + " AS " + aliasT + " USING " + tempNew + " AS " + aliasN +
		" WHERE " + aliasN + "." + s.kind + " = 'move' AND " + s.keyMatch(aliasT, aliasN) + " RETURNING " + strings.Join(ret, ", ") +
		") INSERT INTO " + s.table.Ident() + " (" + list + ") OVERRIDING SYSTEM VALUE SELECT " + list + " FROM pgparity_d"
}

// insertable returns the table's columns an INSERT may write (not generated).
func insertable(t *catalog.Table) []catalog.Column {
	var out []catalog.Column
	for _, c := range t.Columns {
		if !c.Generated {
			out = append(out, c)
		}
	}
	return out
}
