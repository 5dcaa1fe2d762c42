package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

// textRecord is one record of a text file as its reader split it off.
type textRecord interface {
	position() string // of the record's row or reject, e.g. "line 3"
	rawBytes() []byte // the record's text, kept with a reject
	endOffset() int64 // of the byte after the record
}

// recordReader splits a text file into records.
type recordReader[R textRecord] interface {
	next() (R, error) // io.EOF after the last
	offset() int64
}

// textState is the resumable position of a text source, marshalled as
// each batch's position. Its offset alone decides where a resumed source
// reads on, so a position is valid however the records were batched.
type textState[S any, R textRecord] interface {
	after(R) S // the state once R is read
	offset() int64
}

// textFile is what CSV and JSON sources share: a file read record by
// record, whose sampled records (read to infer the schema) come first,
// converted into rows or rejected with a reason, resumable at a byte
// offset. The format's own parts (header, inference, conversion) stay
// with the source that embeds it.
type textFile[R textRecord, S textState[S, R]] struct {
	f       *os.File
	size    int64
	rd      recordReader[R]
	reopen  func(at S) recordReader[R] // a reader starting at, f already seeked there
	schema  *arrow.Schema
	cols    []column
	pending []R // read for inference, not yet returned
	rows    *rowBuilder
	cells   []arrowfill.Cell
	opts    Options
	state   S
	done    bool
}

// open opens path and calls prepare, which must set t.rd and decide t.schema
// and t.cols (sampling with t.sample); then it resumes where resume says.
// reopen builds the reader for a resume position that the sample has not
// reached.
func (t *textFile[R, S]) open(path string, resume json.RawMessage, opts Options, reopen func(at S) recordReader[R], prepare func() error) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close() // the open failed: its error is the one to report
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	t.f, t.size, t.opts, t.reopen = f, info.Size(), opts, reopen
	if err := prepare(); err != nil {
		return err
	}
	if err := t.resume(resume); err != nil {
		return err
	}
	t.rows = newRowBuilder(memory.DefaultAllocator, t.schema, t.cols)
	t.cells = make([]arrowfill.Cell, len(t.cols))
	return nil
}

// sample reads up to the sample size of records for inference, passing each
// to inspect; Next returns them first.
func (t *textFile[R, S]) sample(inspect func(R)) error {
	for len(t.pending) < t.opts.sampleRows() {
		rec, err := t.rd.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		t.pending = append(t.pending, rec)
		inspect(rec)
	}
	return nil
}

// decide sets the columns from the sample's names and kind masks: all
// inferred, or with a declared schema its columns as declared and, with
// Extend, the other sampled ones inferred.
func (t *textFile[R, S]) decide(declared *arrow.Schema, names []string, masks []uint16) error {
	if declared == nil {
		t.schema, t.cols = inferredSchema(names, masks, len(t.pending))
		return nil
	}
	var err error
	t.schema, t.cols, err = extend(declared, names, masks, len(t.pending), t.opts)
	return err
}

// resume skips to the position a previous Next returned: past the sampled
// records it covers, or, beyond the sample, by seeking.
func (t *textFile[R, S]) resume(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var st S
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("reading resume position: %w", err)
	}
	for len(t.pending) > 0 && t.pending[0].endOffset() <= st.offset() {
		t.pending = t.pending[1:]
	}
	if len(t.pending) == 0 && t.rd.offset() != st.offset() {
		if _, err := t.f.Seek(st.offset(), io.SeekStart); err != nil {
			return fmt.Errorf("seeking to the resume position: %w", err)
		}
		t.rd = t.reopen(st)
	}
	t.state = st
	return nil
}

func (t *textFile[R, S]) Schema() *arrow.Schema { return t.schema }

func (t *textFile[R, S]) Progress() float64 {
	if t.size == 0 {
		return 1
	}
	return float64(t.rd.offset()) / float64(t.size)
}

func (t *textFile[R, S]) Close() error {
	t.rows.release()
	return t.f.Close()
}

// next reads the next batch. convert fills t.cells, all null before each
// record, from a record, or says why the record is rejected.
func (t *textFile[R, S]) next(ctx context.Context, convert func(R) string) (ingest.Batch, error) {
	var b ingest.Batch
	for !t.done && t.rows.rows < t.opts.batchRows() && len(b.Rejects) < t.opts.batchRows() {
		if err := ctx.Err(); err != nil {
			return ingest.Batch{}, err
		}
		rec, err := t.nextRecord()
		if errors.Is(err, io.EOF) {
			t.done = true
			break
		}
		if err != nil {
			return ingest.Batch{}, err
		}
		t.state = t.state.after(rec)
		for i := range t.cells {
			t.cells[i] = arrowfill.Cell{Null: true}
		}
		pos := rec.position()
		if reason := convert(rec); reason != "" {
			b.Rejects = append(b.Rejects, ingest.Reject{Position: pos, Reason: reason, Raw: rec.rawBytes()})
			continue
		}
		t.rows.add(t.cells, pos)
	}
	return t.rows.batch(b, t.state)
}

func (t *textFile[R, S]) nextRecord() (R, error) {
	if len(t.pending) > 0 {
		rec := t.pending[0]
		t.pending = t.pending[1:]
		return rec, nil
	}
	return t.rd.next()
}
