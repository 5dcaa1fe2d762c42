package ingest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

var lake *stack.Stack

func TestMain(m *testing.M) {
	os.Exit(stacktest.Main(m, "ingest-test-", &lake))
}

func sampleBatch(t *testing.T, mem memory.Allocator, n int, offset int64) arrow.RecordBatch {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(offset + int64(i))
		if i%7 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name-%d", offset+int64(i)))
		}
	}
	return b.NewRecordBatch()
}

func TestAppendOnceThenReadBackRowForRow(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleBatch(t, mem, 5000, 0)
	defer rec.Release()
	ident := table.Identifier{"exploration", "sink_roundtrip"}
	res, err := sink.AppendOnce(ctx, ident, rec.Schema(), []arrow.RecordBatch{rec}, "batch-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Rows != 5000 {
		t.Fatalf("first append: %+v", res)
	}
	again, err := sink.AppendOnce(ctx, ident, rec.Schema(), []arrow.RecordBatch{rec}, "batch-1")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Skipped {
		t.Fatalf("second append of the same batch was not skipped: %+v", again)
	}

	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumRows() != 5000 {
		t.Fatalf("read back %d rows, want 5000", got.NumRows())
	}
	seen := map[int64]string{}
	tr := array.NewTableReader(got, 1024)
	defer tr.Release()
	for tr.Next() {
		r := tr.RecordBatch()
		ids := r.Column(0).(*array.Int64)
		names := r.Column(1).(*array.String)
		for i := range int(r.NumRows()) {
			v := "<null>"
			if names.IsValid(i) {
				v = names.Value(i)
			}
			seen[ids.Value(i)] = v
		}
	}
	wantIDs := rec.Column(0).(*array.Int64)
	wantNames := rec.Column(1).(*array.String)
	for i := range int(rec.NumRows()) {
		want := "<null>"
		if wantNames.IsValid(i) {
			want = wantNames.Value(i)
		}
		if got, ok := seen[wantIDs.Value(i)]; !ok || got != want {
			t.Fatalf("row id=%d: got %q (present %v), want %q", wantIDs.Value(i), got, ok, want)
		}
	}
	if len(seen) != 5000 {
		t.Fatalf("read back %d distinct ids, want 5000", len(seen))
	}
}
