package lease_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/catalogtest"

	"github.com/lakehouse-go/lakehouse/catalog-rest/lease"
)

// catalog starts a real catalog server over HTTP on a fresh SQLite store.
func catalog(t *testing.T) string {
	_, hs := catalogtest.Serve(t, "")
	return hs.URL
}

func TestWorkersShareALeaseThroughTheCatalog(t *testing.T) {
	ctx := context.Background()
	c := lease.NewClient(catalog(t), nil)
	name := "compaction/raw.orders"

	a, err := c.Acquire(ctx, name, "worker-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != name || a.Holder != "worker-a" || a.Token != 1 || time.Until(a.Expires) < 50*time.Second {
		t.Fatalf("got %+v, want worker-a's lease of %s, token 1, for about a minute", a, name)
	}
	_, err = c.Acquire(ctx, name, "worker-b", time.Minute)
	if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "worker-a") {
		t.Fatalf("second holder: got %v, want ErrHeld naming worker-a", err)
	}
	if _, err := c.Acquire(ctx, name, "worker-a", time.Minute); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	if err := c.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	b, err := c.Acquire(ctx, name, "worker-b", time.Minute)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if b.Token <= a.Token {
		t.Fatalf("token after a change of holder: %d, want above %d", b.Token, a.Token)
	}
	// Releasing a lease one lost is not an error and leaves the new holder's alone.
	if err := c.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(ctx, name, "worker-c", time.Minute); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("after a stale release: got %v, want ErrHeld", err)
	}
}

func TestBadLeaseRequestsGetIcebergErrors(t *testing.T) {
	ctx := context.Background()
	url := catalog(t)
	c := lease.NewClient(url, nil)
	if _, err := c.Acquire(ctx, "x", "worker", time.Millisecond); err == nil || !strings.Contains(err.Error(), "ttl-ms") {
		t.Fatalf("a 1 ms lease: got %v, want an error about ttl-ms", err)
	}
	if _, err := c.Acquire(ctx, "x", "", time.Minute); err == nil || !strings.Contains(err.Error(), "holder") {
		t.Fatalf("no holder: got %v, want an error about the holder", err)
	}
	resp, err := http.Post(url+"/lakehouse/v1/leases/x", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed body: status %d, want 400", resp.StatusCode)
	}
}
