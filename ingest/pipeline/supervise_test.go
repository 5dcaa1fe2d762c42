package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSupervise(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := backoff{min: time.Millisecond, max: 4 * time.Millisecond, reset: time.Hour}
	tests := []struct {
		name         string
		results      []error // what the attempts return, in turn; then the last one blocks until ctx ends
		wantAttempts int
	}{
		{"a pipeline that runs until the end is started once", nil, 1},
		{"a failing pipeline is restarted until it runs", []error{errors.New("catalog down"), errors.New("catalog down")}, 3},
		{"a source that stops on its own is restarted too", []error{nil}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			attempts := 0
			running := make(chan struct{})
			attempt := func(ctx context.Context) error {
				attempts++
				if attempts <= len(tc.results) {
					return tc.results[attempts-1]
				}
				close(running)
				<-ctx.Done()
				return nil
			}
			gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "running"})
			restarts := prometheus.NewCounter(prometheus.CounterOpts{Name: "restarts"})
			done := make(chan struct{})
			go func() { defer close(done); supervise(ctx, quiet, b, attempt, gauge, restarts) }()
			select {
			case <-running:
			case <-time.After(10 * time.Second):
				t.Fatal("the pipeline was not running within 10s")
			}
			if got := testutil.ToFloat64(gauge); got != 1 {
				t.Errorf("running gauge %v while it runs, want 1", got)
			}
			cancel()
			<-done
			if attempts != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", attempts, tc.wantAttempts)
			}
			if got := testutil.ToFloat64(restarts); got != float64(tc.wantAttempts-1) {
				t.Errorf("%v restarts, want %d", got, tc.wantAttempts-1)
			}
			if got := testutil.ToFloat64(gauge); got != 0 {
				t.Errorf("running gauge %v after the end, want 0", got)
			}
		})
	}
}

func TestBackoffDoublesUpToItsBound(t *testing.T) {
	b := backoff{min: time.Second, max: time.Minute}
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 500: time.Minute} {
		if got := b.wait(failures); got != want {
			t.Errorf("after %d failures: wait %s, want %s", failures, got, want)
		}
	}
}
