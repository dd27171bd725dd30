package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgparity/pgparity/internal/fault"
)

// Read loads a whole diff file (v2 or v1) into memory, rows expanded: for tests and small
// diffs. Commands stream with OpenDiff instead.
func Read(path string) (*Diff, error) {
	r, err := OpenDiff(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := &Collector{}
	if err := c.Begin(r.Diff); err != nil {
		return nil, err
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := c.Entry(e); err != nil {
			return nil, err
		}
	}
	if err := c.End(r.Diff); err != nil {
		return nil, err
	}
	return c.Diff, nil
}

// WriteFile writes an in-memory diff (rows expanded) to path as a v2 file, atomically.
func WriteFile(path string, d *Diff) error {
	f, err := CreateFile(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := f.Begin(d); err != nil {
		return err
	}
	for _, set := range []struct {
		rows      []Row
		transient bool
	}{{d.Rows, false}, {d.Transient, true}} {
		for i := range set.rows {
			e, err := d.Compact(&set.rows[i])
			if err != nil {
				return fmt.Errorf("write %s: row %d: %w", path, i+1, err)
			}
			e.Transient = set.transient
			if err := f.Entry(&e); err != nil {
				return err
			}
		}
	}
	return f.End(d)
}

// WriteAtomic writes path through fill atomically: a temporary file in the same directory,
// fsync'd, then renamed (mode 0600), so a crash never leaves half a file under the final name.
func WriteAtomic(path string, fill func(*os.File) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fault.Input("cannot write %s: %v", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// DefaultName returns <schema>_<table>_diff_<UTC yyyymmddThhmmss>.json for d, with characters
// unsafe in file names replaced.
func DefaultName(d *Diff) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == 0 || r == ' ' {
				return '_'
			}
			return r
		}, s)
	}
	return fmt.Sprintf("%s_%s_diff_%s.json", clean(d.Table.Schema), clean(d.Table.Name), d.StartedAt.UTC().Format("20060102T150405"))
}

// WriteHTMLFile writes the HTML report of d to path atomically.
func WriteHTMLFile(path string, d *Diff) error {
	return WriteAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<16)
		if err := WriteHTML(w, d); err != nil {
			return err
		}
		return w.Flush()
	})
}
