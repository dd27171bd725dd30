package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress shows ranges hashed and keys analysed (with how many differ) on stderr while
// table-diff runs. It is a no-op unless stderr is a terminal.
type progress struct {
	on       bool
	p        *mpb.Progress
	mu       sync.Mutex
	ranges   *mpb.Bar
	keys     *mpb.Bar
	analysed int64
	found    atomic.Int64
}

func newProgress(w io.Writer, on bool) *progress {
	if !on {
		return &progress{}
	}
	return &progress{on: true, p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
}

func (p *progress) RangesPlanned(total int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ranges = p.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name("ranges hashed  "), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name("  ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	p.keys = p.p.New(0, mpb.SpinnerStyle(),
		mpb.PrependDecorators(decor.Name("keys analysed  "), decor.CurrentNoUnit("%d"),
			decor.Any(func(decor.Statistics) string { return fmt.Sprintf(" (%d differ)", p.found.Load()) })))
}

func (p *progress) RangeDone(bool) {
	if p.on && p.ranges != nil {
		p.ranges.Increment()
	}
}

func (p *progress) KeysAnalysed(analysed, differing int) {
	if !p.on || p.keys == nil {
		return
	}
	p.found.Add(int64(differing))
	p.mu.Lock()
	p.analysed += int64(analysed)
	p.keys.SetCurrent(p.analysed)
	p.mu.Unlock()
}

// Wait completes the bars and waits for their last render.
func (p *progress) Wait() {
	if !p.on {
		return
	}
	p.mu.Lock()
	if p.ranges != nil {
		// The ranges bar completes by itself when every range is done; an interrupted or failed
		// run stops it where it is (Abort is a no-op on a completed bar).
		p.ranges.Abort(false)
		p.keys.SetTotal(-1, true)
	}
	p.mu.Unlock()
	p.p.Wait()
}
