package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// verifyJSON is the part of verify --json a script reads.
type verifyJSON struct {
	Status string `json:"status"`
	Pairs  []struct {
		Publisher    string `json:"publisher"`
		Subscriber   string `json:"subscriber"`
		Subscription string `json:"subscription"`
		FenceLSN     string `json:"fence_lsn"`
		LagBytes     int64  `json:"lag_bytes"`
		Message      string `json:"message"`
		Tables       []struct {
			Table     string  `json:"table"`
			Status    string  `json:"status"`
			Confirmed int     `json:"confirmed"`
			Transient int     `json:"transient"`
			Unsettled int     `json:"unsettled"`
			Coverage  float64 `json:"coverage_pct"`
			DiffFile  *string `json:"diff_file"`
		} `json:"tables"`
	} `json:"pairs"`
}

// TestVerifyExitCodes drives verify as main does: 0 on a healthy pair, 1 with a diff file that
// table-repair applies (after which verify exits 0), 4 with the subscription disabled, 2 for
// bad input.
// replicated creates public.acc (300 rows) on n1, publishes it and subscribes n2 to it, waits
// for the initial copy, and returns the database, a service file of cluster c and the
// subscription's name.
func replicated(t *testing.T) (*sandbox.DB, string, string) {
	t.Helper()
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.acc (id int PRIMARY KEY, note text)`)
	db.Exec(t, `INSERT INTO public.acc SELECT g, 'row ' || g FROM generate_series(1, 300) g; CREATE PUBLICATION p FOR TABLE public.acc`, "n1")
	sub := db.Subscribe(t, "n1", "n2", "p", "")
	return db, db.ServiceFile(t, "c"), sub
}

func TestVerifyExitCodes(t *testing.T) {
	isolate(t)
	db, svc, sub := replicated(t)
	verifyRun := func(wantCode int, args ...string) verifyJSON {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"--service-file", svc, "verify", "c", "--json", "--max-wait", "10s"}, args...)...)
		var out verifyJSON
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != wantCode || stderr != "" {
			t.Fatalf("verify %v: exit %d (want %d), stderr %q, stdout %s (%v)", args, code, wantCode, stderr, stdout, err)
		}
		return out
	}

	out := verifyRun(ExitOK)
	if len(out.Pairs) != 1 || out.Pairs[0].Publisher != "n1" || out.Pairs[0].Subscriber != "n2" || out.Pairs[0].Subscription != sub ||
		out.Pairs[0].FenceLSN == "" || len(out.Pairs[0].Tables) != 1 || out.Pairs[0].Tables[0].Table != "public.acc" ||
		out.Pairs[0].Tables[0].Coverage != 100 || out.Pairs[0].Tables[0].DiffFile != nil || out.Status != "match" {
		t.Fatalf("healthy: %+v", out)
	}

	db.Exec(t, `SET session_replication_role = replica; UPDATE public.acc SET note = 'drift' WHERE id = 42`, "n2")
	out = verifyRun(ExitDiffer, "public.acc")
	tb := out.Pairs[0].Tables[0]
	if out.Status != "differ" || tb.Status != "differ" || tb.Confirmed != 1 || tb.DiffFile == nil {
		t.Fatalf("drift: %+v", out)
	}
	code, stdout, stderr := run(t, "--service-file", svc, "table-repair", "c", "--diff-file", *tb.DiffFile, "--source-of-truth", "n1", "--quiet")
	if code != ExitOK {
		t.Fatalf("table-repair of the verify diff file: exit %d, %s %s", code, stdout, stderr)
	}
	verifyRun(ExitOK, "--publication", "p")

	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" DISABLE", "n2")
	db.Exec(t, `INSERT INTO public.acc VALUES (1000, 'after the disable')`, "n1")
	out = verifyRun(ExitInconclusive)
	if out.Status != "inconclusive" || out.Pairs[0].Tables[0].Confirmed != 0 || !strings.Contains(out.Pairs[0].Message, "n1 -> n2 (subscription "+sub+")") ||
		!strings.Contains(out.Pairs[0].Message, "the subscription is disabled") {
		t.Fatalf("disabled: %+v", out)
	}
	code, stdout, _ = run(t, "--service-file", svc, "verify", "c")
	if code != ExitInconclusive || !strings.Contains(stdout, "n1 -> n2 (subscription "+sub+"): inconclusive") || !strings.HasSuffix(stdout, "verify: inconclusive\n") {
		t.Fatalf("disabled, text: exit %d\n%s", code, stdout)
	}
	db.Exec(t, "ALTER SUBSCRIPTION "+sub+" ENABLE", "n2")
	verifyRun(ExitOK)

	for _, args := range [][]string{{"public.nope"}, {"--min-coverage", "150"}, {"--max-wait", "0s"}} {
		code, _, stderr := run(t, append([]string{"--service-file", svc, "verify", "c"}, args...)...)
		if code != ExitInput || !strings.HasPrefix(stderr, "pgparity: ") {
			t.Errorf("verify %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// --watch prints one line per cycle until interrupted.
func TestVerifyWatch(t *testing.T) {
	isolate(t)
	_, svc, _ := replicated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, "test", []string{"--service-file", svc, "verify", "c", "--watch", "300ms"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if code != ExitCancelled || len(lines) < 2 {
		t.Fatalf("exit %d, %d lines:\n%s\n%s", code, len(lines), stdout.String(), stderr.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, " match: 1 pair(s), 1 table(s), 0 confirmed, ") {
			t.Errorf("line %q", l)
		}
	}
}
