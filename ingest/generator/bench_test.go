package generator_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec generator.Spec
	}{
		{"default", generator.Spec{}},
		{"orders=100k", generator.Spec{Customers: 20_000, Products: 2_000, Orders: 100_000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			var rows int64
			for b.Loop() {
				tables, err := generator.Generate(mem, bc.spec)
				if err != nil {
					b.Fatal(err)
				}
				rows = 0
				for _, t := range tables {
					rows += t.NumRows()
					t.Release()
				}
			}
			b.ReportMetric(float64(rows), "rows/op")
		})
	}
}
