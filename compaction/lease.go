package compaction

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lease is a worker's claim on a name until Expires; Token grows with
// every change of holder, so a stale holder can tell it lost the lease.
type Lease struct {
	Name, Holder string
	Token        int64
	Expires      time.Time
}

// Leaser hands out leases shared by all workers, e.g. the catalog's lease
// API (catalog-rest/lease). Acquire renews a lease the holder already
// has and fails with an error wrapping ErrLeaseHeld while another holder
// has an unexpired one.
type Leaser interface {
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error)
	Release(ctx context.Context, l Lease) error
}

// LocalLeaser is a Leaser for workers of one process.
type LocalLeaser struct {
	mu     sync.Mutex
	leases map[string]Lease
	token  int64
	now    func() time.Time
}

// NewLocalLeaser returns an empty LocalLeaser.
func NewLocalLeaser() *LocalLeaser {
	return &LocalLeaser{leases: map[string]Lease{}, now: time.Now}
}

// Acquire takes or renews name for holder.
func (l *LocalLeaser) Acquire(_ context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cur, ok := l.leases[name]
	if ok && cur.Holder != holder && now.Before(cur.Expires) {
		return Lease{}, fmt.Errorf("%w: %s by %s until %s", ErrLeaseHeld, name, cur.Holder, cur.Expires.Format(time.RFC3339))
	}
	if !ok || cur.Holder != holder {
		l.token++
		cur = Lease{Name: name, Holder: holder, Token: l.token}
	}
	cur.Expires = now.Add(ttl)
	l.leases[name] = cur
	return cur, nil
}

// Release gives name up if lease still holds it.
func (l *LocalLeaser) Release(_ context.Context, lease Lease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[lease.Name]; ok && cur.Holder == lease.Holder && cur.Token == lease.Token {
		delete(l.leases, lease.Name)
	}
	return nil
}
