package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// ErrOverlap is returned, wrapped, for a window that overlaps a landed
// window of another grid (Every or Start changed): landing it would double
// the records both cover.
var ErrOverlap = errors.New("window overlaps a landed window")

// Clock tells the time and waits; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// WindowReport says what became of one window.
type WindowReport struct {
	Window
	BatchID string
	// Report is the window's split; Skipped = Received when it had landed
	// before.
	ingest.Report
	// Attempts is how many tries this call made; 0 when it had landed.
	Attempts int
	// Err, when set, is why the window is still missing after Attempts
	// tries; it is tried again later.
	Err error
}

// StatusReport is what `lakehouse ingest status` shows of a polled table.
type StatusReport struct {
	// Landed are the windows the history holds, oldest first.
	Landed []LandedWindow
	// Missing are the closed windows Run is to land (since Start, within
	// the Horizon) that the history lacks, oldest first.
	Missing []Window
	// Overlapping are closed windows Run will not land because they
	// overlap landed windows of another grid (see ErrOverlap).
	Overlapping []Window
	// Next is the window that closes next, at NextDue.
	Next    Window
	NextDue time.Time
}

// Run polls until ctx ends, then returns nil. At start and whenever a window
// closes (Delay after its end) it reads the table's snapshot history and
// lands, oldest first, every closed window since Start (or the Horizon)
// whose batch id the history lacks: after downtime exactly the missed
// windows land, each once. A window that fails Retry.Attempts tries is
// logged, passed to OnWindow with its error, and tried again in a later
// pass (Retry.After); later windows do not wait for it. clock nil is the
// system clock. Only an invalid cfg is an error.
func Run(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, cfg Config, clock Clock) (err error) {
	p, err := newPoller(logger, sink, cfg, clock)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := p.fetch.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	logger.Info("polling windows", "table", p.table, "source", p.source, "every", cfg.Every, "start", p.grid.start, "delay", cfg.Delay)
	failed := map[time.Time]failure{}
	for {
		wake := p.pass(ctx, failed)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.clock.After(wake.Sub(p.clock.Now())):
		}
	}
}

// Backfill lands the closed windows since Start that overlap [from, to),
// oldest first, whatever the Horizon; windows the history holds are
// reported as skipped without being fetched. A window that fails all its
// tries does not stop the others: the error lists each such window.
func Backfill(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, cfg Config, clock Clock, from, to time.Time) (reps []WindowReport, err error) {
	p, err := newPoller(logger, sink, cfg, clock)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := p.fetch.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	h, err := loadHistory(ctx, sink, cfg.Table, p.grid)
	if err != nil {
		return nil, fmt.Errorf("backfilling %v: %w", cfg.Table, err)
	}
	var failures []error
	for w := range p.grid.overlapping(p.clock.Now(), from, to) {
		r := WindowReport{Window: w, BatchID: BatchID(cfg.Table, w.Start)}
		if c, ok := h.complete(r.BatchID); ok {
			r.Report, r.Skipped = c, c.Received
			p.report(r)
		} else if other, ok := h.overlap(w); ok {
			r.Err = fmt.Errorf("%w %v", ErrOverlap, other.Window)
			p.report(r)
		} else {
			r = p.land(ctx, w)
		}
		if err := ctx.Err(); err != nil {
			return reps, err
		}
		reps = append(reps, r)
		if r.Err != nil {
			failures = append(failures, fmt.Errorf("window %v: %w", w, r.Err))
		}
	}
	if len(failures) > 0 {
		return reps, fmt.Errorf("backfilling %v: %d of %d windows failed: %w", cfg.Table, len(failures), len(reps), errors.Join(failures...))
	}
	return reps, nil
}

// Status reads which windows are landed and which are missing, without
// fetching anything. clock nil is the system clock.
func Status(ctx context.Context, sink *ingest.Sink, cfg Config, clock Clock) (StatusReport, error) {
	if err := cfg.Validate(); err != nil {
		return StatusReport{}, err
	}
	if clock == nil {
		clock = systemClock{}
	}
	g := cfg.grid()
	h, err := loadHistory(ctx, sink, cfg.Table, g)
	if err != nil {
		return StatusReport{}, fmt.Errorf("reading status of %v: %w", cfg.Table, err)
	}
	now := clock.Now()
	st := StatusReport{Landed: h.landed, NextDue: g.nextClose(now)}
	st.Next = g.window(st.NextDue.Add(-g.delay - g.every))
	for w := range g.due(now) {
		if _, ok := h.complete(BatchID(cfg.Table, w.Start)); ok {
			continue
		}
		if _, ok := h.overlap(w); ok {
			st.Overlapping = append(st.Overlapping, w)
		} else {
			st.Missing = append(st.Missing, w)
		}
	}
	return st, nil
}

// poller is one Run or Backfill.
type poller struct {
	logger *slog.Logger
	sink   *ingest.Sink
	cfg    Config
	grid   grid
	clock  Clock
	fetch  fetcher
	source string
	table  string // for logs: <zone>.<table>
}

// failure is a window that failed every try of its last passes.
type failure struct {
	passes  int
	retryAt time.Time
}

func newPoller(logger *slog.Logger, sink *ingest.Sink, cfg Config, clock Clock) (*poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = systemClock{}
	}
	p := &poller{logger: logger, sink: sink, cfg: cfg, grid: cfg.grid(), clock: clock, source: cfg.source(), table: strings.Join(cfg.Table, ".")}
	if cfg.Fetch.HTTP != nil {
		p.fetch = newHTTPFetcher(cfg.Fetch.HTTP)
		return p, nil
	}
	f, err := newSQLFetcher(cfg.Fetch.SQL)
	if err != nil {
		return nil, err
	}
	p.fetch = f
	return p, nil
}

// pass lands the due windows the history lacks and returns when the next
// pass is due: the next window's close, or a failed window's retry.
func (p *poller) pass(ctx context.Context, failed map[time.Time]failure) time.Time {
	now := p.clock.Now()
	wake := p.grid.nextClose(now)
	h, err := loadHistory(ctx, p.sink, p.cfg.Table, p.grid)
	if err != nil {
		retry := now.Add(p.cfg.Retry.after(1, p.cfg.Every))
		p.logger.Warn("reading landed windows failed; trying again later", "table", p.table, "retry_at", retry, "err", err)
		return earliest(wake, retry)
	}
	missing := map[time.Time]bool{}
	var overlapping int
	for w := range p.grid.due(now) {
		if _, ok := h.complete(BatchID(p.cfg.Table, w.Start)); ok {
			continue
		}
		if _, ok := h.overlap(w); ok {
			overlapping++
			continue
		}
		missing[w.Start] = true
		if f := failed[w.Start]; f.passes > 0 && now.Before(f.retryAt) {
			wake = earliest(wake, f.retryAt)
			continue
		}
		r := p.land(ctx, w)
		if ctx.Err() != nil {
			return wake
		}
		if r.Err == nil {
			delete(failed, w.Start)
			continue
		}
		f := failed[w.Start]
		f.passes++
		f.retryAt = p.clock.Now().Add(p.cfg.Retry.after(f.passes, p.cfg.Every))
		failed[w.Start] = f
		p.logger.Error("window still missing; trying again later", "table", p.table, "window", w,
			"failed_passes", f.passes, "retry_at", f.retryAt, "err", r.Err)
		wake = earliest(wake, f.retryAt)
	}
	for start := range failed {
		if !missing[start] {
			delete(failed, start) // landed by another writer, or past the horizon
		}
	}
	if overlapping > 0 {
		p.logger.Error("windows overlap windows landed under another Every or Start; not landing them", "table", p.table, "windows", overlapping)
	}
	return wake
}

// land tries a window up to Retry.Attempts times, backing off between tries.
func (p *poller) land(ctx context.Context, w Window) WindowReport {
	r := WindowReport{Window: w, BatchID: BatchID(p.cfg.Table, w.Start)}
	for r.Attempts = 1; ; r.Attempts++ {
		rep, err := p.landOnce(ctx, w)
		r.Report, r.Err = rep, err
		if err == nil || ctx.Err() != nil || r.Attempts >= p.cfg.Retry.attempts() {
			break
		}
		wait := p.cfg.Retry.backoff(r.Attempts)
		p.logger.Warn("landing window failed; trying again", "table", p.table, "window", w, "attempt", r.Attempts, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-p.clock.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return r
	}
	if r.Err == nil {
		p.logger.Info("landed window", "table", p.table, "window", w, "batch", r.BatchID, "received", r.Received,
			"accepted", r.Accepted, "quarantined", r.Quarantined, "skipped", r.Skipped, "attempts", r.Attempts,
			"duration", r.Duration.Round(time.Millisecond))
	}
	p.report(r)
	return r
}

func (p *poller) report(r WindowReport) {
	if p.cfg.OnWindow != nil {
		p.cfg.OnWindow(r)
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
