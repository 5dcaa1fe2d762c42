package ingest_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

func openSink(t *testing.T, opts ...ingest.Option) *ingest.Sink {
	t.Helper()
	sink, err := ingest.Open(context.Background(), stacktest.Logger(), lake.CatalogURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

func planFiles(t *testing.T, tbl *table.Table, opts ...table.ScanOption) []table.FileScanTask {
	t.Helper()
	tasks, err := tbl.Scan(opts...).PlanFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestNewTablesWriteZstdParquetAndDeclareTheTargetFileSize(t *testing.T) {
	ctx := context.Background()
	sink := openSink(t)
	rec := sampleBatch(t, memory.NewGoAllocator(), 3000, 0)
	defer rec.Release()
	ident := table.Identifier{"exploration", "writer_zstd"}
	if _, err := sink.AppendOnce(ctx, ident, rec.Schema(), []arrow.RecordBatch{rec}, "b1"); err != nil {
		t.Fatal(err)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	props := tbl.Properties()
	if props[table.ParquetCompressionKey] != "zstd" || props[table.WriteTargetFileSizeBytesKey] != "134217728" {
		t.Fatalf("table properties: %v", props)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tasks := planFiles(t, tbl)
	if len(tasks) == 0 {
		t.Fatal("no data files")
	}
	for _, task := range tasks {
		f, err := fs.Open(task.File.FilePath())
		if err != nil {
			t.Fatal(err)
		}
		r, err := file.NewParquetReader(f)
		if err != nil {
			t.Fatal(err)
		}
		md := r.MetaData()
		for rg := range md.NumRowGroups() {
			for c := range md.Schema.NumColumns() {
				cc, err := md.RowGroup(rg).ColumnChunk(c)
				if err != nil {
					t.Fatal(err)
				}
				if cc.Compression() != compress.Codecs.Zstd {
					t.Errorf("%s row group %d column %d: codec %v, want zstd", task.File.FilePath(), rg, c, cc.Compression())
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParsePartitionSpec(t *testing.T) {
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "event_ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 2, Name: "country", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "customer_id", Type: iceberg.PrimitiveTypes.Int64},
		iceberg.NestedField{ID: 4, Name: "sku", Type: iceberg.PrimitiveTypes.String},
	)
	for _, tc := range []struct {
		name   string
		fields []string
		want   string // "name:transform:source" per field, or the error's text
	}{
		{"no fields is the unpartitioned spec", nil, ""},
		{"a bare column is identity", []string{"country"}, "country:identity:2"},
		{"day names the field after the unit", []string{"day(event_ts)"}, "event_ts_day:day:1"},
		{"hour names the field after the unit", []string{"hour(event_ts)"}, "event_ts_hour:hour:1"},
		{"month names the field after the unit", []string{"month(event_ts)"}, "event_ts_month:month:1"},
		{"year names the field after the unit", []string{"year(event_ts)"}, "event_ts_year:year:1"},
		{"two time units of one column are redundant", []string{"day(event_ts)", "hour(event_ts)"}, "redundant"},
		{"bucket and truncate take a width first", []string{"bucket(16, customer_id)", "truncate(10, sku)", "identity(country)"},
			"customer_id_bucket:bucket[16]:3 sku_trunc:truncate[10]:4 country:identity:2"},
		{"an unknown column is an error", []string{"day(created)"}, `no column "created"`},
		{"a transform that does not fit the type is an error", []string{"day(country)"}, "does not apply"},
		{"an unknown transform is an error", []string{"week(event_ts)"}, "unknown transform week"},
		{"a bucket without width is an error", []string{"bucket(customer_id)"}, "takes a width"},
		{"a zero width is an error", []string{"truncate(0, sku)"}, "positive integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ingest.ParsePartitionSpec(sc, tc.fields...)
			if err != nil {
				if !errors.Is(err, ingest.ErrPartitionSpec) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want ErrPartitionSpec with %q", err, tc.want)
				}
				return
			}
			var got []string
			for _, f := range spec.Fields() {
				got = append(got, f.Name+":"+f.Transform.String()+":"+itoa(f.SourceID()))
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("spec %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// eventsBatch has n events per day for days days from 2025-03-01, UTC.
func eventsBatch(mem memory.Allocator, days, n int) arrow.RecordBatch {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for d := range days {
		for i := range n {
			ts := start.AddDate(0, 0, d).Add(time.Duration(i) * time.Minute)
			b.Field(0).(*array.Int64Builder).Append(int64(d*n + i))
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
		}
	}
	return b.NewRecordBatch()
}

func TestDeclaredDayPartitioningWritesAFilePerDayAndPrunesScans(t *testing.T) {
	ctx := context.Background()
	sink := openSink(t)
	rec := eventsBatch(memory.NewGoAllocator(), 3, 500)
	defer rec.Release()
	ident := table.Identifier{"exploration", "writer_by_day"}
	if _, err := sink.EnsureTable(ctx, ident, rec.Schema(), ingest.PartitionBy("day(event_ts)")); err != nil {
		t.Fatal(err)
	}
	res, err := sink.AppendOnce(ctx, ident, rec.Schema(), []arrow.RecordBatch{rec}, "days")
	if err != nil || res.Rows != 1500 {
		t.Fatalf("append: %+v, %v", res, err)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	spec := tbl.Spec()
	if spec.NumFields() != 1 || spec.Field(0).Name != "event_ts_day" {
		t.Fatalf("table spec %v", spec)
	}
	perDay := map[any]int64{}
	tasks := planFiles(t, tbl)
	for _, task := range tasks {
		perDay[task.File.Partition()[spec.Field(0).FieldID]] += task.File.Count()
	}
	if len(tasks) != 3 || len(perDay) != 3 {
		t.Fatalf("%d files over days %v, want one file for each of 3 days", len(tasks), perDay)
	}
	for day, n := range perDay {
		if n != 500 {
			t.Fatalf("day %v has %d rows, want 500", day, n)
		}
	}
	day2 := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("event_ts"), "2025-03-02T00:00:00+00:00"),
		iceberg.LessThan(iceberg.Reference("event_ts"), "2025-03-03T00:00:00+00:00"))
	pruned := planFiles(t, tbl, table.WithRowFilter(day2))
	if len(pruned) != 1 || pruned[0].File.Count() != 500 {
		t.Fatalf("scan of 2025-03-02 planned %d files, want the one file of that day", len(pruned))
	}
	got, err := tbl.Scan(table.WithRowFilter(day2)).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumRows() != 500 {
		t.Fatalf("scan of 2025-03-02 read %d rows, want 500", got.NumRows())
	}
}

func fieldTypes(t *testing.T, sink *ingest.Sink, ident table.Identifier) map[string]string {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range tbl.Schema().Fields() {
		out[f.Name] = f.Type.String()
	}
	return out
}

// batchOf builds a one-column-per-field batch of n rows from fields whose
// types are int32, int64, float32, float64 or string.
func batchOf(t *testing.T, n int, fields ...arrow.Field) arrow.RecordBatch {
	t.Helper()
	for i := range fields {
		fields[i].Nullable = true
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for i := range n {
		for j, f := range fields {
			switch fb := b.Field(j).(type) {
			case *array.Int32Builder:
				fb.Append(int32(i))
			case *array.Int64Builder:
				fb.Append(int64(i))
			case *array.Float32Builder:
				fb.Append(float32(i) / 2)
			case *array.Float64Builder:
				fb.Append(float64(i) / 2)
			case *array.StringBuilder:
				fb.Append(f.Name + "-" + string(rune('a'+i%26)))
			default:
				t.Fatalf("no builder for %s", f.Type)
			}
		}
	}
	return b.NewRecordBatch()
}

var (
	i32 = arrow.PrimitiveTypes.Int32
	i64 = arrow.PrimitiveTypes.Int64
	f32 = arrow.PrimitiveTypes.Float32
	f64 = arrow.PrimitiveTypes.Float64
	str = arrow.BinaryTypes.String
)

func TestSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	for i, tc := range []struct {
		name      string
		zone      string
		first     []arrow.Field
		second    []arrow.Field
		wantErr   error
		wantTypes map[string]string
		wantRows  int64
	}{
		{"a new column in raw is added as an optional column", "raw",
			[]arrow.Field{{Name: "id", Type: i64}}, []arrow.Field{{Name: "id", Type: i64}, {Name: "score", Type: f64}},
			nil, map[string]string{"id": "long", "score": "double"}, 20},
		{"int and float columns in raw are widened to long and double", "raw",
			[]arrow.Field{{Name: "n", Type: i32}, {Name: "x", Type: f32}}, []arrow.Field{{Name: "n", Type: i64}, {Name: "x", Type: f64}},
			nil, map[string]string{"n": "long", "x": "double"}, 20},
		{"a narrower batch in raw is written widened and changes nothing", "raw",
			[]arrow.Field{{Name: "n", Type: i64}}, []arrow.Field{{Name: "n", Type: i32}},
			nil, map[string]string{"n": "long"}, 20},
		{"a string where raw has a long is refused", "raw",
			[]arrow.Field{{Name: "id", Type: i64}}, []arrow.Field{{Name: "id", Type: str}},
			ingest.ErrIncompatibleSchema, map[string]string{"id": "long"}, 10},
		{"a new column outside raw is refused and the schema stays", "exploration",
			[]arrow.Field{{Name: "id", Type: i64}}, []arrow.Field{{Name: "id", Type: i64}, {Name: "score", Type: f64}},
			errAny, map[string]string{"id": "long"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := openSink(t)
			ident := table.Identifier{tc.zone, "evolve_case_" + itoa(i)}
			first := batchOf(t, 10, tc.first...)
			defer first.Release()
			second := batchOf(t, 10, tc.second...)
			defer second.Release()
			if _, err := sink.AppendOnce(ctx, ident, first.Schema(), []arrow.RecordBatch{first}, "first"); err != nil {
				t.Fatal(err)
			}
			_, err := sink.AppendOnce(ctx, ident, second.Schema(), []arrow.RecordBatch{second}, "second")
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("second append: %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("second append: error %v, want %v", err, tc.wantErr)
			}
			got := fieldTypes(t, sink, ident)
			for k, v := range tc.wantTypes {
				if got[k] != v {
					t.Fatalf("schema %v, want %v", got, tc.wantTypes)
				}
			}
			if len(got) != len(tc.wantTypes) {
				t.Fatalf("schema %v, want %v", got, tc.wantTypes)
			}
			if n := countRows(t, sink, ident); n != tc.wantRows {
				t.Fatalf("table has %d rows, want %d", n, tc.wantRows)
			}
		})
	}
}

var errAny = errors.New("any error")

// fixedSource yields one batch of rec with positions "row N".
type fixedSource struct {
	rec  arrow.RecordBatch
	done bool
}

func (s *fixedSource) Schema() *arrow.Schema { return s.rec.Schema() }
func (s *fixedSource) Close() error          { return nil }
func (s *fixedSource) Next(context.Context) (ingest.Batch, error) {
	if s.done {
		return ingest.Batch{}, io.EOF
	}
	s.done = true
	s.rec.Retain()
	pos := make([]string, s.rec.NumRows())
	for i := range pos {
		pos[i] = "row " + itoa(i)
	}
	return ingest.Batch{Records: s.rec, Positions: pos}, nil
}

func TestLandQuarantinesASourceWhoseSchemaCannotFitRaw(t *testing.T) {
	ctx := context.Background()
	sink := openSink(t)
	ident := table.Identifier{"raw", "evolve_land_misfit"}
	good := batchOf(t, 5, arrow.Field{Name: "id", Type: i64})
	defer good.Release()
	bad := batchOf(t, 4, arrow.Field{Name: "id", Type: str}, arrow.Field{Name: "extra", Type: str})
	defer bad.Release()
	if _, err := sink.Land(ctx, opener(&fixedSource{rec: good}), ingest.Target{Table: ident, Source: "good", BatchID: "good"}); err != nil {
		t.Fatal(err)
	}
	rep, err := sink.Land(ctx, opener(&fixedSource{rec: bad}), ingest.Target{Table: ident, Source: "bad", BatchID: "bad"})
	if err != nil {
		t.Fatalf("landing a misfit source: %v", err)
	}
	if rep.Received != 4 || rep.Quarantined != 4 || rep.Accepted != 0 {
		t.Fatalf("report %+v, want all 4 quarantined", rep)
	}
	if got := fieldTypes(t, sink, ident); got["id"] != "long" || got["extra"] != "" {
		t.Fatalf("schema changed to %v", got)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ingest.QuarantineTable(ident))
	if err != nil {
		t.Fatal(err)
	}
	q, err := tbl.Scan(table.WithRowFilter(iceberg.EqualTo(iceberg.Reference("source"), "bad"))).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Release()
	if q.NumRows() != 4 {
		t.Fatalf("quarantine has %d rows of the source, want 4", q.NumRows())
	}
	tr := array.NewTableReader(q, 100)
	defer tr.Release()
	for tr.Next() {
		r := tr.RecordBatch()
		idx := r.Schema().FieldIndices("reason")[0]
		reason := r.Column(idx).(*array.String).Value(0)
		if !strings.Contains(reason, `column "id" is long in the table but string in the batch`) {
			t.Fatalf("reason %q does not say what does not fit", reason)
		}
		raw := r.Column(r.Schema().FieldIndices("raw_payload")[0]).(*array.String)
		if !slices.ContainsFunc([]string{raw.Value(0)}, func(s string) bool { return strings.HasPrefix(s, `{"id":"id-`) }) {
			t.Fatalf("raw payload %q is not the record as JSON", raw.Value(0))
		}
	}
	again, err := sink.Land(ctx, opener(&fixedSource{rec: bad}), ingest.Target{Table: ident, Source: "bad", BatchID: "bad"})
	if err != nil || again.Skipped != 4 {
		t.Fatalf("second landing: %+v, %v; want all skipped", again, err)
	}
}

func TestLandAddsTheNewColumnsOfASourceInRaw(t *testing.T) {
	ctx := context.Background()
	sink := openSink(t)
	ident := table.Identifier{"raw", "evolve_land_adds"}
	v1 := batchOf(t, 5, arrow.Field{Name: "id", Type: i64})
	defer v1.Release()
	v2 := batchOf(t, 6, arrow.Field{Name: "id", Type: i64}, arrow.Field{Name: "city", Type: str})
	defer v2.Release()
	for _, src := range []struct {
		name string
		rec  arrow.RecordBatch
	}{{"v1", v1}, {"v2", v2}} {
		rep, err := sink.Land(ctx, opener(&fixedSource{rec: src.rec}), ingest.Target{Table: ident, Source: src.name, BatchID: src.name})
		if err != nil || rep.Accepted != src.rec.NumRows() {
			t.Fatalf("landing %s: %+v, %v", src.name, rep, err)
		}
	}
	if got := fieldTypes(t, sink, ident); got["city"] != "string" {
		t.Fatalf("schema %v lacks the new column", got)
	}
	if n := countRows(t, sink, ident); n != 11 {
		t.Fatalf("table has %d rows, want 11", n)
	}
}
