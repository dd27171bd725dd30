package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgparity/pgparity/internal/cli"
)

func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-4-gabc1234", "1.2.3+git4.abc1234"},
		{"v1.2.3-rc1-4-gabc1234", "1.2.3~rc1+git4.abc1234"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+git4.abc1234.dirty"},
		{"43bfb1e", "0.0.0~git43bfb1e"},
		{"43bfb1e-dirty", "0.0.0~git43bfb1e+dirty"},
		{"dev", "0.0.0~dev"},
		{"release_2024/x", "0.0.0~release~2024.x"},
		{" v2.0.0\n", "2.0.0"},
	} {
		got, err := packageVersion(tc.describe)
		if err != nil || got != tc.want {
			t.Errorf("packageVersion(%q) = %q, %v; want %q", tc.describe, got, err, tc.want)
		}
	}
	if _, err := packageVersion(""); err == nil {
		t.Error(`packageVersion("") succeeded`)
	}
}

var testDate = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// manPages are the pages GenManTree writes for the tree: one per command a user can run or
// see in help (cobra's help command is left out), named by command path.
func manPages(root *cobra.Command) []string {
	var pages []string
	walk(root, func(c *cobra.Command) {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			pages = append(pages, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1.gz")
		}
	})
	sort.Strings(pages)
	return pages
}

func TestWriteDocs(t *testing.T) {
	dir := t.TempDir()
	if err := writeDocs(dir, "v1.2.3", testDate); err != nil {
		t.Fatal(err)
	}

	// Every command has its page, and only they do.
	root := cli.DocTree("v1.2.3")
	want := manPages(root)
	got := listDir(t, filepath.Join(dir, manDir))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("man pages:\n got %v\nwant %v", got, want)
	}
	for _, page := range []string{"pgparity.1.gz", "pgparity-table-diff.1.gz", "pgparity-sandbox-up.1.gz", "pgparity-completion-bash.1.gz"} {
		if !slices.Contains(want, page) {
			t.Errorf("no %s among %v", page, want)
		}
	}

	// The table-diff page is section 1, dated and versioned, and documents each of its flags.
	page := gunzip(t, filepath.Join(dir, manDir, "pgparity-table-diff.1.gz"))
	if head := `.TH "PGPARITY-TABLE-DIFF" "1" "Mar 2026" "pgparity v1.2.3" "pgparity Manual"`; !strings.Contains(page, head) {
		t.Errorf("table-diff page has no header %s:\n%s", head, page)
	}
	tableDiff, _, err := root.Find([]string{"table-diff"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	tableDiff.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(page, `\fB--`+f.Name+`\fP`) {
			t.Errorf("table-diff page does not document --%s", f.Name)
		}
	})
	for _, f := range []string{"where", "output", "max-diff-rows", "config"} {
		if !strings.Contains(page, `\fB--`+f+`\fP`) {
			t.Errorf("table-diff page does not document --%s", f)
		}
	}
	if n < 10 {
		t.Errorf("table-diff has %d flags of its own: the tree was not built", n)
	}

	// Completion scripts, under the names each shell looks up, for the command pgparity.
	for name, marker := range map[string]string{
		"pgparity":      "complete -o default -F __start_pgparity pgparity",
		"_pgparity":     "#compdef pgparity",
		"pgparity.fish": "complete -c pgparity ",
	} {
		b, err := os.ReadFile(filepath.Join(dir, completionDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), marker) {
			t.Errorf("completion %s has no %q", name, marker)
		}
	}
}

// TestBuild builds both packages from nfpm.yaml and reads them back: each holds exactly the
// binary, every man page, the three completions, the license and the docs.
func TestBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pgparity")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho pgparity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := build(options{
		bin: bin, version: "v1.2.3-4-gabc1234", arch: "amd64",
		config: "nfpm.yaml", out: out, date: testDate,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{
		filepath.Join(out, "pgparity_1.2.3+git4.abc1234-1_amd64.deb"),
		filepath.Join(out, "pgparity-1.2.3+git4.abc1234-1.x86_64.rpm"),
	}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Fatalf("packages %v, want %v", paths, wantPaths)
	}

	common := map[string]packagedFile{
		"/usr/bin/pgparity": {mode: 0o755},
		"/usr/share/bash-completion/completions/pgparity":      {mode: 0o644},
		"/usr/share/fish/vendor_completions.d/pgparity.fish":   {mode: 0o644},
		"/usr/share/doc/pgparity/README.md":                    {mode: 0o644},
		"/usr/share/doc/pgparity/CHANGELOG.md":                 {mode: 0o644},
		"/usr/lib/systemd/system/pgparity.service":             {mode: 0o644},
		"/usr/share/doc/pgparity/examples/pgparity-alerts.yml": {mode: 0o644},
	}
	for _, page := range manPages(cli.DocTree("test")) {
		common["/usr/share/man/man1/"+page] = packagedFile{mode: 0o644}
	}
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("../docs/*.md: %v %v", docs, err)
	}
	for _, d := range docs {
		common["/usr/share/doc/pgparity/docs/"+filepath.Base(d)] = packagedFile{mode: 0o644}
	}
	with := func(own map[string]packagedFile) map[string]packagedFile {
		for k, v := range common {
			own[k] = v
		}
		return own
	}

	deb, control, err := debFiles(readFile(t, wantPaths[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := with(map[string]packagedFile{
		"/usr/share/doc/pgparity/copyright":           {mode: 0o644},
		"/usr/share/zsh/vendor-completions/_pgparity": {mode: 0o644},
	}); !reflect.DeepEqual(deb, want) {
		t.Errorf("deb files differ: %s", fileDiff(deb, want))
	}
	for _, field := range []string{"Package: pgparity\n", "Version: 1.2.3+git4.abc1234-1\n", "Architecture: amd64\n"} {
		if !strings.Contains(control, field) {
			t.Errorf("deb control has no %q:\n%s", field, control)
		}
	}

	rpm, version, err := rpmFiles(readFile(t, wantPaths[1]))
	if err != nil {
		t.Fatal(err)
	}
	if want := with(map[string]packagedFile{
		"/usr/share/licenses/pgparity/LICENSE":    {mode: 0o644, flags: fileFlagLicense},
		"/usr/share/zsh/site-functions/_pgparity": {mode: 0o644},
	}); !reflect.DeepEqual(rpm, want) {
		t.Errorf("rpm files differ: %s", fileDiff(rpm, want))
	}
	if version != "1.2.3+git4.abc1234" {
		t.Errorf("rpm version %q", version)
	}
}

// fileDiff names the files missing from got, unexpected in it, or with other mode or flags.
func fileDiff(got, want map[string]packagedFile) string {
	var d []string
	for path, w := range want {
		if g, ok := got[path]; !ok {
			d = append(d, "missing "+path)
		} else if g != w {
			d = append(d, fmt.Sprintf("%s: mode %v flags %#x, want mode %v flags %#x", path, g.mode, g.flags, w.mode, w.flags))
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			d = append(d, "unexpected "+path)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
