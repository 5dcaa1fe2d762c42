package generator_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

// small is quick to generate but still exercises every code path.
func small() generator.Spec {
	return generator.Spec{Customers: 200, Products: 60, Orders: 1_000, BatchRows: 4_096}
}

// generate runs Generate with a checked allocator and fails the test if any
// Arrow memory is still held once the test and its cleanups are done.
func generate(t testing.TB, spec generator.Spec) []*generator.Table {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	tables, err := generator.Generate(mem, spec)
	if err != nil {
		t.Fatalf("generating: %v", err)
	}
	t.Cleanup(func() {
		for _, tbl := range tables {
			tbl.Release()
		}
	})
	return tables
}

func byName(t testing.TB, tables []*generator.Table, name string) *generator.Table {
	t.Helper()
	for _, tbl := range tables {
		if tbl.Name == name {
			return tbl
		}
	}
	t.Fatalf("no table %q", name)
	return nil
}

// values reads column name of every batch of tbl into one slice; valid[i]
// is false where the value is null.
func values[A arrow.Array, V any](t testing.TB, tbl *generator.Table, name string, get func(A, int) V) (vals []V, valid []bool) {
	t.Helper()
	idx := tbl.Schema.FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("table %s: no column %q", tbl.Name, name)
	}
	for _, rec := range tbl.Records {
		a, ok := rec.Column(idx[0]).(A)
		if !ok {
			t.Fatalf("table %s column %s is %T", tbl.Name, name, rec.Column(idx[0]))
		}
		for i := range a.Len() {
			vals = append(vals, get(a, i))
			valid = append(valid, a.IsValid(i))
		}
	}
	return vals, valid
}

func strs(t testing.TB, tbl *generator.Table, name string) ([]string, []bool) {
	return values(t, tbl, name, (*array.String).Value)
}

func floats(t testing.TB, tbl *generator.Table, name string) ([]float64, []bool) {
	return values(t, tbl, name, (*array.Float64).Value)
}

func ints(t testing.TB, tbl *generator.Table, name string) ([]int32, []bool) {
	return values(t, tbl, name, (*array.Int32).Value)
}

func times(t testing.TB, tbl *generator.Table, name string) ([]arrow.Timestamp, []bool) {
	return values(t, tbl, name, (*array.Timestamp).Value)
}

func set(vals []string) map[string]bool {
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}
