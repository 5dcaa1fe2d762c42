package trino

import (
	"fmt"
	"io"
	"os"
	"time"
)

const progressInterval = time.Second

// progress reports download progress to a writer as bytes pass through
// Write. On a terminal it redraws one line with \r; elsewhere (CI logs,
// files) it prints a plain line per interval. It needs no goroutine: a stalled
// download simply prints nothing until bytes flow again.
type progress struct {
	w     io.Writer // nil: count only
	name  string
	total int64 // -1 when the server sent no length
	done  int64
	tty   bool
	start time.Time
	last  time.Time
	now   func() time.Time
}

func newProgress(w io.Writer, name string, total int64) *progress {
	now := time.Now
	t := now()
	return &progress{w: w, name: name, total: total, tty: isTerminal(w), start: t, last: t, now: now}
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.w == nil {
		return len(b), nil
	}
	if t := p.now(); t.Sub(p.last) >= progressInterval {
		p.last = t
		p.print(false)
	}
	return len(b), nil
}

// finish prints the final line, ending the terminal's redrawn line.
func (p *progress) finish() {
	if p.w != nil {
		p.print(true)
	}
}

func (p *progress) print(final bool) {
	line := p.line(final)
	// Progress output is best effort; a broken terminal must not fail the
	// download.
	if p.tty {
		end := ""
		if final {
			end = "\n"
		}
		_, _ = fmt.Fprintf(p.w, "\r\033[K%s%s", line, end)
		return
	}
	_, _ = fmt.Fprintln(p.w, line)
}

func (p *progress) line(final bool) string {
	mb := float64(p.done) / (1 << 20)
	if final {
		secs := p.now().Sub(p.start).Seconds()
		return fmt.Sprintf("downloaded %s: %.1f MB in %.0fs", p.name, mb, secs)
	}
	if p.total <= 0 {
		return fmt.Sprintf("downloading %s: %.1f MB", p.name, mb)
	}
	pct := float64(p.done) * 100 / float64(p.total)
	return fmt.Sprintf("downloading %s: %3.0f%% (%.1f of %.1f MB)", p.name, pct, mb, float64(p.total)/(1<<20))
}

// isTerminal reports whether w is a character device such as a TTY.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
