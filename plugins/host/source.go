package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// item is one thing a plugin's Read produced.
type item struct {
	rec    arrow.RecordBatch // records, or
	reject *sdk.Reject       // a record the plugin could not convert, or
	state  json.RawMessage   // a checkpoint, or
	err    error             // the end: io.EOF or why it failed
}

// reader runs a Read of one stream in its own goroutine and hands its
// output over one item at a time.
type reader struct {
	items  chan item
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startRead starts c.Read; the reader owns the goroutine until stop.
func startRead(ctx context.Context, logger *slog.Logger, c sdk.Connector, config json.RawMessage, sr sdk.StreamRead, schema *arrow.Schema) *reader {
	ctx, cancel := context.WithCancel(ctx)
	r := &reader{items: make(chan item, 4), cancel: cancel}
	w := &chanWriter{ctx: ctx, logger: logger, items: r.items, stream: sr.Name, schema: schema}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := c.Read(ctx, config, []sdk.StreamRead{sr}, w)
		if err == nil {
			err = io.EOF
		}
		select {
		case r.items <- item{err: err}:
		case <-ctx.Done():
		}
	}()
	return r
}

// next is the next item; after the last one it keeps returning the end.
func (r *reader) next(ctx context.Context) item {
	select {
	case it := <-r.items:
		return it
	case <-ctx.Done():
		return item{err: ctx.Err()}
	}
}

// stop ends the read and waits for its goroutine, releasing what was not
// taken.
func (r *reader) stop() {
	r.cancel()
	for {
		select {
		case it := <-r.items:
			if it.rec != nil {
				it.rec.Release()
			}
		default:
			r.wg.Wait()
			// The goroutine may have queued one more before it saw the
			// cancel.
			for len(r.items) > 0 {
				if it := <-r.items; it.rec != nil {
					it.rec.Release()
				}
			}
			return
		}
	}
}

// chanWriter is the sdk.Writer that feeds a reader.
type chanWriter struct {
	ctx    context.Context
	logger *slog.Logger
	items  chan item
	stream string
	schema *arrow.Schema
}

func (w *chanWriter) put(it item) error {
	select {
	case w.items <- it:
		return nil
	case <-w.ctx.Done():
		if it.rec != nil {
			it.rec.Release()
		}
		return w.ctx.Err()
	}
}

func (w *chanWriter) Records(stream string, rec arrow.RecordBatch) error {
	if stream != w.stream {
		return fmt.Errorf("%w: sent records of stream %q while reading %q", ErrProtocol, stream, w.stream)
	}
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("%w: stream %q sent a batch with schema %s, but discovered %s", ErrProtocol, stream, rec.Schema(), w.schema)
	}
	rec.Retain()
	return w.put(item{rec: rec})
}

func (w *chanWriter) Reject(stream string, r sdk.Reject) error {
	if stream != w.stream {
		return fmt.Errorf("%w: sent a reject of stream %q while reading %q", ErrProtocol, stream, w.stream)
	}
	r.Raw = append([]byte{}, r.Raw...)
	return w.put(item{reject: &r})
}

func (w *chanWriter) Checkpoint(stream string, state json.RawMessage) error {
	if stream != w.stream {
		return fmt.Errorf("%w: sent a checkpoint of stream %q while reading %q", ErrProtocol, stream, w.stream)
	}
	return w.put(item{state: append(json.RawMessage{}, state...)})
}

func (w *chanWriter) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	w.logger.LogAttrs(w.ctx, level, msg, append(attrs, slog.String("stream", w.stream))...)
}

// segment is the ingest.Source of one commit: the records up to and
// including the next checkpoint. It looks one item past the checkpoint to
// learn whether the read ends there, which the commit records.
type segment struct {
	r      *reader
	schema *arrow.Schema
	pos    committed // what the commit will record; Seq is this commit's
	label  string    // position prefix, e.g. "orders#12"

	pending  *item // looked ahead, for the next segment
	rows     int64
	ended    bool // the segment is over
	final    bool // the read is over
	unsealed int64
}

func (s *segment) Schema() *arrow.Schema { return s.schema }

func (s *segment) Close() error { return nil }

func (s *segment) Next(ctx context.Context) (ingest.Batch, error) {
	if s.ended {
		return ingest.Batch{}, io.EOF
	}
	it := s.take(ctx)
	switch {
	case it.rec != nil:
		positions := make([]string, it.rec.NumRows())
		for i := range positions {
			positions[i] = s.label + ":" + strconv.FormatInt(s.rows+int64(i), 10)
		}
		s.rows += it.rec.NumRows()
		return ingest.Batch{Records: it.rec, Positions: positions}, nil
	case it.reject != nil:
		// Lands in the quarantine table, in the same commit as the
		// segment's records.
		return ingest.Batch{Rejects: []ingest.Reject{{
			Position: s.label + " " + it.reject.Position, Reason: it.reject.Reason, Raw: it.reject.Raw,
		}}}, nil
	case it.state != nil:
		s.ended = true
		s.pos.State = it.state
		after := s.take(ctx)
		if errors.Is(after.err, io.EOF) {
			s.final, s.pos.Done = true, true
		} else {
			s.pending = &after
		}
		b, err := json.Marshal(s.pos)
		if err != nil {
			return ingest.Batch{}, fmt.Errorf("recording checkpoint: %w", err)
		}
		return ingest.Batch{Position: b}, nil
	case errors.Is(it.err, io.EOF):
		// Records after the last checkpoint: a well-behaved plugin ends
		// with one. They are committed under the last checkpoint, marked
		// done, so a full refresh is not read twice.
		s.ended, s.final, s.pos.Done = true, true, true
		s.unsealed = s.rows
		b, err := json.Marshal(s.pos)
		if err != nil {
			return ingest.Batch{}, fmt.Errorf("recording checkpoint: %w", err)
		}
		return ingest.Batch{Position: b}, nil
	}
	return ingest.Batch{}, it.err
}

func (s *segment) take(ctx context.Context) item {
	if s.pending != nil {
		it := *s.pending
		s.pending = nil
		return it
	}
	return s.r.next(ctx)
}
