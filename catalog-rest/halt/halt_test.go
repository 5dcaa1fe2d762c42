package halt_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/catalogtest"

	"github.com/lakehouse-go/lakehouse/catalog-rest/halt"
)

// catalog starts a real catalog server over HTTP on a SQLite store at
// path (a fresh one when path is "").
func catalog(t *testing.T, path string) string {
	_, hs := catalogtest.Serve(t, path)
	return hs.URL
}

func TestWorkersShareAHaltThroughTheCatalog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	a := halt.NewClient(catalog(t, path), nil)
	b := halt.NewClient(catalog(t, path), nil) // a second catalog process on the same file
	name := "compaction/raw.orders"

	began := time.Now().Add(-time.Second)
	first, created, err := a.Put(ctx, name, "reading manifest list: no such file", "worker-a")
	if err != nil {
		t.Fatal(err)
	}
	if !created || first.Name != name || first.Holder != "worker-a" || first.Reason != "reading manifest list: no such file" || first.Since.Before(began) {
		t.Fatalf("got %+v, want worker-a's halt of %s, stamped now", first, name)
	}
	second, created, err := b.Put(ctx, name, "something else", "worker-b")
	if err != nil {
		t.Fatal(err)
	}
	if created || second != first {
		t.Fatalf("a second halt of the name: got %+v, want the first kept, %+v", second, first)
	}
	hs, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0] != first {
		t.Fatalf("worker-b lists %+v, want worker-a's halt alone", hs)
	}
	lifted, err := b.Lift(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if lifted != first {
		t.Fatalf("lifted %+v, want %+v", lifted, first)
	}
	if _, err := a.Lift(ctx, name); !errors.Is(err, halt.ErrNotHalted) {
		t.Fatalf("lifting again: got %v, want ErrNotHalted", err)
	}
	if hs, err := a.List(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("after the lift worker-a lists %+v, %v; want none", hs, err)
	}
}

func TestBadHaltRequestsGetIcebergErrors(t *testing.T) {
	ctx := context.Background()
	url := catalog(t, "")
	c := halt.NewClient(url, nil)
	if _, _, err := c.Put(ctx, "x", "", "worker"); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("no reason: got %v, want an error about the reason", err)
	}
	if _, _, err := c.Put(ctx, "x", "corrupt", ""); err == nil || !strings.Contains(err.Error(), "holder") {
		t.Fatalf("no holder: got %v, want an error about the holder", err)
	}
	req, err := http.NewRequest(http.MethodPut, url+"/lakehouse/v1/halts/x", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed body: status %d, want 400", resp.StatusCode)
	}
	if hs, err := c.List(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("after refused halts: %+v, %v; want none", hs, err)
	}
}

func TestACatalogWithoutHaltsIsUnsupported(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	if _, err := halt.NewClient(hs.URL, nil).List(context.Background()); !errors.Is(err, halt.ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
}
