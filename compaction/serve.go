package compaction

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
)

// tableState is what the scheduler remembers of one table.
type tableState struct {
	seenLoc     string    // metadata location at the last look
	changedAt   time.Time // last commit seen since the last run
	firstChange time.Time // first commit seen since the last run
	lastRun     time.Time
	running     bool
}

// due says whether a table should be looked at now.
func (ts *tableState) due(now time.Time, sc policy.Scheduler) bool {
	if ts.running {
		return false
	}
	if !ts.firstChange.IsZero() && (now.Sub(ts.changedAt) >= sc.Debounce || now.Sub(ts.firstChange) >= sc.MaxWait) {
		return true
	}
	return now.Sub(ts.lastRun) >= sc.Interval
}

// Serve maintains the zones' tables until ctx ends. Every Poll it reads
// each table's metadata location; a table that was committed to is run
// once Debounce passed without a commit (at the latest MaxWait after the
// first), and every table is run each Interval for expiry and orphans.
// At most ConcurrentRewrites tables run at once, rewrites are paced to
// BytesPerHour, and each run holds the table's lease so that several
// workers never maintain one table at once. Serve returns nil when ctx
// ends, after its runs stopped.
func (s *Service) Serve(ctx context.Context) error {
	sc := s.cfg.Policies.Scheduler
	var b budget
	if sc.BytesPerHour > 0 {
		b = newBucket(int64(sc.BytesPerHour))
	}
	var (
		mu     sync.Mutex
		states = map[string]*tableState{}
		wg     sync.WaitGroup
		slots  = make(chan struct{}, sc.ConcurrentRewrites)
	)
	defer wg.Wait()
	tick := time.NewTicker(sc.Poll)
	defer tick.Stop()
	for {
		idents, err := s.Tables(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("listing tables to maintain", "err", err)
		}
		// Halts made by any worker, or lifted by an operator, since the
		// last poll count from this one.
		halted, err := s.haltedTables(ctx, idents)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("reading the halted tables; maintaining none until they can be read", "err", err)
			}
			idents = nil
		}
		for _, ident := range idents {
			if ctx.Err() != nil {
				break
			}
			name := Name(ident)
			tbl, err := s.cat.LoadTable(ctx, ident)
			if err != nil {
				s.logger.Debug("loading table to maintain", "table", name, "err", err)
				continue
			}
			now := time.Now()
			mu.Lock()
			ts := states[name]
			if ts == nil {
				// First sight: measure soon, as if committed to just now.
				ts = &tableState{seenLoc: tbl.MetadataLocation(), lastRun: now, changedAt: now.Add(-sc.Debounce), firstChange: now}
				states[name] = ts
			}
			if loc := tbl.MetadataLocation(); loc != ts.seenLoc {
				ts.seenLoc, ts.changedAt = loc, now
				if ts.firstChange.IsZero() {
					ts.firstChange = now
				}
			}
			due := ts.due(now, sc) && !halted[name]
			if due {
				ts.running = true
			}
			mu.Unlock()
			if !due {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				ts.running = false
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				s.serveOne(ctx, ident, b)
				mu.Lock()
				defer mu.Unlock()
				ts.running, ts.lastRun, ts.firstChange = false, time.Now(), time.Time{}
				if t, err := s.cat.LoadTable(ctx, ident); err == nil {
					ts.seenLoc = t.MetadataLocation() // our own commits are no news
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// haltedTables reads the halted tables and sets the halted gauge of
// idents and of every halted table, so that a halt made or lifted by
// another worker shows here too.
func (s *Service) haltedTables(ctx context.Context, idents []table.Identifier) (map[string]bool, error) {
	hs, err := s.ListHalts(ctx)
	if err != nil {
		return nil, err
	}
	halted := map[string]bool{}
	for _, h := range hs {
		halted[h.Table] = true
		s.metrics.halted.WithLabelValues(h.Table).Set(1)
	}
	for _, ident := range idents {
		if !halted[Name(ident)] {
			s.metrics.halted.WithLabelValues(Name(ident)).Set(0)
		}
	}
	return halted, nil
}

// serveOne measures and runs ident under its lease.
func (s *Service) serveOne(ctx context.Context, ident table.Identifier, b budget) {
	name := Name(ident)
	err := s.withLease(ctx, ident, func(ctx context.Context) error {
		st, err := s.Status(ctx, ident)
		if err != nil {
			return err
		}
		rep, err := s.run(ctx, ident, b)
		if rep.Rewrite.Committed > 0 || rep.ExpiredSnapshots > 0 || rep.OrphansRemoved > 0 || rep.ManifestsOut > 0 {
			s.logger.Info("maintained table", "table", name, "reasons", st.Reasons, "rewritten_files", rep.Rewrite.FilesIn, "written_files", rep.Rewrite.FilesOut,
				"conflicts", rep.Rewrite.Conflicts, "expired_snapshots", rep.ExpiredSnapshots, "orphans", rep.OrphansRemoved, "took", rep.Took)
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrLeaseHeld) && ctx.Err() == nil {
		s.logger.Warn("maintaining table", "table", name, "err", err)
	}
}

// withLease runs fn while holding ident's lease, renewed every third of
// its TTL; a lost lease cancels fn's context (its commits are validated
// anyway, so a late one cannot do harm). It fails with ErrLeaseHeld while
// another worker holds the table.
func (s *Service) withLease(ctx context.Context, ident table.Identifier, fn func(context.Context) error) error {
	ttl := s.cfg.Policies.Scheduler.LeaseTTL
	lease, err := s.cfg.Leaser.Acquire(ctx, "compaction/"+Name(ident), s.cfg.Holder, ttl)
	if err != nil {
		return fmt.Errorf("acquiring the lease of %s: %w", Name(ident), err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if _, err := s.cfg.Leaser.Acquire(runCtx, lease.Name, s.cfg.Holder, ttl); err != nil && runCtx.Err() == nil {
					s.logger.Warn("lost table lease; stopping its run", "table", Name(ident), "err", err)
					cancel()
					return
				}
			}
		}
	}()
	err = fn(runCtx)
	cancel()
	<-renewed
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if rerr := s.cfg.Leaser.Release(rctx, lease); rerr != nil {
		s.logger.Warn("releasing table lease", "table", Name(ident), "err", rerr)
	}
	return err
}

// bucket paces rewrites to a byte rate: it fills at perHour/3600 bytes a
// second up to perHour; take waits until the group's bytes are there (a
// group larger than the bucket waits for a full bucket).
type bucket struct {
	mu       sync.Mutex
	capacity float64
	tokens   float64
	last     time.Time
}

func newBucket(perHour int64) *bucket {
	return &bucket{capacity: float64(perHour), tokens: float64(perHour), last: time.Now()}
}

func (b *bucket) take(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.capacity/3600)
		b.last = now
		need := min(float64(n), b.capacity)
		if b.tokens >= need {
			b.tokens -= need
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((need - b.tokens) / (b.capacity / 3600) * float64(time.Second))
		b.mu.Unlock()
		if err := ctxtime.Sleep(ctx, min(wait, time.Minute)); err != nil {
			return err
		}
	}
}
