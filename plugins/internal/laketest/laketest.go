// Package laketest reads landed tables back for the plugins' tests.
package laketest

import (
	"context"
	"fmt"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// Column returns every value of col in ident, as Go values (strings for
// strings, int64 for integers, float64 for floats, the decimal's string for
// decimals, nil for nulls).
func Column(t testing.TB, sink *ingest.Sink, ident table.Identifier, col string) []any {
	t.Helper()
	ctx := context.Background()
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatalf("loading %v: %v", ident, err)
	}
	got, err := tbl.Scan(table.WithSelectedFields(col)).ToArrowTable(ctx)
	if err != nil {
		t.Fatalf("scanning %v: %v", ident, err)
	}
	defer got.Release()
	var out []any
	idx := got.Schema().FieldIndices(col)
	if len(idx) == 0 {
		t.Fatalf("%v has no column %q", ident, col)
	}
	for _, chunk := range got.Column(idx[0]).Data().Chunks() {
		for i := range chunk.Len() {
			out = append(out, value(chunk, i))
		}
	}
	return out
}

func value(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return a.ValueStr(i)
}

// Count is the number of rows of ident.
func Count(t testing.TB, sink *ingest.Sink, ident table.Identifier, col string) int {
	t.Helper()
	return len(Column(t, sink, ident, col))
}

// Distinct is how many distinct values col has.
func Distinct(values []any) int {
	seen := map[string]bool{}
	for _, v := range values {
		seen[fmt.Sprint(v)] = true
	}
	return len(seen)
}

// Sum adds numbers given as Go numbers or decimal strings, exactly.
func Sum(t testing.TB, values []any) *big.Rat {
	t.Helper()
	sum := new(big.Rat)
	for _, v := range values {
		switch v := v.(type) {
		case nil:
		case int64:
			sum.Add(sum, new(big.Rat).SetInt64(v))
		case float64:
			sum.Add(sum, new(big.Rat).SetFloat64(v))
		case string:
			r, ok := new(big.Rat).SetString(v)
			if !ok {
				t.Fatalf("summing: %q is not a number", v)
			}
			sum.Add(sum, r)
		default:
			t.Fatalf("summing: %T is not a number", v)
		}
	}
	return sum
}
