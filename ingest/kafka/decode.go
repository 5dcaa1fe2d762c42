package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
	"github.com/lakehouse-go/lakehouse/ingest/internal/jsonobject"
)

// column is one column a record's JSON fields fill.
type column struct {
	name     string
	kind     arrowfill.Kind
	nullable bool
}

// decoder turns JSON objects into rows of a schema: top-level fields are
// columns, matched by name; a missing field is null.
type decoder struct {
	schema *arrow.Schema // the source columns
	full   *arrow.Schema // with the lineage columns: the table's
	cols   []column
	index  map[string]int
	cells  []arrowfill.Cell
}

func newDecoder(sc *arrow.Schema) (*decoder, error) {
	full, err := ingest.WithLineage(sc)
	if err != nil {
		return nil, err
	}
	d := &decoder{schema: sc, full: full, index: map[string]int{}, cells: make([]arrowfill.Cell, sc.NumFields())}
	for i, f := range sc.Fields() {
		k, err := arrowfill.KindOf(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		d.cols = append(d.cols, column{name: f.Name, kind: k, nullable: f.Nullable})
		d.index[f.Name] = i
	}
	return d, nil
}

// decode fills d.cells from one record value, or says why the record is
// rejected.
func (d *decoder) decode(value []byte) string {
	keys, vals, err := objectFields(value)
	if err != nil {
		return err.Error()
	}
	for i := range d.cells {
		d.cells[i] = arrowfill.Cell{Null: true}
	}
	for i, k := range keys {
		ci, ok := d.index[k]
		if !ok {
			return fmt.Sprintf("field %q is not a column of the table", k)
		}
		c, err := d.cols[ci].convert(vals[i])
		if err != nil {
			return err.Error()
		}
		d.cells[ci] = c
	}
	for i, c := range d.cols {
		if !c.nullable && d.cells[i].Null {
			return fmt.Sprintf("field %q is missing or null, the column is required", c.name)
		}
	}
	return ""
}

// append adds d.cells as a row to the first fields of rb.
func (d *decoder) append(rb *array.RecordBuilder) { arrowfill.Append(rb, d.cells) }

// objectFields splits a JSON object into its top-level keys and raw
// values, in order. A Kafka value may be empty or carry invalid UTF-8,
// which get reasons of their own.
func objectFields(raw []byte) ([]string, []json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil, errors.New("empty value")
	}
	if !utf8.Valid(raw) {
		return nil, nil, errors.New("invalid JSON: not valid UTF-8")
	}
	return jsonobject.Fields(raw)
}

// convert converts one JSON value. Numbers fill numeric columns only,
// strings fill strings, dates and timestamps; a string column takes any
// value as its JSON text (objects and arrays compacted).
func (c column) convert(v json.RawMessage) (arrowfill.Cell, error) {
	switch v[0] {
	case 'n':
		return arrowfill.Cell{Null: true}, nil
	case 't', 'f':
		switch c.kind {
		case arrowfill.Bool:
			return arrowfill.Cell{B: v[0] == 't'}, nil
		case arrowfill.String:
			return arrowfill.Cell{S: string(v)}, nil
		}
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return arrowfill.Cell{}, fmt.Errorf("field %q: %w", c.name, err)
		}
		return c.text(s)
	case '{', '[':
		if c.kind == arrowfill.String {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return arrowfill.Cell{}, fmt.Errorf("field %q: %w", c.name, err)
			}
			return arrowfill.Cell{S: buf.String()}, nil
		}
	default:
		if c.kind == arrowfill.String {
			return arrowfill.Cell{S: string(v)}, nil
		}
		return c.number(string(v))
	}
	return arrowfill.Cell{}, fmt.Errorf("field %q: %s is not a %s", c.name, short(string(v)), c.kind)
}

func (c column) number(n string) (arrowfill.Cell, error) {
	var v arrowfill.Cell
	var err error
	switch c.kind {
	case arrowfill.Int32:
		v.I, err = strconv.ParseInt(n, 10, 32)
	case arrowfill.Int64:
		v.I, err = strconv.ParseInt(n, 10, 64)
	case arrowfill.Float32:
		v.F, err = strconv.ParseFloat(n, 32)
	case arrowfill.Float64:
		v.F, err = strconv.ParseFloat(n, 64)
	default:
		err = errors.New("a number")
	}
	if err != nil {
		return v, fmt.Errorf("field %q: %s is not a valid %s", c.name, short(n), c.kind)
	}
	return v, nil
}

func (c column) text(s string) (arrowfill.Cell, error) {
	switch c.kind {
	case arrowfill.String:
		return arrowfill.Cell{S: s}, nil
	case arrowfill.Date:
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return arrowfill.Cell{I: t.Unix() / 86400}, nil
		}
	case arrowfill.Timestamp, arrowfill.TimestampTZ:
		t, zoned, ok := parseTimestamp(s)
		if ok && zoned == (c.kind == arrowfill.TimestampTZ) {
			return arrowfill.Cell{I: t.UnixMicro()}, nil
		}
		if ok && zoned {
			return arrowfill.Cell{}, fmt.Errorf("field %q: %s carries a zone, the column is a timestamp without zone", c.name, short(s))
		}
		if ok {
			return arrowfill.Cell{}, fmt.Errorf("field %q: %s has no zone, the column is a timestamp with zone", c.name, short(s))
		}
	}
	return arrowfill.Cell{}, fmt.Errorf("field %q: %s is not a valid %s", c.name, short(strconv.Quote(s)), c.kind)
}

var (
	zonedLayouts   = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"}
	unzonedLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}
)

// parseTimestamp reads RFC 3339 timestamps, with a T or a space between
// date and time; zoned ones are returned in UTC.
func parseTimestamp(s string) (t time.Time, zoned, ok bool) {
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true, true
		}
	}
	for _, l := range unzonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, false, true
		}
	}
	return time.Time{}, false, false
}

// short shows a value in a reason, cut when long.
func short(s string) string {
	const max = 60
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// infer types the fields of JSON objects: in the order they first appear,
// each field is a bool, int64, float64, timestamp with zone (RFC 3339
// strings with a zone) or string column, whichever fits every sampled
// value; objects, arrays and mixed values make string columns. Values that
// are not JSON objects are passed over: they will be rejects.
func infer(values [][]byte) (*arrow.Schema, error) {
	var names []string
	seen := map[string]int{}
	var masks []uint8
	objects := 0
	for _, v := range values {
		keys, vals, err := objectFields(v)
		if err != nil {
			continue
		}
		objects++
		for i, k := range keys {
			ci, ok := seen[k]
			if !ok {
				ci = len(names)
				seen[k] = ci
				names = append(names, k)
				masks = append(masks, anyMask)
			}
			masks[ci] &= maskOf(vals[i])
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no JSON object fields to infer a schema from in %d records (%d objects)", len(values), objects)
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: inferred(masks[i]), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// Inference masks: which column types a value fits.
const (
	mBool uint8 = 1 << iota
	mInt
	mFloat
	mTimestampTZ
	mString
	anyMask = mBool | mInt | mFloat | mTimestampTZ | mString
)

func maskOf(v json.RawMessage) uint8 {
	switch v[0] {
	case 'n':
		return anyMask
	case 't', 'f':
		return mBool | mString
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			if _, zoned, ok := parseTimestamp(s); ok && zoned {
				return mTimestampTZ | mString
			}
		}
		return mString
	case '{', '[':
		return mString
	}
	if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return mInt | mFloat | mString
	}
	return mFloat | mString
}

func inferred(mask uint8) arrow.DataType {
	switch {
	case mask == anyMask:
		return arrow.BinaryTypes.String
	case mask&mBool != 0:
		return arrow.FixedWidthTypes.Boolean
	case mask&mInt != 0:
		return arrow.PrimitiveTypes.Int64
	case mask&mFloat != 0:
		return arrow.PrimitiveTypes.Float64
	case mask&mTimestampTZ != 0:
		return arrowfill.TimestampTZ.ArrowType()
	}
	return arrow.BinaryTypes.String
}
