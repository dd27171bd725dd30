package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgparity/pgparity/internal/sandbox"
)

// TestTableDiffExitCodes drives table-diff and table-rerun as main does: 0 when the nodes match,
// 1 with a diff file naming the differing key, 0 from table-rerun once the key is fixed.
func TestTableDiffExitCodes(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public."Items" (id bigint PRIMARY KEY, "Name" text)`)
	db.Exec(t, `INSERT INTO public."Items" SELECT g, 'item ' || g FROM generate_series(1, 500) g`)
	svc := db.ServiceFile(t, "c")

	code, stdout, stderr := run(t, "--service-file", svc, "table-diff", "c", `public."Items"`, "--out", "match.json", "--quiet")
	if code != ExitOK || stdout != "" || stderr != "" {
		t.Fatalf("identical tables: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	db.Exec(t, `UPDATE public."Items" SET "Name" = 'changed' WHERE id = 42`, "n2")
	code, stdout, stderr = run(t, "--service-file", svc, "table-diff", "c", `public."Items"`, "--out", "d.json", "--json")
	if code != ExitDiffer || stderr != "" {
		t.Fatalf("differences: exit %d, stderr %q", code, stderr)
	}
	var sum struct {
		DiffFile string `json:"diff_file"`
		Summary  struct {
			Status        string         `json:"status"`
			DifferingKeys int            `json:"differing_keys"`
			Pairs         map[string]int `json:"pairs"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if sum.DiffFile != "d.json" || sum.Summary.Status != "differ" || sum.Summary.DifferingKeys != 1 || sum.Summary.Pairs["n1/n2"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "d.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A v2 file: header, the one entry of key 42 (each version with the nodes holding it), summary.
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	entry := regexp.MustCompile(`^\{"key":\[42\],"versions":\[\{"nodes":\["n1"\],"hash":-?[0-9]+,"values":\[42,"item 42"\]\},\{"nodes":\["n2"\],"hash":-?[0-9]+,"values":\[42,"changed"\]\}\]\}$`)
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"format":"pgparity.diff/v2",`) || !entry.MatchString(lines[1]) || !strings.HasPrefix(lines[2], `{"summary":{"status":"differ",`) {
		t.Fatalf("diff file does not hold exactly key 42:\n%s", raw)
	}

	db.Exec(t, `UPDATE public."Items" SET "Name" = 'item 42' WHERE id = 42`, "n2")
	code, _, stderr = run(t, "--service-file", svc, "table-rerun", "--diff-file", "d.json", "--out", "r.json", "--quiet")
	if code != ExitOK || stderr != "" {
		t.Fatalf("rerun after the fix: exit %d, stderr %q", code, stderr)
	}
}

// TestInterruptExits130: a cancelled context (Ctrl-C) exits 130, says so in one line and writes
// no diff file.
func TestInterruptExits130(t *testing.T) {
	dir := isolate(t)
	db := sandbox.NewDB(t)
	db.Exec(t, `CREATE TABLE public.t (id int PRIMARY KEY)`)
	svc := db.ServiceFile(t, "c")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, "test", []string{"--service-file", svc, "table-diff", "c", "public.t", "--out", "x.json"}, &stdout, &stderr)
	if code != ExitCancelled || stderr.String() != "pgparity: interrupted\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Fatalf("an interrupted run wrote %v", names)
	}
}
