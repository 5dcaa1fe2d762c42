package poll_test

import (
	"context"
	"flag"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// env is the stack the tests share and its folder for their files.
var env stacktest.Env

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(stacktest.Run(m, &env, stacktest.Options{Name: "ingest-poll-test", Short: testing.Short()}))
}

// fakeClock is a Clock that moves only when told. Waiters are kept until
// the time passes their deadline, so a test can see when Run is idle.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	added   chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

var _ poll.Clock = (*fakeClock)(nil)

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, added: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

// set moves the clock to now, waking the waiters it passes.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- now
	}
	c.waiters = kept
}

// idle waits until something waits on the clock, and returns the earliest
// deadline of the waiters.
func (c *fakeClock) idle(t *testing.T) time.Time {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		if len(c.waiters) > 0 {
			at := c.waiters[0].at
			for _, w := range c.waiters[1:] {
				if w.at.Before(at) {
					at = w.at
				}
			}
			c.mu.Unlock()
			return at
		}
		c.mu.Unlock()
		select {
		case <-c.added:
		case <-timeout:
			t.Fatal("nothing waited on the clock within 30s")
		}
	}
}

// forget drops the waiters of a stopped Run.
func (c *fakeClock) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiters = nil
}

// service is poll.Run in a goroutine the test owns.
type service struct {
	cancel context.CancelFunc
	done   chan error
}

func startService(t *testing.T, sink *ingest.Sink, cfg poll.Config, clock *fakeClock) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- poll.Run(ctx, stacktest.Logger(), sink, cfg, clock) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels Run and waits for it; safe to call twice.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if s.done == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	s.done = nil
}
