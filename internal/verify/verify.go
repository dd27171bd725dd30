// Package verify checks that logical-replication subscribers hold what their publishers hold
// while writes continue, with verdicts that hold at a stated WAL position: every comparison
// reads the subscriber only after it has applied a fence taken right after the publisher's
// snapshot, and a difference is confirmed only when the publisher row did not change across
// re-reads at fresh fences (DESIGN.md rule 12). A subscriber too far behind, a broken
// subscription or too little coverage is "inconclusive", never "match".
package verify

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparity/pgparity/internal/report"
)

// Statuses of a run, a pair and a table.
const (
	StatusMatch        = "match"
	StatusDiffer       = "differ"
	StatusInconclusive = "inconclusive"
)

// Options say what to verify and how.
type Options struct {
	Cluster string
	// Tables restricts verification to these tables (all replicated tables when empty). Each
	// must be replicated by some pair, or Run fails with an input error.
	Tables []report.TableRef
	// Publication restricts verification to subscriptions of this publication and its tables.
	Publication string
	// MaxWait bounds each wait for a subscriber to apply a fence.
	MaxWait time.Duration
	// MinCoverage is the percentage of a table's rows that must be verified (not left
	// unsettled) for a verdict; below it the table is inconclusive.
	MinCoverage float64
	// Rounds is how many times keys that differ are re-checked at fresh fences (default 5).
	Rounds      int
	BlockSize   int
	Concurrency int
	Tool        string
	// Output opens where a table's confirmed differences go (a diff file usable by
	// table-repair); it is called only for tables with confirmed keys.
	Output func(pair *PairResult, table report.TableRef) (Output, error)
	// Confirmed, when set, receives a table's confirmed keys (key column order; for a table
	// without a key, the row hash) as they are confirmed, in batches: every confirmed key once.
	Confirmed func(pair *PairResult, table string, keys [][]string)
}

// Output receives one table's confirmed differences as a diff (nodes: publisher, subscriber).
type Output interface {
	report.Sink
	// Abort discards an output whose End was not reached.
	Abort()
	// File returns the file written ("" when none).
	File() string
}

// Result is the outcome of a verification.
type Result struct {
	Status     string       `json:"status"`
	Cluster    string       `json:"cluster"`
	Pairs      []PairResult `json:"pairs"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at"`
}

// PairResult is the outcome for one publisher -> subscriber pair.
type PairResult struct {
	Publisher    string `json:"publisher"`
	Subscriber   string `json:"subscriber"`
	Subscription string `json:"subscription"`
	Status       string `json:"status"`
	// FenceLSN is the publisher position the pair's verdicts hold at: the latest fence every
	// table was compared at ("" when none was applied).
	FenceLSN string `json:"fence_lsn"`
	// LagBytes is how far the subscriber was behind the fence when the wait for it began (or,
	// when it never got there, when the wait was given up).
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is, when the subscriber did not apply a fence in time, how long it was waited
	// for: a lower bound of how far behind it is. 0 otherwise.
	LagSeconds float64       `json:"lag_seconds"`
	Message    string        `json:"message,omitempty"`
	Tables     []TableResult `json:"tables"`
}

// TableResult is the outcome for one table of a pair.
type TableResult struct {
	Table     string `json:"table"`
	Status    string `json:"status"`
	Confirmed int    `json:"confirmed"`
	Transient int    `json:"transient"`
	Unsettled int    `json:"unsettled"`
	// CoveragePct is the share of the publisher's rows verified (compared, and not left
	// unsettled): 0 when the table could not be compared.
	CoveragePct float64 `json:"coverage_pct"`
	// RowsCompared counts the rows read per node by the range pass.
	RowsCompared map[string]int64 `json:"rows_compared"`
	// DiffFile holds the confirmed keys with their current rows (nil when none).
	DiffFile *string `json:"diff_file"`
	// FenceLSN is the fence of the range pass: a match holds at that publisher position.
	FenceLSN string `json:"fence_lsn,omitempty"`
	Rounds   int    `json:"rounds"`
	// Restricted: the publication publishes part of the table (a row filter or a column list),
	// and only that part was compared.
	Restricted bool   `json:"restricted,omitempty"`
	Message    string `json:"message,omitempty"`
	// ConfirmedKeys are the first (at most 1,000) confirmed keys' texts (key column order);
	// Options.Confirmed receives them all.
	ConfirmedKeys [][]string `json:"-"`
	// ConfirmedKeysOmitted counts the confirmed keys left out of ConfirmedKeys.
	ConfirmedKeysOmitted int `json:"-"`
}

// Coverage returns the share (0 to 1) of the rows of every pair's tables that were verified,
// weighted by rows compared on the publisher; ok is false when no table was compared.
func (r *Result) Coverage() (share float64, ok bool) {
	var rows, covered float64
	for _, p := range r.Pairs {
		for _, t := range p.Tables {
			n := float64(t.RowsCompared[p.Publisher])
			rows += n
			covered += n * t.CoveragePct / 100
		}
	}
	if rows == 0 {
		return 0, false
	}
	return covered / rows, true
}

// Counts sums the tables' confirmed, transient and unsettled keys.
func (r *Result) Counts() (confirmed, transient, unsettled int) {
	for _, p := range r.Pairs {
		for _, t := range p.Tables {
			confirmed, transient, unsettled = confirmed+t.Confirmed, transient+t.Transient, unsettled+t.Unsettled
		}
	}
	return
}

// settle derives the pair's and the run's status from the tables': differ when any confirmed
// difference, else inconclusive when anything is, else match.
func (r *Result) settle() {
	r.Status = StatusMatch
	for i := range r.Pairs {
		p := &r.Pairs[i]
		if p.Status == "" {
			p.Status = StatusMatch
			for _, t := range p.Tables {
				p.Status = worse(p.Status, t.Status)
			}
		}
		r.Status = worse(r.Status, p.Status)
	}
}

// worse returns the status that wins when combining a and b.
func worse(a, b string) string {
	rank := map[string]int{StatusMatch: 0, StatusInconclusive: 1, StatusDiffer: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// denied reports whether err is PostgreSQL's insufficient_privilege.
func denied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}
