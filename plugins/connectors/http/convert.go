package http

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// lookup follows a dot path into a decoded JSON value.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// timeLayouts are the timestamp forms accepted, tried in order; a form
// without a zone is UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// text is a JSON scalar as text: strings as they are, numbers as written.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// adder appends one converted value to its column's builder.
type adder func(array.Builder)

func appendNull(b array.Builder) { b.AppendNull() }

// convert converts one JSON value to field type dt (kind is the config's
// type name, which tells json from string); nothing is appended until the
// whole record has converted.
func convert(dt arrow.DataType, kind string, v any) (adder, error) {
	if v == nil {
		return appendNull, nil
	}
	s, ok := text(v)
	if kind == "json" || (!ok && dt.ID() == arrow.STRING) {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return func(b array.Builder) { b.(*array.StringBuilder).Append(string(raw)) }, nil
	}
	if !ok {
		return nil, fmt.Errorf("got a JSON %T, want a %s", v, kind)
	}
	switch dt := dt.(type) {
	case *arrow.StringType:
		return func(b array.Builder) { b.(*array.StringBuilder).Append(s) }, nil
	case *arrow.Int64Type:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int64", s)
		}
		return func(b array.Builder) { b.(*array.Int64Builder).Append(n) }, nil
	case *arrow.Float64Type:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a float64", s)
		}
		return func(b array.Builder) { b.(*array.Float64Builder).Append(f) }, nil
	case *arrow.BooleanType:
		t, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool", s)
		}
		return func(b array.Builder) { b.(*array.BooleanBuilder).Append(t) }, nil
	case *arrow.TimestampType:
		t, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		return func(b array.Builder) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMicro())) }, nil
	case *arrow.Date32Type:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date", s)
		}
		return func(b array.Builder) { b.(*array.Date32Builder).Append(arrow.Date32FromTime(t)) }, nil
	case *arrow.Decimal128Type:
		n, err := decimal(s, dt)
		if err != nil {
			return nil, err
		}
		return func(b array.Builder) { b.(*array.Decimal128Builder).Append(n) }, nil
	}
	return nil, fmt.Errorf("no conversion to %s", dt)
}

// decimal reads s exactly at dt's scale; more decimal places or more
// digits than the precision is an error, never a rounding.
func decimal(s string, dt *arrow.Decimal128Type) (decimal128.Num, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return decimal128.Num{}, fmt.Errorf("%q is not a decimal", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dt.Scale)), nil)))
	if !r.IsInt() {
		return decimal128.Num{}, fmt.Errorf("%q has more than %d decimal places", s, dt.Scale)
	}
	n := decimal128.FromBigInt(r.Num())
	if !n.FitsInPrecision(dt.Precision) {
		return decimal128.Num{}, fmt.Errorf("%q has more than %d digits", s, dt.Precision)
	}
	return n, nil
}

// cursorValue is a record's cursor as comparable text: timestamps in UTC
// RFC 3339 with microseconds (which sorts as time does), integers
// zero-padded, strings as they are.
func cursorValue(kind string, v any) (string, error) {
	s, ok := text(v)
	if !ok {
		return "", fmt.Errorf("cursor value %v is not a scalar", v)
	}
	switch kind {
	case "timestamp", "date":
		t, err := parseTime(s)
		if err != nil {
			return "", err
		}
		return t.Format("2006-01-02T15:04:05.000000Z"), nil
	case "int64":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("cursor %q is not an int64", s)
		}
		// Offset so that negative numbers sort too.
		return fmt.Sprintf("%020d", uint64(n)^(1<<63)), nil
	}
	return s, nil
}

// paramValue is a cursor as the server's since-parameter wants it.
func paramValue(kind, cursor string) string {
	if kind == "int64" {
		u, err := strconv.ParseUint(cursor, 10, 64)
		if err == nil {
			return strconv.FormatInt(int64(u^(1<<63)), 10)
		}
	}
	return cursor
}
