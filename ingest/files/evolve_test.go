package files_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// writeParquetColumns writes one row group of string columns, row by row.
func writeParquetColumns(t *testing.T, names []string, rows [][]string) string {
	t.Helper()
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	return writeParquet(t, "more.parquet", arrow.NewSchema(fields, nil), func(b *array.RecordBuilder) {
		for _, r := range rows {
			for i, v := range r {
				b.Field(i).(*array.StringBuilder).Append(v)
			}
		}
	})
}

func TestFilesWithNewColumnsEvolveARawTableAndAreQuarantinedElsewhere(t *testing.T) {
	sink := stackSink(t)
	first := writeText(t, "a.csv", "sku,name\nA1,apple\nB2,banana\n")
	// Each later file brings a column the table does not have yet.
	later := []string{
		writeText(t, "b.csv", "sku,name,price\nC3,cherry,1.25\n"),
		writeText(t, "c.ndjson", `{"sku":"D4","name":"date","colour":"brown"}`+"\n"),
		writeParquetColumns(t, []string{"sku", "origin"}, [][]string{{"E5", "Spain"}, {"F6", "Chile"}}),
	}

	t.Run("in raw the table gains each file's new columns and keeps every row", func(t *testing.T) {
		ident := table.Identifier{"raw", "fruit_evolving"}
		cfg := files.Config{Table: ident}
		land(t, sink, cfg, first)
		reps := land(t, sink, cfg, later...)
		for _, r := range reps {
			if r.Quarantined != 0 || r.Accepted == 0 {
				t.Fatalf("%s: %+v, want every record accepted", r.Path, r.Report)
			}
		}
		got := scan(t, sink, ident)
		defer got.Release()
		if got.NumRows() != 6 {
			t.Fatalf("%d rows, want 6", got.NumRows())
		}
		values := map[string]map[string]string{} // sku → column → value
		for _, col := range []string{"sku", "name", "price", "colour", "origin"} {
			idx := got.Schema().FieldIndices(col)
			if len(idx) == 0 {
				t.Fatalf("column %q missing from %v", col, got.Schema())
			}
		}
		skus := got.Column(got.Schema().FieldIndices("sku")[0]).Data()
		for _, col := range []string{"price", "colour", "origin"} {
			data := got.Column(got.Schema().FieldIndices(col)[0]).Data()
			row := 0
			for ci, ch := range data.Chunks() {
				sk := skus.Chunk(ci)
				for i := range ch.Len() {
					if !ch.IsNull(i) {
						if values[sk.ValueStr(i)] == nil {
							values[sk.ValueStr(i)] = map[string]string{}
						}
						values[sk.ValueStr(i)][col] = ch.ValueStr(i)
					}
					row++
				}
			}
		}
		want := map[string]map[string]string{"C3": {"price": "1.25"}, "D4": {"colour": "brown"}, "E5": {"origin": "Spain"}, "F6": {"origin": "Chile"}}
		for sku, cols := range want {
			for col, v := range cols {
				if values[sku][col] != v {
					t.Errorf("%s.%s = %q, want %q (all: %v)", sku, col, values[sku][col], v, values)
				}
			}
		}
		if len(values) != len(want) {
			t.Errorf("rows with a value in a new column: %v, want only %v", values, want)
		}
	})

	t.Run("in cleansed a file with a new column goes whole to quarantine, with the reason", func(t *testing.T) {
		ident := table.Identifier{"cleansed", "fruit_fixed"}
		cfg := files.Config{Table: ident}
		land(t, sink, cfg, first)
		reps := land(t, sink, cfg, later[0])
		if r := reps[0]; r.Accepted != 0 || r.Quarantined != 1 {
			t.Fatalf("report %+v, want the one record quarantined", r.Report)
		}
		q := scan(t, sink, ingest.QuarantineTable(ident))
		defer q.Release()
		reason := q.Column(q.Schema().FieldIndices("reason")[0]).Data().Chunk(0).ValueStr(0)
		if !strings.Contains(reason, "price") {
			t.Fatalf("quarantine reason %q does not name the new column", reason)
		}
		tbl := scan(t, sink, ident)
		defer tbl.Release()
		if tbl.NumRows() != 2 || len(tbl.Schema().FieldIndices("price")) != 0 {
			t.Fatalf("cleansed table changed: %d rows, schema %v", tbl.NumRows(), tbl.Schema())
		}
	})
}
