package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/pgparity/pgparity/internal/cli"
)

// Where writeDocs puts what it generates, below its directory; nfpm.yaml installs each from
// there.
const (
	manDir        = "man1"     // pgparity.1.gz, pgparity-table-diff.1.gz, ...
	completionDir = "complete" // bash, zsh and fish scripts, named as each shell looks them up
)

// Completion scripts: file name and generator. The names are the ones bash-completion, zsh and
// fish look up for the command pgparity.
var completions = []struct {
	name string
	gen  func(root *cobra.Command, w io.Writer) error
}{
	{"pgparity", func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
	{"_pgparity", func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) }},
	{"pgparity.fish", func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) }},
}

// writeDocs generates, from the command definitions, a gzipped section 1 man page per command
// into dir/man1 and the shell completion scripts into dir/complete. version and date go into
// the page headers; the date is the build's, so that one commit always gives the same pages.
func writeDocs(dir, version string, date time.Time) error {
	root := cli.DocTree(version)
	walk(root, func(c *cobra.Command) { c.DisableAutoGenTag = true }) // the header has the date

	raw, err := os.MkdirTemp(dir, "man-")
	if err != nil {
		return err
	}
	header := &doc.GenManHeader{
		Section: "1",
		Date:    &date,
		Source:  "pgparity " + version,
		Manual:  "pgparity Manual",
	}
	if err := doc.GenManTree(root, header, raw); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := gzipAll(raw, filepath.Join(dir, manDir), date); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := os.RemoveAll(raw); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Join(dir, completionDir), 0o755); err != nil {
		return err
	}
	for _, c := range completions {
		var buf bytes.Buffer
		if err := c.gen(root, &buf); err != nil {
			return fmt.Errorf("completion %s: %w", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, completionDir, c.name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("completion %s: %w", c.name, err)
		}
	}
	return nil
}

// gzipAll writes every file of src as <name>.gz into dst, stamped with date rather than the
// time of the build, so that the same pages compress to the same bytes.
func gzipAll(src, dst string, date time.Time) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return err
		}
		zw.Name, zw.ModTime = e.Name(), date
		if _, err := zw.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()+".gz"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// walk calls fn on c and every command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}
