package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/collector/internal/spool"
)

// flusher turns sealed spool segments into commits, oldest first, and
// seals the active segment when it is due.
type flusher struct {
	c  *Collector
	sp *spool.Spool

	mu      sync.Mutex
	lastErr error // of the last attempt to reach the table; nil after a success
}

// run resolves the table's schema, then flushes until ctx is done,
// retrying with backoff while the table cannot be written.
func (f *flusher) run(ctx context.Context) {
	c := f.c
	for backoff := newBackoff(); ; {
		err := c.resolveSchema(ctx)
		f.setErr(err)
		if err == nil {
			break
		}
		c.logger.Warn("resolving the table's schema; retrying", "err", err)
		if backoff.wait(ctx) != nil {
			return
		}
	}
	backoff := newBackoff()
	for ctx.Err() == nil {
		if err := f.flushSealed(ctx); err != nil {
			if ctx.Err() == nil {
				c.logger.Warn("flushing spool; retrying", "err", err)
			}
			if backoff.wait(ctx) != nil {
				return
			}
			continue
		}
		backoff.reset()
		if !f.waitDue(ctx) {
			return
		}
		if due, _ := f.activeDue(); !due {
			continue // the writer sealed a full segment
		}
		if _, _, err := f.sp.Seal(); err != nil {
			c.logger.Error("sealing spool segment", "err", err)
			f.setErr(err)
			if backoff.wait(ctx) != nil {
				return
			}
		}
	}
}

// activeDue says whether the active segment is due for flushing: enough
// events or bytes, or its first event FlushInterval old; if not, wait is
// how long until it may be.
func (f *flusher) activeDue() (due bool, wait time.Duration) {
	cfg := f.c.cfg
	st := f.sp.Stats()
	if st.ActiveBytes == 0 {
		return false, cfg.FlushInterval
	}
	if st.ActiveEvents >= cfg.FlushRows || st.ActiveBytes >= cfg.FlushBytes {
		return true, 0
	}
	wait = time.Until(st.ActiveFirst.Add(cfg.FlushInterval))
	return wait <= 0, wait
}

// waitDue waits until a sealed segment waits or the active one is due.
// False: ctx ended.
func (f *flusher) waitDue(ctx context.Context) bool {
	for {
		due, wait := f.activeDue()
		if due || len(f.sp.Sealed()) > 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-f.sp.Grown():
		case <-t.C:
		}
		t.Stop()
	}
}

// drain seals and flushes everything, retrying until ctx ends.
func (f *flusher) drain(ctx context.Context) error {
	if _, _, err := f.sp.Seal(); err != nil {
		return fmt.Errorf("sealing spool at shutdown: %w", err)
	}
	for backoff := newBackoff(); ; {
		err := f.flushSealed(ctx)
		if err == nil {
			return nil
		}
		if werr := backoff.wait(ctx); werr != nil {
			n := len(f.sp.Sealed())
			f.c.logger.Warn("leaving events in the spool for the next start", "segments", n, "err", err)
			return fmt.Errorf("flushing spool at shutdown (%d segments left for the next start): %w", n, err)
		}
	}
}

// flushSealed lands every sealed segment and removes it.
func (f *flusher) flushSealed(ctx context.Context) error {
	for _, seg := range f.sp.Sealed() {
		if err := f.flush(ctx, seg); err != nil {
			f.setErr(err)
			return err
		}
		f.setErr(nil)
		if err := f.sp.Remove(seg); err != nil {
			return err
		}
	}
	return nil
}

// batchID names a sealed segment's byte range. Segment names never repeat,
// and a sealed segment's range is fixed on disk, so every flush of it uses
// the same id and the table's history tells whether it landed.
func batchID(seg spool.Segment) string {
	return "collector/" + seg.Name + "/0-" + strconv.FormatInt(seg.Size, 10)
}

func (f *flusher) flush(ctx context.Context, seg spool.Segment) error {
	c := f.c
	start := time.Now()
	open := func(ctx context.Context, declared *arrow.Schema) (ingest.Source, error) {
		if declared == nil {
			declared, _ = c.schema.current()
		}
		return openSegment(ctx, c.tmp, seg, declared)
	}
	rep, err := c.lake.land(ctx, open, ingest.Target{Table: c.cfg.Table, Source: c.cfg.Source, BatchID: batchID(seg)})
	if err != nil {
		c.m.flushed("failed", time.Since(start), ingest.Report{})
		return fmt.Errorf("landing spool segment %s: %w", seg.Name, err)
	}
	result := "landed"
	if rep.Skipped == rep.Received {
		result = "skipped" // an earlier run landed it and stopped before removing it
	}
	c.m.flushed(result, time.Since(start), rep)
	c.logger.Info("flushed spool segment", "segment", seg.Name, "result", result, "accepted", rep.Accepted,
		"quarantined", rep.Quarantined, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (f *flusher) setErr(err error) {
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
}

// failing is the error of the last attempt to reach the table, if it failed.
func (f *flusher) failing() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// segmentSource is the ingest.Source over one sealed segment: its accepted
// events typed by the files source, then its rejects.
type segmentSource struct {
	schema   *arrow.Schema
	batches  []ingest.Batch
	rejects  []ingest.Reject
	position json.RawMessage
}

// openSegment reads a sealed segment. Positions name the segment, the
// record's offset, the request and the event's index in its body.
func openSegment(ctx context.Context, tmpDir string, seg spool.Segment, declared *arrow.Schema) (*segmentSource, error) {
	recs, err := spool.Read(seg)
	if err != nil {
		return nil, err
	}
	var events []acceptedEvent
	var positions []string
	s := &segmentSource{schema: declared}
	for _, r := range recs {
		var rec spoolRecord
		if err := json.Unmarshal(r.Payload, &rec); err != nil {
			return nil, fmt.Errorf("%w: decoding record at %s@%d: %w", spool.ErrCorrupt, seg.Name, r.Offset, err)
		}
		at := func(i int) string {
			return fmt.Sprintf("%s@%d request %s index %d", seg.Name, r.Offset, rec.RequestID, i)
		}
		for _, e := range rec.Accepted {
			events = append(events, e)
			positions = append(positions, at(e.Index))
		}
		for _, rj := range rec.Rejects {
			s.rejects = append(s.rejects, ingest.Reject{Position: at(rj.Index), Reason: rj.Reason, Raw: rj.Raw})
		}
	}
	if s.position, err = json.Marshal(map[string]any{"segment": seg.Name, "end": seg.Size}); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		if declared == nil {
			return nil, errors.New("no schema to land with yet: no event was accepted to infer it from")
		}
		return s, nil
	}
	conv, err := convert(ctx, tmpDir, "flush-"+seg.Name, events, declared, true)
	if err != nil {
		return nil, err
	}
	s.schema = conv.schema
	for _, b := range conv.batches {
		for i, p := range b.Positions {
			b.Positions[i] = positions[atoi(p)]
		}
		for i, rj := range b.Rejects {
			// Checked when the request came; the table changed since.
			k := atoi(rj.Position)
			b.Rejects[i] = ingest.Reject{Position: positions[k], Reason: "at flush: " + rj.Reason, Raw: events[k].Raw}
		}
		b.Position = s.position
		s.batches = append(s.batches, b)
	}
	return s, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // convert wrote it
	return n
}

func (s *segmentSource) Schema() *arrow.Schema { return s.schema }

func (s *segmentSource) Next(context.Context) (ingest.Batch, error) {
	if len(s.batches) > 0 {
		b := s.batches[0]
		s.batches = s.batches[1:]
		return b, nil
	}
	if len(s.rejects) > 0 {
		b := ingest.Batch{Rejects: s.rejects, Position: s.position}
		s.rejects = nil
		return b, nil
	}
	return ingest.Batch{}, io.EOF
}

func (s *segmentSource) Close() error {
	for _, b := range s.batches {
		if b.Records != nil {
			b.Records.Release()
		}
	}
	s.batches = nil
	return nil
}

// backoff waits 200ms, doubling up to 5s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 200 * time.Millisecond} }

func (b *backoff) reset() { b.d = 200 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) error {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
