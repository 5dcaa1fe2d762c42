package poll

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// fetcher fetches the records of one window.
type fetcher interface {
	fetch(ctx context.Context, w Window) (*spool, error)
	Close() error
}

// spool holds one window's records as NDJSON in a temporary file, one
// record per line, so that the files source types them (by inference, or
// by the table's schema) and rejects what does not fit. It also keeps each
// record's place in the response, which lineage records instead of the
// spool's line numbers.
type spool struct {
	f         *os.File
	w         *bufio.Writer
	buf       bytes.Buffer
	positions []string
}

func newSpool() (*spool, error) {
	// An absolute folder: the process's working directory may change.
	f, err := os.CreateTemp("", "lakehouse-poll-*.ndjson")
	if err != nil {
		return nil, fmt.Errorf("creating spool file: %w", err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add writes one record: valid JSON compacted onto one line, anything else
// as it came (line breaks replaced), for the files source to reject with
// its reason.
func (s *spool) add(raw []byte, position string) error {
	s.buf.Reset()
	if err := json.Compact(&s.buf, raw); err != nil {
		s.buf.Reset()
		s.buf.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(string(raw)))
	}
	if len(bytes.TrimSpace(s.buf.Bytes())) == 0 {
		s.buf.WriteString(`""`) // a blank line would be skipped: keep the record, as a reject
	}
	s.buf.WriteByte('\n')
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("writing spool file: %w", err)
	}
	s.positions = append(s.positions, position)
	return nil
}

func (s *spool) count() int   { return len(s.positions) }
func (s *spool) path() string { return s.f.Name() }

// finish flushes and closes the file for reading.
func (s *spool) finish() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing spool file: %w", err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("closing spool file: %w", err)
	}
	return nil
}

// remove deletes the file; safe after finish or instead of it.
func (s *spool) remove() error {
	_ = s.f.Close() // already closed after finish; the removal below is what counts
	if err := os.Remove(s.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing spool file: %w", err)
	}
	return nil
}

// place maps the files source's "line N" to the record's place in the
// response.
func (s *spool) place(pos string) string {
	if n, err := strconv.Atoi(strings.TrimPrefix(pos, "line ")); err == nil && n >= 1 && n <= len(s.positions) {
		return s.positions[n-1]
	}
	return pos
}

// windowPosition is the Batch.Position of a window source, which Land
// records in the snapshot summary (ingest.PositionProperty): the window's
// bounds.
type windowPosition struct {
	Start time.Time `json:"window_start"`
	End   time.Time `json:"window_end"`
}

func positionOf(w Window) json.RawMessage {
	b, _ := json.Marshal(windowPosition{Start: w.Start.UTC(), End: w.End.UTC()}) // two times always marshal
	return b
}

// windowSource is the files source over a window's spool, with the
// records' places in the response and the window as its position.
type windowSource struct {
	files.Source
	sp       *spool
	position json.RawMessage
}

func openWindow(ctx context.Context, sp *spool, w Window, declared *arrow.Schema) (*windowSource, error) {
	src, err := files.Open(ctx, sp.path(), declared, nil, files.Options{})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("reading the records of window %v: %w", w, err), sp.remove())
	}
	return &windowSource{Source: src, sp: sp, position: positionOf(w)}, nil
}

func (s *windowSource) Next(ctx context.Context) (ingest.Batch, error) {
	b, err := s.Source.Next(ctx)
	if err != nil {
		return b, err
	}
	for i, p := range b.Positions {
		b.Positions[i] = s.sp.place(p)
	}
	for i := range b.Rejects {
		b.Rejects[i].Position = s.sp.place(b.Rejects[i].Position)
	}
	b.Position = s.position
	return b, nil
}

func (s *windowSource) Close() error {
	return errors.Join(s.Source.Close(), s.sp.remove())
}
