// Package integration_test runs the catalog against the real embedded stack
// (S3 gateway, catalog over HTTP). It lives apart from the catalogrest unit
// and fuzz tests because the gateway changes the process's working
// directory, which would hide their testdata from them.
package integration_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// One real stack (S3 gateway + catalog over HTTP) per test binary, started
// by the first test that needs it.
var (
	lakeOnce sync.Once
	lake     *stack.Stack
	lakeErr  error
)

func sharedStack(t *testing.T) *stack.Stack {
	t.Helper()
	lakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "catalog-rest-test-")
		if err != nil {
			lakeErr = err
			return
		}
		lake, lakeErr = stacktest.Start(context.Background(), dir)
	})
	if lakeErr != nil {
		t.Fatalf("starting stack: %v", lakeErr)
	}
	return lake
}

func TestConcurrentAppendsAreAllKeptExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the S3 gateway and appends 400 times")
	}
	const writers, appends, rowsPerAppend = 8, 50, 3
	lk := sharedStack(t)
	ctx := context.Background()
	cat, err := rest.NewCatalog(ctx, "lakehouse", lk.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	ident := table.Identifier{"exploration", "concurrent_appends"}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "writer", Type: arrow.PrimitiveTypes.Int32},
		{Name: "seq", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	isc, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.CreateTable(ctx, ident, isc); err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			cl, err := rest.NewCatalog(ctx, "lakehouse", lk.CatalogURL())
			if err != nil {
				t.Error(err)
				return
			}
			for seq := range appends {
				batch := fmt.Sprintf("w%d-s%d", w, seq)
				if err := appendWithRetry(ctx, cl, ident, sc, int32(w), int32(seq), rowsPerAppend, batch); err != nil {
					t.Errorf("writer %d append %d: %v", w, seq, err)
					return
				}
				mu.Lock()
				acked[batch] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	tbl, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary != nil {
			if id := snap.Summary.Properties["test.batch"]; id != "" {
				seen[id]++
			}
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged append %s is in %d snapshots, want 1", id, seen[id])
		}
	}
	if len(acked) != writers*appends || len(seen) != len(acked) {
		t.Errorf("%d appends acknowledged, %d distinct in history, want %d", len(acked), len(seen), writers*appends)
	}
	got, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if want := int64(writers * appends * rowsPerAppend); got.NumRows() != want {
		t.Fatalf("table holds %d rows, want %d", got.NumRows(), want)
	}
}

// appendWithRetry appends like an ingestor does: on a commit conflict it
// reloads the table and tries again.
func appendWithRetry(ctx context.Context, cat *rest.Catalog, ident table.Identifier, sc *arrow.Schema, w, seq int32, rows int, batch string) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for range rows {
		b.Field(0).(*array.Int32Builder).Append(w)
		b.Field(1).(*array.Int32Builder).Append(seq)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	for attempt := 0; attempt < 200; attempt++ {
		tbl, err := cat.LoadTable(ctx, ident)
		if err != nil {
			return err
		}
		rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
		if err != nil {
			return err
		}
		_, err = tbl.Append(ctx, rdr, iceberg.Properties{"test.batch": batch})
		rdr.Release()
		if err == nil {
			return nil
		}
		if !errors.Is(err, table.ErrCommitFailed) {
			return err
		}
	}
	return errors.New("still conflicting after 200 attempts")
}

func TestLoadFailsWhenTheMetadataFileIsGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the S3 gateway")
	}
	lk := sharedStack(t)
	ctx := context.Background()
	cat, err := rest.NewCatalog(ctx, "lakehouse", lk.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	ident := table.Identifier{"exploration", "lost_metadata"}
	sc := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
	tbl, err := cat.CreateTable(ctx, ident, sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.LoadTable(ctx, ident); err != nil {
		t.Fatalf("load before the file is gone: %v", err)
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(tbl.MetadataLocation(), "s3://"), "/")
	if _, err := lk.Storage.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(lk.CatalogURL() + "/v1/namespaces/exploration/tables/lost_metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "Failed to open input stream for file: "+tbl.MetadataLocation()) {
		t.Fatalf("load after the metadata file was deleted: %d %s", resp.StatusCode, body)
	}
}
