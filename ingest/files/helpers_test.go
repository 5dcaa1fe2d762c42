package files_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// writeText writes content to a file named name in a fresh directory.
func writeText(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeParquet writes one row group of schema sc, filled by fill, to a
// file named name in a fresh directory.
func writeParquet(t *testing.T, name string, sc *arrow.Schema, fill func(*array.RecordBuilder)) string {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// stackSink skips under -short, else opens a sink on the embedded stack.
func stackSink(t *testing.T) *ingest.Sink {
	t.Helper()
	needStack(t)
	sink, err := ingest.Open(context.Background(), stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

// land lands paths in cfg.Table, failing the test on error.
func land(t *testing.T, sink *ingest.Sink, cfg files.Config, paths ...string) []files.Report {
	t.Helper()
	reps, err := files.Land(context.Background(), stacktest.Logger(), sink, cfg, paths...)
	if err != nil {
		t.Fatal(err)
	}
	return reps
}
