package compaction

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/lease"
)

// CatalogLeaser is the Leaser of workers sharing a catalog: leases live in
// the catalog's store, so workers in several processes or hosts take
// turns on a table.
type CatalogLeaser struct{ c *lease.Client }

// NewCatalogLeaser returns a CatalogLeaser of the catalog at catalogURL;
// hc nil means the lease client's default.
func NewCatalogLeaser(catalogURL string, hc *http.Client) CatalogLeaser {
	return CatalogLeaser{c: lease.NewClient(catalogURL, hc)}
}

// Acquire takes or renews name for holder.
func (l CatalogLeaser) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	got, err := l.c.Acquire(ctx, name, holder, ttl)
	if errors.Is(err, lease.ErrHeld) {
		return Lease{}, fmt.Errorf("%w: %w", ErrLeaseHeld, err)
	}
	if err != nil {
		return Lease{}, err
	}
	return Lease(got), nil
}

// Release gives l up.
func (l CatalogLeaser) Release(ctx context.Context, x Lease) error {
	return l.c.Release(ctx, lease.Lease(x))
}
