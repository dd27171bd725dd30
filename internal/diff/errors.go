package diff

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// isServerError reports whether the server raised err for the statement (as opposed to a
// connection failure).
func isServerError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// pgMessage returns the server's message (and position hint) of err, or err's text.
func pgMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	return err.Error()
}
