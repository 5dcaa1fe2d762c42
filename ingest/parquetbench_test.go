package ingest_test

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	pgo "github.com/parquet-go/parquet-go"
	pgozstd "github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

// The encoders are compared the way iceberg-go writes data files: zstd at
// the default level, dictionary pages, row groups of up to 1 Mi rows, and
// each column's Iceberg field id in the Parquet schema.
const benchRowGroup = 1 << 20

// benchEvents generates about a million generator events.
func benchEvents(b *testing.B) ([]arrow.RecordBatch, int64) {
	b.Helper()
	spec := generator.DefaultSpec()
	spec.Orders = 125_000
	tables, err := generator.Generate(memory.DefaultAllocator, spec)
	if err != nil {
		b.Fatal(err)
	}
	var events []arrow.RecordBatch
	for _, t := range tables {
		if t.Name == "events" {
			events, t.Records = t.Records, nil
		}
		t.Release()
	}
	b.Cleanup(func() {
		for _, r := range events {
			r.Release()
		}
	})
	var size int64
	for _, r := range events {
		for _, c := range r.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					size += int64(buf.Len())
				}
			}
		}
	}
	return events, size
}

// withFieldIDs numbers sc's columns from 1, as a new Iceberg table does,
// in the metadata key pqarrow turns into Parquet field ids.
func withFieldIDs(sc *arrow.Schema) *arrow.Schema {
	fields := sc.Fields()
	for i := range fields {
		fields[i].Metadata = arrow.NewMetadata([]string{"PARQUET:field_id"}, []string{strconv.Itoa(i + 1)})
	}
	return arrow.NewSchema(fields, nil)
}

func encodePqarrow(w io.Writer, sc *arrow.Schema, recs []arrow.RecordBatch) error {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(benchRowGroup),
		parquet.WithStats(true),
	)
	fw, err := pqarrow.NewFileWriter(sc, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := fw.WriteBuffered(array.NewRecordBatch(sc, r.Columns(), r.NumRows())); err != nil {
			return err
		}
	}
	return fw.Close()
}

// pgoSchema is sc as a parquet-go schema with field ids; parquet-go orders
// a group's columns by name, so index maps sc's columns to its leaves.
func pgoSchema(sc *arrow.Schema) (*pgo.Schema, []int, error) {
	g := pgo.Group{}
	for i, f := range sc.Fields() {
		var n pgo.Node
		switch t := f.Type.(type) {
		case *arrow.StringType:
			n = pgo.Encoded(pgo.String(), &pgo.RLEDictionary)
		case *arrow.Float64Type:
			n = pgo.Leaf(pgo.DoubleType)
		case *arrow.Int64Type:
			n = pgo.Leaf(pgo.Int64Type)
		case *arrow.TimestampType:
			n = pgo.Timestamp(pgo.Microsecond)
		default:
			return nil, nil, fmt.Errorf("column %s: no parquet-go mapping for %s", f.Name, t)
		}
		if f.Nullable {
			n = pgo.Optional(n)
		}
		g[f.Name] = pgo.FieldID(n, i+1)
	}
	s := pgo.NewSchema("table", g)
	index := make([]int, sc.NumFields())
	for leaf, path := range s.Columns() {
		index[sc.FieldIndices(path[0])[0]] = leaf
	}
	return s, index, nil
}

func encodeParquetGo(w io.Writer, sc *arrow.Schema, recs []arrow.RecordBatch) error {
	s, index, err := pgoSchema(sc)
	if err != nil {
		return err
	}
	pw := pgo.NewWriter(w, s, pgo.Compression(&pgozstd.Codec{Level: pgozstd.DefaultLevel}), pgo.MaxRowsPerRowGroup(benchRowGroup))
	var vals []pgo.Value
	rows := 0
	for _, r := range recs {
		if rows+int(r.NumRows()) > benchRowGroup {
			if err := pw.Flush(); err != nil {
				return err
			}
			rows = 0
		}
		cols := pw.ColumnWriters()
		for c, col := range r.Columns() {
			leaf, def := index[c], 0
			if sc.Field(c).Nullable {
				def = 1
			}
			vals = arrowValues(vals[:0], col, leaf, def)
			if _, err := cols[leaf].WriteRowValues(vals); err != nil {
				return fmt.Errorf("writing column %s: %w", sc.Field(c).Name, err)
			}
		}
		rows += int(r.NumRows())
	}
	return pw.Close()
}

// arrowValues converts one Arrow column into parquet-go values of leaf.
func arrowValues(dst []pgo.Value, col arrow.Array, leaf, def int) []pgo.Value {
	for i := range col.Len() {
		if col.IsNull(i) {
			dst = append(dst, pgo.NullValue().Level(0, 0, leaf))
			continue
		}
		var v pgo.Value
		switch a := col.(type) {
		case *array.String:
			offs := a.ValueOffsets()
			v = pgo.ByteArrayValue(a.ValueBytes()[offs[i]-offs[0] : offs[i+1]-offs[0]])
		case *array.Float64:
			v = pgo.DoubleValue(a.Value(i))
		case *array.Int64:
			v = pgo.Int64Value(a.Value(i))
		case *array.Timestamp:
			v = pgo.Int64Value(int64(a.Value(i)))
		}
		dst = append(dst, v.Level(0, def, leaf))
	}
	return dst
}

// checkEncoded reads a file back with arrow-go: every row there, every
// column with the field id of its Arrow column.
func checkEncoded(b *testing.B, data []byte, sc *arrow.Schema, rows int64) {
	b.Helper()
	r, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if r.NumRows() != rows {
		b.Fatalf("file has %d rows, want %d", r.NumRows(), rows)
	}
	root := r.MetaData().Schema.Root()
	for i := range root.NumFields() {
		f := root.Field(i)
		idx := sc.FieldIndices(f.Name())
		if len(idx) != 1 || f.FieldID() != int32(idx[0]+1) {
			b.Fatalf("column %s has field id %d, want %d", f.Name(), f.FieldID(), idx[0]+1)
		}
	}
	for c := range r.MetaData().Schema.NumColumns() {
		cc, err := r.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			b.Fatal(err)
		}
		if cc.Compression() != compress.Codecs.Zstd {
			b.Fatalf("column %d is %v, want zstd", c, cc.Compression())
		}
	}
}

func BenchmarkParquetEncode(b *testing.B) {
	recs, size := benchEvents(b)
	sc := withFieldIDs(recs[0].Schema())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for _, enc := range []struct {
		name   string
		encode func(io.Writer, *arrow.Schema, []arrow.RecordBatch) error
	}{{"pqarrow", encodePqarrow}, {"parquet-go", encodeParquetGo}} {
		b.Run(enc.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := enc.encode(&buf, sc, recs); err != nil {
				b.Fatal(err)
			}
			checkEncoded(b, buf.Bytes(), sc, rows)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf.Reset()
				if err := enc.encode(&buf, sc, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/(1<<20), "file-MiB")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
