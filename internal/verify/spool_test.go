package verify

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/pgparity/pgparity/internal/report"
	"github.com/pgparity/pgparity/internal/sandbox"
)

// fileOutput is an Output writing a diff file.
type fileOutput struct{ *report.FileSink }

func (f fileOutput) File() string { return f.Path() }

// A subscriber that lost 30,000 rows: with batches of 7,000 keys (five batches, each settled at
// its own fences) exactly those 30,000 keys are confirmed, each handed once to Options.Confirmed
// and written once to the diff file; ConfirmedKeys keeps only the first 1,000.
func TestManyMissingRowsInBatches(t *testing.T) {
	defer func(n int) { batchSize = n }(batchSize)
	batchSize = 7000
	db := sandbox.NewDB(t)
	accounts(t, db, "big", 40000, "n1")
	db.Exec(t, "CREATE PUBLICATION p FOR TABLE public.big", "n1")
	subscribe(t, db, "n1", "n2", "p", "")
	db.Exec(t, "SET session_replication_role = replica; DELETE FROM public.big WHERE id BETWEEN 5001 AND 35000", "n2")
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "big.json")
	o := options()
	o.Output = func(*PairResult, report.TableRef) (Output, error) {
		f, err := report.CreateFile(path)
		return fileOutput{f}, err
	}
	var mu sync.Mutex
	seen := map[string]int{}
	calls := 0
	o.Confirmed = func(pr *PairResult, table string, keys [][]string) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if pr.Publisher != "n1" || pr.Subscriber != "n2" || table != "public.big" {
			t.Errorf("confirmed for %s->%s %s", pr.Publisher, pr.Subscriber, table)
		}
		for _, k := range keys {
			seen[fmt.Sprint(k)]++
		}
	}
	res, err := Run(ctx, pools(t, db), o)
	if err != nil {
		t.Fatal(err)
	}
	tr := table(t, res, "public.big")
	if res.Status != StatusDiffer || tr.Confirmed != 30000 || tr.Transient != 0 || tr.Unsettled != 0 || tr.CoveragePct != 100 ||
		tr.DiffFile == nil || *tr.DiffFile != path || len(tr.ConfirmedKeys) != 1000 || tr.ConfirmedKeysOmitted != 29000 ||
		tr.RowsCompared["n1"] != 40000 || tr.RowsCompared["n2"] != 10000 {
		t.Fatalf("%+v", tr)
	}
	if len(seen) != 30000 || calls < 5 {
		t.Fatalf("Confirmed got %d distinct keys in %d calls", len(seen), calls)
	}
	for id := 5001; id <= 35000; id++ {
		if n := seen[fmt.Sprint([]string{strconv.Itoa(id)})]; n != 1 {
			t.Fatalf("key %d handed %d times", id, n)
		}
	}
	r, err := report.OpenDiff(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	inFile := map[string]bool{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id, _ := strconv.Atoi(e.Key[0])
		if id < 5001 || id > 35000 || inFile[e.Key[0]] || e.VersionOf(1) >= 0 || e.VersionOf(0) < 0 {
			t.Fatalf("entry %+v", e)
		}
		inFile[e.Key[0]] = true
	}
	s := r.Header().Summary
	if len(inFile) != 30000 || s.DifferingKeys != 30000 || s.MissingOn["n2"] != 30000 || s.Status != report.StatusDiffer {
		t.Fatalf("file: %d keys, summary %+v", len(inFile), s)
	}
}
