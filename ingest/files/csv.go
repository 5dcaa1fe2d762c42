package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// csvState is the resumable position of a CSV source.
type csvState struct {
	scanPos
	Records int64 `json:"records"`
}

func (st csvState) after(rec csvRecord) csvState {
	st.Records++
	st.scanPos = rec.end
	return st
}

func (st csvState) offset() int64 { return st.Offset }

func (rec csvRecord) position() string { return fmt.Sprintf("line %d", rec.line) }
func (rec csvRecord) rawBytes() []byte { return rec.raw }
func (rec csvRecord) endOffset() int64 { return rec.end.Offset }

// csvSource reads delimited text with a header line.
type csvSource struct {
	textFile[csvRecord, csvState]
	colOf []int // header position → schema column
}

func openCSV(path string, comma byte, declared *arrow.Schema, resume json.RawMessage, opts Options) (*csvSource, error) {
	s := &csvSource{}
	reopen := func(at csvState) recordReader[csvRecord] { return newCSVScanner(s.f, comma, at.scanPos) }
	err := s.open(path, resume, opts, reopen, func() error {
		sc := newCSVScanner(s.f, comma, scanPos{})
		s.rd = sc
		if err := sc.skipBOM(); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		hdr, err := sc.next()
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty: no header line")
		}
		if err != nil {
			return err
		}
		if hdr.problem != "" {
			return fmt.Errorf("reading the header line: %s", hdr.problem)
		}
		names, err := headerNames(hdr.fields)
		if err != nil {
			return err
		}
		return s.infer(names, declared)
	})
	if err != nil {
		return nil, err
	}
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
	err := s.sample(func(rec csvRecord) {
		if rec.problem != "" || len(rec.fields) != len(names) {
			return
		}
		for i, v := range rec.fields {
			if v != "" {
				masks[i] &= textMask(v)
			}
		}
	})
	if err != nil {
		return err
	}
	if err := s.decide(declared, names, masks); err != nil {
		return err
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

func (s *csvSource) Next(ctx context.Context) (ingest.Batch, error) {
	return s.next(ctx, s.convert)
}

// convert fills s.cells, all null, from rec, or says why rec is rejected.
// A record without a line break is the file's last: short of fields, or
// open in a quote, it was cut off.
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
