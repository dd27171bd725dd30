package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// outcome is one measured pgparity run, or the summary of several (see summarize).
type outcome struct {
	took    time.Duration
	rssKB   int64 // peak resident set size of the pgparity process
	code    int   // exit code
	stdout  []byte
	errLine string // the last line pgparity wrote on stderr when it exited above 1
}

func (o outcome) rssMB() int64 { return o.rssKB / 1024 }

// keys returns summary.differing_keys of a table-diff --json run, or -1 when stdout holds none.
func (o outcome) keys() int {
	var s struct {
		Summary struct {
			DifferingKeys *int `json:"differing_keys"`
		} `json:"summary"`
	}
	if json.Unmarshal(o.stdout, &s) != nil || s.Summary.DifferingKeys == nil {
		return -1
	}
	return *s.Summary.DifferingKeys
}

// exitText is the exit code, with the error line of a failed run.
func (o outcome) exitText() string {
	if o.errLine != "" {
		return fmt.Sprintf("%d (%s)", o.code, o.errLine)
	}
	return strconv.Itoa(o.code)
}

var rssLine = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// pgparity runs the pgparity binary with args under /usr/bin/time -v and returns wall time, peak
// RSS, exit code and stdout. Any exit code is an outcome for the caller to judge; the error is
// for a run that could not be measured (or an interrupted bench).
func (b *bench) pgparity(ctx context.Context, args ...string) (outcome, error) {
	full := append([]string{"-v", b.bin, "--service-file", b.svc}, args...)
	cmd := exec.CommandContext(ctx, "/usr/bin/time", full...)
	// Runs are recorded in a history store of the bench's own (recording is part of the cost).
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+b.state)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	o := outcome{took: time.Since(start), stdout: stdout.Bytes()}
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		o.code = ee.ExitCode()
	} else if err != nil {
		return o, fmt.Errorf("run %s: %w", args[0], err)
	}
	m := rssLine.FindStringSubmatch(stderr.String())
	if m == nil {
		return o, fmt.Errorf("%s: no peak RSS in the output of /usr/bin/time: %s", args[0], lastLine(stderr.String()))
	}
	o.rssKB, _ = strconv.ParseInt(m[1], 10, 64)
	if o.code > 1 {
		o.errLine = lastLine(stderr.String())
	}
	return o, nil
}

// measure runs pgparity with args n times and summarizes the runs; before every run but the
// first, again (if not nil) puts the data back as the first run found it.
func (b *bench) measure(ctx context.Context, n int, again func() error, args ...string) (outcome, error) {
	var outs []outcome
	for i := 0; i < n; i++ {
		if i > 0 && again != nil {
			if err := again(); err != nil {
				return outcome{}, err
			}
		}
		o, err := b.pgparity(ctx, args...)
		if err != nil {
			return outcome{}, err
		}
		outs = append(outs, o)
	}
	return summarize(outs), nil
}

// summarize returns the median wall time of the runs with the highest peak RSS of any of them,
// and the exit code, stdout and error of the run that exited highest (the last one when all
// agree), so that a run that failed once shows.
func summarize(outs []outcome) outcome {
	worst := outs[len(outs)-1]
	var rss int64
	ds := make([]time.Duration, len(outs))
	for i, o := range outs {
		ds[i] = o.took
		rss = max(rss, o.rssKB)
		if o.code > worst.code {
			worst = o
		}
	}
	worst.took, worst.rssKB = medianOf(ds), rss
	return worst
}

// median runs f n times and returns the median duration.
func median(n int, f func() (time.Duration, error)) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		d, err := f()
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return medianOf(ds), nil
}

// medianOf returns the median; of an even number of durations, the mean of the middle two.
func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[m]
}

// verdict collects the targets and expectations of one printed line.
type verdict struct {
	what   string // names the line in the closing list of missed targets
	missed []string
}

// want records a missed target or expectation unless ok.
func (v *verdict) want(ok bool, format string, args ...any) {
	if !ok {
		v.missed = append(v.missed, fmt.Sprintf(format, args...))
	}
}

// wantRun records the expected exit code and, when keys >= 0, the expected differing keys.
func (v *verdict) wantRun(o outcome, code, keys int) {
	v.want(o.code == code, "exit %d, want %d", o.code, code)
	if keys >= 0 && o.code <= 1 {
		v.want(o.keys() == keys, "%d differing keys, want %d", o.keys(), keys)
	}
}

// wantRSS records the peak RSS target.
func (v *verdict) wantRSS(o outcome) {
	v.want(o.rssMB() <= rssTargetMB, "peak RSS %d MB > %d MB", o.rssMB(), rssTargetMB)
}

// judge counts the verdict and returns PASS, or FAIL with what was missed.
func (b *bench) judge(v verdict) string {
	if len(v.missed) == 0 {
		b.passed++
		return "PASS"
	}
	b.failed = append(b.failed, v.what+": "+strings.Join(v.missed, ", "))
	return "FAIL (" + strings.Join(v.missed, ", ") + ")"
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func keysText(n int) string {
	if n < 0 {
		return "?"
	}
	return strconv.Itoa(n)
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "Command") || strings.HasPrefix(sc.Text(), "\t") {
			continue // /usr/bin/time -v lines start with a tab
		}
		last = t
	}
	return last
}
