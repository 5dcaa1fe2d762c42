package postgres

import (
	"fmt"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/jackc/pgx/v5/pgtype"
)

// Type mapping, PostgreSQL → Arrow:
//
//	smallint, integer        int32 (Iceberg has no 16-bit integer)
//	bigint                   int64
//	real, double precision   float32, float64
//	numeric(p,s), p ≤ 38     decimal128(p, s)
//	numeric (unconstrained)  utf8, the exact decimal text: no precision fits every value
//	boolean                  bool
//	text, varchar, char, name, citext, uuid, enums, json, jsonb, interval, …  utf8 (json as its text)
//	bytea                    binary
//	date                     date32
//	time                     time64[us]
//	timestamp                timestamp[us]
//	timestamptz              timestamp[us, UTC]
//	T[] of the above         list<T>; multi-dimensional arrays are flattened
//
// Values outside Arrow's range (±infinity dates and timestamps, NaN
// numerics) become nulls.

var utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// arrowType maps a column's type (pg_type.typname, and for arrays the
// element's typname) to Arrow. text says the column is selected as text
// (or text[]): the Arrow type is then utf8 (or list<utf8>).
func arrowType(typname, elem string, typmod int32) (dt arrow.DataType, text bool) {
	if elem != "" {
		inner, text := scalarType(elem, typmod)
		return arrow.ListOf(inner), text
	}
	return scalarType(typname, typmod)
}

func scalarType(typname string, typmod int32) (arrow.DataType, bool) {
	switch typname {
	case "int2", "int4":
		return arrow.PrimitiveTypes.Int32, false
	case "int8":
		return arrow.PrimitiveTypes.Int64, false
	case "float4":
		return arrow.PrimitiveTypes.Float32, false
	case "float8":
		return arrow.PrimitiveTypes.Float64, false
	case "bool":
		return arrow.FixedWidthTypes.Boolean, false
	case "numeric":
		if p, s, ok := numericTypmod(typmod); ok && p <= 38 && s >= 0 {
			return &arrow.Decimal128Type{Precision: p, Scale: s}, false
		}
		return arrow.BinaryTypes.String, true
	case "bytea":
		return arrow.BinaryTypes.Binary, false
	case "date":
		return arrow.FixedWidthTypes.Date32, false
	case "time":
		return arrow.FixedWidthTypes.Time64us, false
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond}, false
	case "timestamptz":
		return utcMicros, false
	case "text", "varchar", "bpchar", "name":
		return arrow.BinaryTypes.String, false
	}
	return arrow.BinaryTypes.String, true
}

// numericTypmod decodes numeric(p,s) from its type modifier.
func numericTypmod(typmod int32) (p, s int32, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	return (t >> 16) & 0xffff, int32(int16(t & 0xffff)), true
}

// binding is where one column of a row is scanned and how it is appended
// to the column's builder.
type binding struct {
	dest any
	add  func(array.Builder) error
}

// bind makes the binding of a column of Arrow type dt.
func bind(dt arrow.DataType) (binding, error) {
	if lt, ok := dt.(*arrow.ListType); ok {
		return bindList(lt.Elem())
	}
	switch dt := dt.(type) {
	case *arrow.Int32Type:
		return scalar(addInt4), nil
	case *arrow.Int64Type:
		return scalar(addInt8), nil
	case *arrow.Float32Type:
		return scalar(addFloat4), nil
	case *arrow.Float64Type:
		return scalar(addFloat8), nil
	case *arrow.BooleanType:
		return scalar(addBool), nil
	case *arrow.StringType:
		return scalar(addText), nil
	case *arrow.BinaryType:
		return scalar(addBytea), nil
	case *arrow.Date32Type:
		return scalar(addDate), nil
	case *arrow.Time64Type:
		return scalar(addTime), nil
	case *arrow.TimestampType:
		if dt.TimeZone != "" {
			return scalar(addTimestamptz), nil
		}
		return scalar(addTimestamp), nil
	case *arrow.Decimal128Type:
		return scalar(addNumeric(dt.Scale)), nil
	}
	return binding{}, fmt.Errorf("no binding for Arrow type %s", dt)
}

func bindList(elem arrow.DataType) (binding, error) {
	switch dt := elem.(type) {
	case *arrow.Int32Type:
		return list(addInt4), nil
	case *arrow.Int64Type:
		return list(addInt8), nil
	case *arrow.Float32Type:
		return list(addFloat4), nil
	case *arrow.Float64Type:
		return list(addFloat8), nil
	case *arrow.BooleanType:
		return list(addBool), nil
	case *arrow.StringType:
		return list(addText), nil
	case *arrow.BinaryType:
		return list(addBytea), nil
	case *arrow.Date32Type:
		return list(addDate), nil
	case *arrow.Time64Type:
		return list(addTime), nil
	case *arrow.TimestampType:
		if dt.TimeZone != "" {
			return list(addTimestamptz), nil
		}
		return list(addTimestamp), nil
	case *arrow.Decimal128Type:
		return list(addNumeric(dt.Scale)), nil
	}
	return binding{}, fmt.Errorf("no binding for Arrow list of %s", elem)
}

func scalar[T any](add func(array.Builder, T) error) binding {
	dest := new(T)
	return binding{dest: dest, add: func(b array.Builder) error { return add(b, *dest) }}
}

func list[T any](add func(array.Builder, T) error) binding {
	dest := new(pgtype.Array[T])
	return binding{dest: dest, add: func(b array.Builder) error {
		lb := b.(*array.ListBuilder)
		if !dest.Valid {
			lb.AppendNull()
			return nil
		}
		lb.Append(true)
		vb := lb.ValueBuilder()
		for _, e := range dest.Elements {
			if err := add(vb, e); err != nil {
				return err
			}
		}
		return nil
	}}
}

func addInt4(b array.Builder, v pgtype.Int4) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.Int32Builder).Append(v.Int32)
	return nil
}

func addInt8(b array.Builder, v pgtype.Int8) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.Int64Builder).Append(v.Int64)
	return nil
}

func addFloat4(b array.Builder, v pgtype.Float4) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.Float32Builder).Append(v.Float32)
	return nil
}

func addFloat8(b array.Builder, v pgtype.Float8) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.Float64Builder).Append(v.Float64)
	return nil
}

func addBool(b array.Builder, v pgtype.Bool) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.BooleanBuilder).Append(v.Bool)
	return nil
}

func addText(b array.Builder, v pgtype.Text) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.StringBuilder).Append(v.String)
	return nil
}

func addBytea(b array.Builder, v []byte) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	b.(*array.BinaryBuilder).Append(v)
	return nil
}

func addDate(b array.Builder, v pgtype.Date) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		b.AppendNull()
		return nil
	}
	b.(*array.Date32Builder).Append(arrow.Date32FromTime(v.Time))
	return nil
}

func addTime(b array.Builder, v pgtype.Time) error {
	if !v.Valid {
		b.AppendNull()
		return nil
	}
	b.(*array.Time64Builder).Append(arrow.Time64(v.Microseconds))
	return nil
}

func addTimestamp(b array.Builder, v pgtype.Timestamp) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		b.AppendNull()
		return nil
	}
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.Time.UnixMicro()))
	return nil
}

func addTimestamptz(b array.Builder, v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		b.AppendNull()
		return nil
	}
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.Time.UnixMicro()))
	return nil
}

// addNumeric appends numerics at the column's scale: PostgreSQL has already
// rounded them to it.
func addNumeric(scale int32) func(array.Builder, pgtype.Numeric) error {
	ten := big.NewInt(10)
	return func(b array.Builder, v pgtype.Numeric) error {
		if !v.Valid || v.NaN || v.InfinityModifier != pgtype.Finite {
			b.AppendNull()
			return nil
		}
		unscaled := new(big.Int).Set(v.Int)
		shift := int64(v.Exp) + int64(scale)
		switch {
		case shift > 0:
			unscaled.Mul(unscaled, new(big.Int).Exp(ten, big.NewInt(shift), nil))
		case shift < 0:
			d := new(big.Int).Exp(ten, big.NewInt(-shift), nil)
			if new(big.Int).Rem(unscaled, d).Sign() != 0 {
				return fmt.Errorf("numeric %se%d has more than %d decimal places", v.Int, v.Exp, scale)
			}
			unscaled.Quo(unscaled, d)
		}
		b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(unscaled))
		return nil
	}
}
