package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

// csvState is the resumable position of a CSV source.
type csvState struct {
	scanPos
	Records int64 `json:"records"`
}

// csvSource reads delimited text with a header line.
type csvSource struct {
	f       *os.File
	size    int64
	comma   byte
	sc      *csvScanner
	schema  *arrow.Schema
	cols    []column
	colOf   []int       // header position → schema column
	pending []csvRecord // read for inference, not yet returned
	rows    *rowBuilder
	cells   []arrowfill.Cell
	opts    Options
	state   csvState
	done    bool
}

func openCSV(path string, comma byte, declared *arrow.Schema, resume json.RawMessage, opts Options) (_ *csvSource, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := &csvSource{f: f, size: info.Size(), comma: comma, sc: newCSVScanner(f, comma, scanPos{}), opts: opts}
	if err := s.sc.skipBOM(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	hdr, err := s.sc.next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: no header line")
	}
	if err != nil {
		return nil, err
	}
	if hdr.problem != "" {
		return nil, fmt.Errorf("reading the header line: %s", hdr.problem)
	}
	names, err := headerNames(hdr.fields)
	if err != nil {
		return nil, err
	}
	if err := s.infer(names, declared); err != nil {
		return nil, err
	}
	if err := s.resume(resume); err != nil {
		return nil, err
	}
	s.rows = newRowBuilder(memory.DefaultAllocator, s.schema, s.cols)
	s.cells = make([]arrowfill.Cell, len(s.cols))
	return s, nil
}

// infer reads the sample and types each column by it; the sampled records
// are returned first by Next. With a declared schema, the declared columns
// keep their types and only the header's other columns are inferred.
func (s *csvSource) infer(names []string, declared *arrow.Schema) error {
	masks := make([]uint16, len(names))
	for i := range masks {
		masks[i] = anyKind
	}
	for len(s.pending) < s.opts.sampleRows() {
		rec, err := s.sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		s.pending = append(s.pending, rec)
		if rec.problem != "" || len(rec.fields) != len(names) {
			continue
		}
		for i, v := range rec.fields {
			if v != "" {
				masks[i] &= textMask(v)
			}
		}
	}
	if declared == nil {
		s.schema, s.cols = inferredSchema(names, masks, len(s.pending))
	} else {
		var err error
		if s.schema, s.cols, err = extend(declared, names, masks, len(s.pending), s.opts); err != nil {
			return err
		}
	}
	s.colOf = make([]int, len(names))
	for i, n := range names {
		idx := s.schema.FieldIndices(n)
		if len(idx) == 0 {
			return fmt.Errorf("column %q of the file is not in the table's schema %v", n, fieldNames(s.schema))
		}
		s.colOf[i] = idx[0]
	}
	return nil
}

// resume skips to the position a previous Next returned.
func (s *csvSource) resume(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var st csvState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("reading resume position: %w", err)
	}
	for len(s.pending) > 0 && s.pending[0].end.Offset <= st.Offset {
		s.pending = s.pending[1:]
	}
	if len(s.pending) == 0 && s.sc.pos.Offset != st.Offset {
		if _, err := s.f.Seek(st.Offset, io.SeekStart); err != nil {
			return fmt.Errorf("seeking to the resume position: %w", err)
		}
		s.sc = newCSVScanner(s.f, s.comma, st.scanPos)
	}
	s.state = st
	return nil
}

func (s *csvSource) Schema() *arrow.Schema { return s.schema }

func (s *csvSource) Progress() float64 {
	if s.size == 0 {
		return 1
	}
	return float64(s.sc.pos.Offset) / float64(s.size)
}

func (s *csvSource) Close() error {
	s.rows.release()
	return s.f.Close()
}

func (s *csvSource) Next(ctx context.Context) (ingest.Batch, error) {
	var b ingest.Batch
	for !s.done && s.rows.rows < s.opts.batchRows() && len(b.Rejects) < s.opts.batchRows() {
		if err := ctx.Err(); err != nil {
			return ingest.Batch{}, err
		}
		rec, err := s.nextRecord()
		if errors.Is(err, io.EOF) {
			s.done = true
			break
		}
		if err != nil {
			return ingest.Batch{}, err
		}
		s.state.Records++
		s.state.scanPos = rec.end
		pos := fmt.Sprintf("line %d", rec.line)
		if reason := s.convert(rec); reason != "" {
			b.Rejects = append(b.Rejects, ingest.Reject{Position: pos, Reason: reason, Raw: rec.raw})
			continue
		}
		s.rows.add(s.cells, pos)
	}
	return s.rows.batch(b, s.state)
}

func (s *csvSource) nextRecord() (csvRecord, error) {
	if len(s.pending) > 0 {
		rec := s.pending[0]
		s.pending = s.pending[1:]
		return rec, nil
	}
	return s.sc.next()
}

// convert fills s.cells from rec, or says why rec is rejected. A record
// without a line break is the file's last: short of fields, or open in a
// quote, it was cut off.
func (s *csvSource) convert(rec csvRecord) string {
	switch {
	case rec.problem != "" && !rec.terminated:
		return "truncated last record: " + rec.problem
	case rec.problem != "":
		return rec.problem
	case len(rec.fields) < len(s.colOf) && !rec.terminated:
		return fmt.Sprintf("truncated last record: %d of %d fields before the end of the file, which has no final line break", len(rec.fields), len(s.colOf))
	case len(rec.fields) != len(s.colOf):
		return fmt.Sprintf("%d fields, the header has %d", len(rec.fields), len(s.colOf))
	}
	for i := range s.cells {
		s.cells[i] = arrowfill.Cell{Null: true}
	}
	for i, v := range rec.fields {
		if v == "" {
			continue
		}
		c, err := s.cols[s.colOf[i]].convertText(v)
		if err != nil {
			if !rec.terminated {
				return err.Error() + " (in the last record, which has no final line break: the file may be truncated)"
			}
			return err.Error()
		}
		s.cells[s.colOf[i]] = c
	}
	return ""
}

// headerNames keeps the header's names as they are; an empty name becomes
// column_<n> and a repeated one gets a suffix, since a table needs unique
// column names.
func headerNames(fields []string) ([]string, error) {
	names := make([]string, len(fields))
	seen := map[string]bool{}
	for i, n := range fields {
		if !utf8.ValidString(n) {
			return nil, fmt.Errorf("header name %d is not valid UTF-8", i+1)
		}
		if n == "" {
			n = fmt.Sprintf("column_%d", i+1)
		}
		for base, k := n, 2; seen[n]; k++ {
			n = fmt.Sprintf("%s_%d", base, k)
		}
		seen[n] = true
		names[i] = n
	}
	return names, nil
}

func fieldNames(sc *arrow.Schema) []string {
	out := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		out[i] = f.Name
	}
	return out
}
