package repair

import (
	"context"
	"io"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/encode"
	"github.com/pgparity/pgparity/internal/report"
)

// line builds one line of COPY's text format. Values are the diff file's PostgreSQL text, read
// back by each column's input function under the same pinned session settings: lossless.
type line struct {
	b     []byte
	first bool
}

func (l *line) sep() {
	if !l.first {
		l.b = append(l.b, '\t')
	}
	l.first = false
}

func (l *line) int(v int64) {
	l.sep()
	l.b = strconv.AppendInt(l.b, v, 10)
}

func (l *line) null() {
	l.sep()
	l.b = append(l.b, '\\', 'N')
}

// text appends s escaped for COPY: backslash, tab, newline and carriage return. Runs without
// them are appended whole.
func (l *line) text(s string) {
	l.sep()
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		l.b = append(l.b, s[start:i]...)
		l.b = append(l.b, '\\', esc)
		start = i + 1
	}
	l.b = append(l.b, s[start:]...)
}

// textPtr appends a text, nil as NULL.
func (l *line) textPtr(s *string) {
	if s == nil {
		l.null()
		return
	}
	l.text(*s)
}

// bytes appends b, which needs no escaping.
func (l *line) bytes(b []byte) {
	l.sep()
	l.b = append(l.b, b...)
}

// copyIn streams n lines, built by fill, into a COPY ... FROM STDIN statement and returns the
// number of rows copied. fill runs on another goroutine, which has ended when copyIn returns.
func copyIn(ctx context.Context, tx pgx.Tx, sql string, n int, fill func(i int, l *line) error) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l := &line{b: make([]byte, 0, 1<<16)}
		for i := 0; i < n; i++ {
			l.first = true
			if err := fill(i, l); err != nil {
				pw.CloseWithError(err)
				return
			}
			l.b = append(l.b, '\n')
			if len(l.b) >= 1<<16 || i == n-1 {
				if _, err := pw.Write(l.b); err != nil {
					return
				}
				l.b = l.b[:0]
			}
		}
		pw.Close()
	}()
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, pr, sql)
	pr.Close() // unblocks the writer when COPY failed early
	<-done
	return tag.RowsAffected(), err
}

// recordOf turns column texts into a diff file record.
func recordOf(cols []catalog.Column, texts []*string) report.Record {
	rec := make(report.Record, len(cols))
	for i, c := range cols {
		rec[i] = report.Field{Name: c.Name, Value: encode.JSONValue(c, texts[i])}
	}
	return rec
}
