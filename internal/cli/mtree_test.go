package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestMtreeDiffFileRepairsAndBadInput runs the mtree commands as a user would, with the trigger
// tracker: the diff file of `mtree table-diff` is accepted by table-repair, after which the trees
// match; bad input is exit 2 with a clear message.
func TestMtreeDiffFileRepairsAndBadInput(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 500) i;
		CREATE TABLE keyless (v text); CREATE TABLE gone (id int PRIMARY KEY)`)
	svc := db.ServiceFile(t, "c")
	mt := func(args ...string) (int, string, string) {
		return run(t, append([]string{"--service-file", svc, "mtree"}, args...)...)
	}
	if code, _, stderr := mt("table-diff", "c", "public.t"); code != ExitInput || !strings.Contains(stderr, "no pgparity schema: run `pgparity mtree init`") {
		t.Fatalf("table-diff before init: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := mt("init", "c", "--tracker", "trigger"); code != 0 || stdout != "node n1: trigger tracker ready\nnode n2: trigger tracker ready\n" {
		t.Fatalf("init: exit %d: %s%s", code, stdout, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init", "c", "--tracker", "bogus"}, `--tracker must be cdc or trigger, got "bogus"`},
		{[]string{"init", "c", "--tracker", "cdc"}, "already tracks changes with the trigger tracker"},
		{[]string{"table-diff", "c", "public.t"}, "no tree of \"public\".\"t\" on any node: run `pgparity mtree build` first"},
		{[]string{"build", "c", "public.keyless"}, "has no usable key"},
		{[]string{"build", "c", "public.t", "--block-size", "5"}, "--block-size must be at least 10, got 5"},
		{[]string{"build", "c", "public.nope"}, "does not exist"},
		{[]string{"listen", "c"}, "no node of the cluster uses the cdc tracker"},
	} {
		code, _, stderr := mt(tc.args...)
		if code != ExitInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if code, stdout, stderr := mt("build", "c", "public.t", "--block-size", "50"); code != 0 || !strings.Contains(stdout, "built the tree of public.t: 10 leaves") {
		t.Fatalf("build: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := mt("build", "c", "public.gone", "--block-size", "50"); code != 0 {
		t.Fatalf("build gone: exit %d: %s", code, stderr)
	}
	db.Exec(t, "DROP TABLE gone", "n2")
	if code, _, stderr := mt("table-diff", "c", "public.gone"); code != ExitInput || !strings.Contains(stderr, "was dropped on node n2 after `mtree build`") {
		t.Errorf("dropped table: exit %d: %s", code, stderr)
	}
	db.Exec(t, `UPDATE t SET v = 'x' WHERE id IN (1, 250, 500); DELETE FROM t WHERE id = 100; INSERT INTO t VALUES (9999, 'tail')`, "n2")
	code, stdout, stderr := mt("status", "c", "--json")
	var st struct {
		Nodes []struct {
			Node    string `json:"node"`
			Tracker string `json:"tracker"`
			Trees   []struct {
				Table       string `json:"table"`
				Leaves      int    `json:"leaves"`
				DirtyLeaves int    `json:"dirty_leaves"`
				Marks       int    `json:"pending_marks"`
			} `json:"trees"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || len(st.Nodes) != 2 {
		t.Fatalf("status: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	for _, n := range st.Nodes {
		want := 0
		if n.Node == "n2" {
			want = 4 // ids 1 (leaf 0), 100 (leaf 1), 250 (leaf 4), 500 and 9999 (leaf 9)
		}
		if n.Tracker != "trigger" || len(n.Trees) != 2 || n.Trees[1].Table != `"public"."t"` || n.Trees[1].Leaves != 10 || n.Trees[1].DirtyLeaves != want {
			t.Errorf("status of %s: %+v", n.Node, n)
		}
	}
	diffFile := filepath.Join(dir, "m.json")
	code, stdout, stderr = mt("table-diff", "c", "public.t", "--json", "--out", diffFile)
	if code != ExitDiffer {
		t.Fatalf("mtree table-diff: exit %d: %s", code, stderr)
	}
	var sum struct {
		DiffFile string `json:"diff_file"`
		Summary  struct {
			Status        string         `json:"status"`
			DifferingKeys int            `json:"differing_keys"`
			RowsCompared  map[string]int `json:"rows_compared"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if sum.DiffFile != diffFile || sum.Summary.Status != "differ" || sum.Summary.DifferingKeys != 5 ||
		sum.Summary.RowsCompared["n1"] != 500 || sum.Summary.RowsCompared["n2"] != 500 {
		t.Fatalf("summary: %+v", sum)
	}
	if code, stdout, stderr := run(t, "--service-file", svc, "table-repair", "--diff-file", diffFile, "--source-of-truth", "n1"); code != 0 {
		t.Fatalf("table-repair of the mtree diff file: exit %d: %s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := mt("table-diff", "c", "public.t", "--out", filepath.Join(dir, "m2.json")); code != 0 {
		t.Fatalf("mtree table-diff after repair: exit %d: %s%s", code, stdout, stderr)
	}
	if code, _, stderr := mt("teardown-table", "c", "public.t"); code != 0 {
		t.Fatalf("teardown-table: exit %d: %s", code, stderr)
	}
	if code, _, stderr := mt("table-diff", "c", "public.t"); code != ExitInput || !strings.Contains(stderr, "run `pgparity mtree build` first") {
		t.Errorf("after teardown-table: exit %d: %s", code, stderr)
	}
	if code, _, stderr := mt("teardown", "c"); code != 0 {
		t.Fatalf("teardown: exit %d: %s", code, stderr)
	}
}
