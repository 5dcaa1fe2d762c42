// Package arrowfill is what the text and JSON sources share to fill Arrow
// columns: the kinds of columns they fill, a converted value (Cell), and
// appending a row of them.
package arrowfill

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Kind is a column type that text and JSON values are converted to.
type Kind uint8

// The kinds, in the order the sources' inference masks use.
const (
	Bool Kind = iota
	Int32
	Int64
	Float32
	Float64
	Date
	Timestamp   // without zone: Iceberg timestamp
	TimestampTZ // with zone, stored as UTC: Iceberg timestamptz
	String
	// NumKinds counts the kinds.
	NumKinds
)

func (k Kind) String() string {
	return [...]string{"bool", "int32", "int64", "float32", "float64", "date", "timestamp", "timestamp with zone", "string"}[k]
}

// ArrowType is the column type of the kind.
func (k Kind) ArrowType() arrow.DataType {
	switch k {
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Int32:
		return arrow.PrimitiveTypes.Int32
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float32:
		return arrow.PrimitiveTypes.Float32
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case TimestampTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	default:
		return arrow.BinaryTypes.String
	}
}

// KindOf maps a declared column type to the kind that fills it.
func KindOf(t arrow.DataType) (Kind, error) {
	switch t.ID() {
	case arrow.BOOL:
		return Bool, nil
	case arrow.INT32:
		return Int32, nil
	case arrow.INT64:
		return Int64, nil
	case arrow.FLOAT32:
		return Float32, nil
	case arrow.FLOAT64:
		return Float64, nil
	case arrow.DATE32:
		return Date, nil
	case arrow.STRING:
		return String, nil
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		if ts.Unit != arrow.Microsecond {
			break
		}
		if ts.TimeZone == "" {
			return Timestamp, nil
		}
		return TimestampTZ, nil
	}
	return 0, fmt.Errorf("type %s cannot be filled from text or JSON values (want bool, int32, int64, float32, float64, date32, string or timestamp[us])", t)
}

// Cell is one converted value on its way into a column.
type Cell struct {
	Null bool
	I    int64 // ints, dates (days), timestamps (microseconds)
	F    float64
	B    bool
	S    string
}

// Append adds cells as one row to the first len(cells) fields of rb, whose
// types are the cells' kinds' ArrowType.
func Append(rb *array.RecordBuilder, cells []Cell) {
	for i, v := range cells {
		fb := rb.Field(i)
		if v.Null {
			fb.AppendNull()
			continue
		}
		switch b := fb.(type) {
		case *array.BooleanBuilder:
			b.Append(v.B)
		case *array.Int32Builder:
			b.Append(int32(v.I))
		case *array.Int64Builder:
			b.Append(v.I)
		case *array.Float32Builder:
			b.Append(float32(v.F))
		case *array.Float64Builder:
			b.Append(v.F)
		case *array.Date32Builder:
			b.Append(arrow.Date32(v.I))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v.I))
		case *array.StringBuilder:
			b.Append(v.S)
		}
	}
}
