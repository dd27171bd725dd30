// Package fault classifies errors by who must act on them, so that main can map any error to the
// exit codes of DESIGN.md without knowing which capability produced it.
package fault

import (
	"errors"
	"fmt"
)

// InputError is a problem with what the user asked for (flags, configuration, a table that does not
// exist, a diff file that cannot be read). It maps to exit code 2 and is reported before anything
// is changed.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *InputError) Unwrap() error { return e.Err }

// Input returns an InputError with a formatted message; %w verbs wrap as in fmt.Errorf.
func Input(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// AsInput marks an existing error as an input error. A nil error stays nil.
func AsInput(err error) error {
	if err == nil {
		return nil
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	return &InputError{Err: err}
}

// IsInput reports whether err (or anything it wraps) is an InputError.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// ErrDiffer is returned by comparison commands that completed and found differences (exit 1).
var ErrDiffer = errors.New("differences found")

// ErrInconclusive is returned by verify when it could not reach a verdict (a subscriber too far
// behind, a broken subscription, coverage below the minimum): exit 4. It claims neither a match
// nor a difference.
var ErrInconclusive = errors.New("inconclusive")
