package files

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

// column is one column of a text-based source: its kind and how its values
// were decided, for the reasons of rejects.
type column struct {
	name string
	kind arrowfill.Kind
	hint string // appended to conversion errors, e.g. "(inferred from the first 1000 records)"
}

// convertText converts one non-empty text value.
func (c column) convertText(s string) (arrowfill.Cell, error) {
	var v arrowfill.Cell
	ok := true
	switch c.kind {
	case arrowfill.Bool:
		v.B, ok = parseBool(s)
	case arrowfill.Int32, arrowfill.Int64:
		bits := 64
		if c.kind == arrowfill.Int32 {
			bits = 32
		}
		var err error
		ok = isInteger(s)
		if ok {
			v.I, err = strconv.ParseInt(s, 10, bits)
			ok = err == nil
		}
	case arrowfill.Float32, arrowfill.Float64:
		bits := 64
		if c.kind == arrowfill.Float32 {
			bits = 32
		}
		var err error
		ok = isDecimal(s)
		if ok {
			v.F, err = strconv.ParseFloat(s, bits)
			ok = err == nil
		}
	case arrowfill.Date:
		t, dok := parseDate(s)
		ok, v.I = dok, t.Unix()/86400
	case arrowfill.Timestamp, arrowfill.TimestampTZ:
		t, zoned, tok := parseTimestamp(s)
		if tok && zoned != (c.kind == arrowfill.TimestampTZ) {
			if zoned {
				return v, fmt.Errorf("column %q: %s carries a zone, the column is a timestamp without zone%s", c.name, quote(s), c.hint)
			}
			return v, fmt.Errorf("column %q: %s has no zone, the column is a timestamp with zone%s", c.name, quote(s), c.hint)
		}
		ok, v.I = tok, t.UnixMicro()
	default:
		if !utf8.ValidString(s) {
			return v, fmt.Errorf("column %q: value is not valid UTF-8", c.name)
		}
		v.S = s
	}
	if !ok {
		return v, fmt.Errorf("column %q: %s is not a valid %s%s", c.name, quote(s), c.kind, c.hint)
	}
	return v, nil
}

// quote shows a value in a reason, shortened when long.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// rowBuilder collects converted rows into record batches.
type rowBuilder struct {
	schema    *arrow.Schema
	cols      []column
	rb        *array.RecordBuilder
	positions []string
	rows      int
}

func newRowBuilder(mem memory.Allocator, sc *arrow.Schema, cols []column) *rowBuilder {
	return &rowBuilder{schema: sc, cols: cols, rb: array.NewRecordBuilder(mem, sc)}
}

// add appends one row; cells are column for column.
func (r *rowBuilder) add(cells []arrowfill.Cell, position string) {
	arrowfill.Append(r.rb, cells)
	r.positions = append(r.positions, position)
	r.rows++
}

// flush returns the rows added since the last flush, or nil when none.
func (r *rowBuilder) flush() (arrow.RecordBatch, []string) {
	if r.rows == 0 {
		return nil, nil
	}
	rec := r.rb.NewRecordBatch()
	pos := r.positions
	r.positions, r.rows = nil, 0
	return rec, pos
}

func (r *rowBuilder) release() { r.rb.Release() }

// batch completes b, a step's rejects, with the rows added since the last
// flush and the source's state after the step as its position; io.EOF
// when the step read nothing.
func (r *rowBuilder) batch(b ingest.Batch, state any) (ingest.Batch, error) {
	b.Records, b.Positions = r.flush()
	if b.Records == nil && len(b.Rejects) == 0 {
		return ingest.Batch{}, io.EOF
	}
	pos, err := json.Marshal(state)
	if err != nil {
		if b.Records != nil {
			b.Records.Release()
		}
		return ingest.Batch{}, fmt.Errorf("recording the source's position: %w", err)
	}
	b.Position = pos
	return b, nil
}

// columnsFor describes the columns of a declared schema.
func columnsFor(sc *arrow.Schema) ([]column, error) {
	cols := make([]column, sc.NumFields())
	for i, f := range sc.Fields() {
		k, err := arrowfill.KindOf(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols[i] = column{name: f.Name, kind: k, hint: " (the column's type in the table)"}
	}
	return cols, nil
}

// inferredSchema builds the schema and columns of inferred kinds.
func inferredSchema(names []string, masks []uint16, sampled int) (*arrow.Schema, []column) {
	fields := make([]arrow.Field, len(names))
	cols := make([]column, len(names))
	hint := fmt.Sprintf(" (type inferred from the first %d records)", sampled)
	for i, n := range names {
		k := inferKind(masks[i])
		fields[i] = arrow.Field{Name: n, Type: k.ArrowType(), Nullable: true}
		cols[i] = column{name: n, kind: k, hint: hint}
	}
	return arrow.NewSchema(fields, nil), cols
}

// extend is declared (the table's columns) plus the sampled columns it
// lacks, typed by inference: a source in a table whose zone evolves adds
// them to the table, anywhere else the landing quarantines the source.
func extend(declared *arrow.Schema, names []string, masks []uint16, sampled int, opts Options) (*arrow.Schema, []column, error) {
	cols, err := columnsFor(declared)
	if err != nil {
		return nil, nil, err
	}
	if !opts.Extend {
		return declared, cols, nil
	}
	fields := declared.Fields()
	var extraNames []string
	var extraMasks []uint16
	for i, n := range names {
		if len(declared.FieldIndices(n)) == 0 {
			extraNames = append(extraNames, n)
			extraMasks = append(extraMasks, masks[i])
		}
	}
	if len(extraNames) == 0 {
		return declared, cols, nil
	}
	extra, extraCols := inferredSchema(extraNames, extraMasks, sampled)
	return arrow.NewSchema(append(fields, extra.Fields()...), nil), append(cols, extraCols...), nil
}
