package files

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
	"github.com/lakehouse-go/lakehouse/ingest/internal/jsonobject"
)

// jsonSource reads JSON objects, one record each: one per line (NDJSON), or
// the elements of an array. Top-level fields are columns; nested objects and
// arrays are kept as JSON text.
type jsonSource struct {
	textFile[jsonElem, jsonState]
	array   bool
	index   map[string]int
	unknown string // why a field without a column is one, for reasons
}

func openJSON(path string, format Format, declared *arrow.Schema, resume json.RawMessage, opts Options) (*jsonSource, error) {
	s := &jsonSource{}
	err := s.open(path, resume, opts, s.reader, func() error {
		if format == JSON {
			var err error
			if s.array, err = startsWithBracket(s.f); err != nil {
				return err
			}
		}
		s.rd = s.reader(jsonState{})
		return s.infer(declared)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startsWithBracket tells a JSON array from objects one per line.
func startsWithBracket(f *os.File) (bool, error) {
	br := bufio.NewReader(f)
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			_, err := f.Seek(0, io.SeekStart)
			return c == '[', err
		}
	}
	_, err := f.Seek(0, io.SeekStart)
	return false, err
}

func (s *jsonSource) reader(at jsonState) recordReader[jsonElem] {
	if s.array {
		return newArrayReader(s.f, at)
	}
	return newLineReader(s.f, at)
}

// infer reads the sample and types each field by it, columns in the order
// the fields first appear; the sampled records are returned first by Next.
// With a declared schema, the declared columns keep their types and only
// the sample's other fields are inferred.
func (s *jsonSource) infer(declared *arrow.Schema) error {
	var names []string
	var masks []uint16
	seen := map[string]int{}
	err := s.sample(func(e jsonElem) {
		keys, vals, err := jsonobject.Fields(e.raw)
		if err != nil {
			return
		}
		for i, k := range keys {
			ci, ok := seen[k]
			if !ok {
				ci = len(names)
				seen[k] = ci
				names = append(names, k)
				masks = append(masks, anyKind)
			}
			masks[ci] &= jsonMask(vals[i])
		}
	})
	if err != nil {
		return err
	}
	if declared == nil && len(names) == 0 {
		return fmt.Errorf("no fields to infer a schema from in the first %d records", len(s.pending))
	}
	if err := s.decide(declared, names, masks); err != nil {
		return err
	}
	switch {
	case declared == nil:
		s.unknown = fmt.Sprintf("not among the fields of the first %d records, which decided the columns", len(s.pending))
	case s.opts.Extend:
		s.unknown = fmt.Sprintf("neither a column of the table nor among the fields of the first %d records", len(s.pending))
	default:
		s.unknown = "not a column of the table"
	}
	s.index = make(map[string]int, s.schema.NumFields())
	for i, f := range s.schema.Fields() {
		s.index[f.Name] = i
	}
	return nil
}

func (s *jsonSource) Next(ctx context.Context) (ingest.Batch, error) {
	return s.next(ctx, s.convert)
}

// convert fills s.cells, all null, from e, or says why e is rejected.
func (s *jsonSource) convert(e jsonElem) string {
	keys, vals, err := jsonobject.Fields(e.raw)
	if err != nil {
		if !e.terminated {
			return "truncated last record: the file ends inside it (" + err.Error() + ")"
		}
		return err.Error()
	}
	for i, k := range keys {
		ci, ok := s.index[k]
		if !ok {
			return fmt.Sprintf("field %q is %s", k, s.unknown)
		}
		c, err := s.cols[ci].convertJSON(vals[i])
		if err != nil {
			return err.Error()
		}
		s.cells[ci] = c
	}
	return ""
}

// jsonMask is the set of kinds a JSON value converts to for inference.
// Strings are dates, timestamps or strings, never numbers or booleans: the
// writer chose to quote them.
func jsonMask(v json.RawMessage) uint16 {
	switch v[0] {
	case 'n':
		return anyKind
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil || s == "" {
			return anyKind
		}
		return textMask(s) & (bit(arrowfill.Date) | bit(arrowfill.Timestamp) | bit(arrowfill.TimestampTZ) | bit(arrowfill.String))
	case 't', 'f':
		return bit(arrowfill.Bool) | bit(arrowfill.String)
	case '{', '[':
		return bit(arrowfill.String)
	}
	m := bit(arrowfill.String) | bit(arrowfill.Float64)
	if lit := string(v); isInteger(lit) {
		if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
			m |= bit(arrowfill.Int64)
		}
	}
	return m
}

// convertJSON converts one JSON value. Strings are read like CSV text, so
// "42" fills an integer column; an empty string is null outside string
// columns.
func (c column) convertJSON(v json.RawMessage) (arrowfill.Cell, error) {
	switch v[0] {
	case 'n':
		return arrowfill.Cell{Null: true}, nil
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return arrowfill.Cell{}, fmt.Errorf("column %q: %w", c.name, err)
		}
		if c.kind == arrowfill.String {
			return arrowfill.Cell{S: s}, nil
		}
		if s == "" {
			return arrowfill.Cell{Null: true}, nil
		}
		return c.convertText(s)
	case 't', 'f':
		switch c.kind {
		case arrowfill.Bool:
			return arrowfill.Cell{B: v[0] == 't'}, nil
		case arrowfill.String:
			return arrowfill.Cell{S: string(v)}, nil
		}
		return arrowfill.Cell{}, fmt.Errorf("column %q: %s is a boolean, the column is %s%s", c.name, v, c.kind, c.hint)
	case '{', '[':
		if c.kind == arrowfill.String {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return arrowfill.Cell{}, fmt.Errorf("column %q: %w", c.name, err)
			}
			return arrowfill.Cell{S: buf.String()}, nil
		}
		return arrowfill.Cell{}, fmt.Errorf("column %q: an object or array cannot fill a %s column%s", c.name, c.kind, c.hint)
	}
	switch c.kind {
	case arrowfill.String:
		return arrowfill.Cell{S: string(v)}, nil
	case arrowfill.Int32, arrowfill.Int64, arrowfill.Float32, arrowfill.Float64:
		return c.convertText(string(v))
	}
	return arrowfill.Cell{}, fmt.Errorf("column %q: %s is a number, the column is %s%s", c.name, v, c.kind, c.hint)
}
