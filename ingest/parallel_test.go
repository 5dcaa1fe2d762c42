package ingest_test

import (
	"context"
	"errors"
	"iter"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// batchesOf yields n batches of size rows with consecutive ids, then err
// (when not nil) instead of the rest.
func batchesOf(t *testing.T, mem memory.Allocator, n, size int, failAfter int, err error) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for i := range n {
			if err != nil && i == failAfter {
				yield(nil, err)
				return
			}
			if !yield(sampleBatch(t, mem, size, int64(i*size)), nil) {
				return
			}
		}
	}
}

func TestStagingEncodesFilesOnSeveralWritersAndKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sink := openSink(t, ingest.WithWriters(3))
	ident := table.Identifier{"exploration", "parallel_stage"}
	probe := sampleBatch(t, mem, 1, 0)
	sc := probe.Schema()
	probe.Release()
	if _, err := sink.EnsureTable(ctx, ident, sc); err != nil {
		t.Fatal(err)
	}
	const batches, size = 7, 3000
	st, err := sink.Stage(ctx, ident, sc, batchesOf(t, mem, batches, size, 0, nil), "parallel-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != batches*size {
		t.Fatalf("staged %d rows, want %d", st.Rows, batches*size)
	}
	if _, err := sink.CommitOnce(ctx, st); err != nil {
		t.Fatal(err)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if files := planFiles(t, tbl); len(files) != 3 {
		t.Fatalf("%d data files, want 3 (one per writer)", len(files))
	}
	got, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	seen := make([]bool, batches*size)
	for _, ch := range got.Column(got.Schema().FieldIndices("id")[0]).Data().Chunks() {
		ids := ch.(*array.Int64)
		for i := range ids.Len() {
			id := ids.Value(i)
			if id < 0 || id >= int64(len(seen)) || seen[id] {
				t.Fatalf("id %d is out of range or repeated", id)
			}
			seen[id] = true
		}
	}
	if got.NumRows() != batches*size {
		t.Fatalf("read %d rows, want %d", got.NumRows(), batches*size)
	}
}

func TestStagingThatFailsMidStreamLeavesNoFilesBehind(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sink := openSink(t, ingest.WithWriters(2))
	ident := table.Identifier{"exploration", "parallel_stage_fails"}
	probe := sampleBatch(t, mem, 1, 0)
	sc := probe.Schema()
	probe.Release()
	tbl, err := sink.EnsureTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	// One committed file first: the folder exists, and it must keep
	// exactly that file.
	first, err := sink.Stage(ctx, ident, sc, batchesOf(t, mem, 1, 10, 0, nil), "parallel-kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.CommitOnce(ctx, first); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("source broke")
	_, err = sink.Stage(ctx, ident, sc, batchesOf(t, mem, 6, 2000, 4, boom), "parallel-2", nil)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the source's error", err)
	}
	dir, ok := lake.Storage.LocalPath(tbl.Location() + "/data")
	if !ok {
		t.Fatalf("no local path for %s", tbl.Location())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if !e.IsDir() {
			left = append(left, e.Name())
		}
	}
	if len(left) != 1 {
		t.Fatalf("files in %s after a failed stage: %v, want only the committed one", dir, left)
	}
}
