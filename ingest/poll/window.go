package poll

import (
	"iter"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"
)

// Window is the interval [Start, End) of one fetch, in UTC.
type Window struct {
	Start, End time.Time
}

func (w Window) String() string {
	return "[" + w.Start.Format(time.RFC3339) + ", " + w.End.Format(time.RFC3339) + ")"
}

// BatchID is the batch id under which the window starting at start lands
// in ident: "window/<zone>.<table>/<start in RFC 3339, UTC>".
func BatchID(ident table.Identifier, start time.Time) string {
	return batchPrefix(ident) + start.UTC().Format(time.RFC3339)
}

func batchPrefix(ident table.Identifier) string {
	return "window/" + strings.Join(ident, ".") + "/"
}

// grid is the window arithmetic of one Config. Times are instants, so
// daylight-saving shifts of any zone change nothing; everything a grid
// returns is in UTC.
type grid struct {
	start   time.Time
	every   time.Duration
	delay   time.Duration
	horizon time.Duration
}

func (c Config) grid() grid {
	return grid{start: c.Start.UTC(), every: c.Every, delay: c.Delay, horizon: c.Horizon}
}

// floor is the start of the window holding t; the grid extends before
// g.start, so t may lie there too.
func (g grid) floor(t time.Time) time.Time {
	d := t.Sub(g.start)
	k := d / g.every
	if d%g.every < 0 {
		k--
	}
	return g.start.Add(k * g.every).UTC()
}

// ceil is the first window start at or after t.
func (g grid) ceil(t time.Time) time.Time {
	f := g.floor(t)
	if f.Before(t) {
		f = f.Add(g.every)
	}
	return f
}

func (g grid) window(start time.Time) Window {
	return Window{Start: start, End: start.Add(g.every)}
}

// aligned: w is a window of this grid.
func (g grid) aligned(w Window) bool {
	return g.floor(w.Start).Equal(w.Start) && w.End.Sub(w.Start) == g.every
}

// closesAt is when w may be fetched: Delay after its end.
func (g grid) closesAt(w Window) time.Time { return w.End.Add(g.delay) }

// lastClosed is the start of the latest window closed at now; false when
// no window since g.start has closed.
func (g grid) lastClosed(now time.Time) (time.Time, bool) {
	s := g.floor(now.Add(-g.delay)).Add(-g.every)
	return s, !s.Before(g.start)
}

// nextClose is the first moment after now at which a window closes.
func (g grid) nextClose(now time.Time) time.Time {
	return g.floor(now.Add(-g.delay)).Add(g.every + g.delay)
}

// due are the windows Run lands at now: every closed one since g.start,
// or since the horizon when that is later, oldest first.
func (g grid) due(now time.Time) iter.Seq[Window] {
	first := g.start
	if g.horizon > 0 {
		if h := g.ceil(now.Add(-g.horizon)); h.After(first) {
			first = h
		}
	}
	last, ok := g.lastClosed(now)
	if !ok {
		return g.span(first, first.Add(-g.every))
	}
	return g.span(first, last)
}

// overlapping are the closed windows (at now) since g.start that overlap
// [from, to), oldest first.
func (g grid) overlapping(now, from, to time.Time) iter.Seq[Window] {
	first := g.floor(from)
	if first.Before(g.start) {
		first = g.start
	}
	last := g.ceil(to).Add(-g.every)
	if lc, ok := g.lastClosed(now); !ok {
		last = first.Add(-g.every)
	} else if lc.Before(last) {
		last = lc
	}
	return g.span(first, last)
}

// span yields the windows starting at first through last.
func (g grid) span(first, last time.Time) iter.Seq[Window] {
	return func(yield func(Window) bool) {
		for s := first; !s.After(last); s = s.Add(g.every) {
			if !yield(g.window(s)) {
				return
			}
		}
	}
}
