package report

import (
	"io"
	"os"
	"path/filepath"

	"github.com/pgparity/pgparity/internal/fault"
)

// HTMLRows is how many differing keys the HTML report of a diff file embeds by default: enough
// to review, few enough for a browser to load. The page says how many more the diff file holds.
const HTMLRows = 100_000

// WriteHTMLFromFile writes the HTML report of the diff file at diffPath to htmlPath atomically,
// embedding the file's first HTMLRows differing keys.
func WriteHTMLFromFile(htmlPath, diffPath string) error {
	return WriteHTMLFromFileLimit(htmlPath, diffPath, HTMLRows)
}

// WriteHTMLFromFileLimit is WriteHTMLFromFile embedding at most maxRows differing keys (maxRows
// < 1 means HTMLRows). It reads the diff file twice, one entry at a time: to its end first (the
// summary is the last line of a v2 file), counting its keys and keeping the first transient ones,
// then from its start again, writing each embedded row into the page as it is read. Memory holds
// one entry at a time, whatever the size of the diff file.
func WriteHTMLFromFileLimit(htmlPath, diffPath string, maxRows int) error {
	if maxRows < 1 {
		maxRows = HTMLRows
	}
	c, err := scanForHTML(diffPath, maxRows)
	if err != nil {
		return err
	}
	r, err := OpenDiff(diffPath)
	if err != nil {
		return err
	}
	defer r.Close()
	embedded := 0
	c.next = func() (*Row, error) {
		for embedded < c.listed {
			e, err := r.Next()
			if err == io.EOF {
				return nil, fault.Input("diff file %s changed while its HTML report was written: %d keys on the first read, %d on the second", diffPath, c.listed+c.more, embedded)
			}
			if err != nil {
				return nil, err
			}
			if e.Transient {
				continue
			}
			embedded++
			row := c.d.Expand(e)
			return &row, nil
		}
		return nil, io.EOF
	}
	return WriteAtomic(htmlPath, func(f *os.File) error { return writeHTMLPage(f, c) })
}

// scanForHTML reads the diff file at path to its end and returns what its page shows besides
// the rows: the header with the summary, the number of keys embedded (at most maxRows) and not,
// and the transient keys.
func scanForHTML(path string, maxRows int) (*htmlContent, error) {
	r, err := OpenDiff(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := &htmlContent{file: filepath.Base(path)}
	rows := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !e.Transient {
			rows++
			continue
		}
		if len(c.transientKeys) < transientListed {
			row := r.Diff.Expand(e)
			c.transientKeys = append(c.transientKeys, keyText(row.Key))
		}
		c.transient++
	}
	c.d = r.Diff
	c.listed = min(rows, maxRows)
	c.more = rows - c.listed
	return c, nil
}
