package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/lease"
)

// Files and poll pipelines run in one process at a time: several ingest
// processes pointed at the same pipelines split them by lease, the others
// standing by, and one takes over when the holder stops or dies (its lease
// runs out). Landing stays exactly-once without leases (batch ids); the
// lease saves the duplicate reads and fetches. Kafka pipelines share their
// partitions through the consumer group and HTTP collectors each take
// their own events, so neither takes a lease.
const leaseTTL = 30 * time.Second

// standbyRetry is how often a standing-by process asks for the lease again
// (at most every ttl/3): a released lease is taken over within it.
const standbyRetry = 2 * time.Second

// errLeaseLost ends an attempt whose lease could not be renewed in time.
var errLeaseLost = errors.New("lost the pipeline's lease: another process may run it now")

type leaser interface {
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (lease.Lease, error)
	Release(ctx context.Context, l lease.Lease) error
}

// leaseHolder names this process in leases: host, pid and a random part,
// so two runs in one process are told apart too.
func leaseHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// leased runs attempt while holding the lease name: it waits, standing by,
// while another holder has it, renews it every ttl/3 meanwhile, ends the
// attempt with errLeaseLost when a renewal cannot succeed before the lease
// runs out, and releases it when the attempt ends. A catalog without
// leases runs the attempt without one.
func leased(ctx context.Context, logger *slog.Logger, c leaser, name, holder string, ttl time.Duration, attempt func(context.Context) error) error {
	l, err := waitForLease(ctx, logger, c, name, holder, ttl)
	if errors.Is(err, lease.ErrUnsupported) {
		logger.Warn("the catalog offers no leases: running without one (another process running this pipeline would repeat its reads)")
		return attempt(ctx)
	}
	if err != nil || ctx.Err() != nil {
		return err
	}
	logger.Info("holding the pipeline's lease", "lease", name, "holder", holder)
	runCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { keepLease(runCtx, logger, c, l, ttl, cancel) })
	err = attempt(runCtx)
	lost := errors.Is(context.Cause(runCtx), errLeaseLost)
	cancel(nil)
	wg.Wait()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if rerr := c.Release(rctx, l); rerr != nil {
		logger.Warn("releasing the pipeline's lease; it runs out by itself", "lease", name, "err", rerr)
	}
	if lost {
		return errLeaseLost
	}
	return err
}

func waitForLease(ctx context.Context, logger *slog.Logger, c leaser, name, holder string, ttl time.Duration) (lease.Lease, error) {
	standing := false
	for {
		l, err := c.Acquire(ctx, name, holder, ttl)
		if err == nil || !errors.Is(err, lease.ErrHeld) {
			return l, err
		}
		if !standing {
			logger.Info("standing by: another process runs the pipeline", "lease", name, "err", err)
			standing = true
		}
		t := time.NewTimer(min(ttl/3, standbyRetry))
		select {
		case <-ctx.Done():
			t.Stop()
			return lease.Lease{}, nil
		case <-t.C:
		}
	}
}

// keepLease renews l every ttl/3 until ctx ends; when the lease is taken or
// runs out before a renewal succeeds it cancels with errLeaseLost.
func keepLease(ctx context.Context, logger *slog.Logger, c leaser, l lease.Lease, ttl time.Duration, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		next, err := c.Acquire(ctx, l.Name, l.Holder, ttl)
		switch {
		case err == nil && next.Token == l.Token:
			l = next
		case err == nil || errors.Is(err, lease.ErrHeld):
			logger.Error("the pipeline's lease passed to another holder; stopping", "lease", l.Name, "err", err)
			cancel(errLeaseLost)
			return
		case ctx.Err() != nil:
			return
		case time.Now().After(l.Expires.Add(-ttl / 6)):
			logger.Error("could not renew the pipeline's lease before it runs out; stopping", "lease", l.Name, "err", err)
			cancel(errLeaseLost)
			return
		default:
			logger.Warn("renewing the pipeline's lease; retrying", "lease", l.Name, "err", err)
		}
	}
}
