package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Result is one measurement: one operation against one target at one
// concurrency.
type Result struct {
	Target  string
	Op      string
	Clients int
	// OK counts the operations that succeeded within the measurement window.
	OK int
	// Errors counts the operations that failed (transport error or an
	// unexpected status); FirstError describes the first of them.
	Errors     int
	FirstError string
	Elapsed    time.Duration
	// P50 and P99 are latencies of the successful operations.
	P50, P99 time.Duration
	// CPU is where the machine's CPU time went during the measurement.
	CPU CPUUse
}

// ServerPerOp is the target's CPU time per successful operation.
func (r Result) ServerPerOp() time.Duration {
	if !r.CPU.Known || r.OK == 0 {
		return 0
	}
	return r.CPU.Server / time.Duration(r.OK)
}

// cores is CPU time over the measurement's wall time: how many CPUs' worth.
func (r Result) cores(d time.Duration) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return d.Seconds() / r.Elapsed.Seconds()
}

// opFunc performs one operation for worker w (0-based); seq counts that
// worker's operations from 0.
type opFunc func(ctx context.Context, w, seq int) error

// measure runs clients closed-loop workers, each calling op back to back
// until d has passed, and returns their latencies and throughput. An
// operation that started before the deadline is waited for and counted;
// none starts after it.
func measure(ctx context.Context, clients int, d time.Duration, op opFunc) Result {
	type tally struct {
		lat    []time.Duration
		errs   int
		first  string
		finish time.Time
	}
	tallies := make([]tally, clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			t := &tallies[w]
			t.lat = make([]time.Duration, 0, 4096)
			for seq := 0; ctx.Err() == nil; seq++ {
				began := time.Now()
				if !began.Before(deadline) {
					break
				}
				err := op(ctx, w, seq)
				took := time.Since(began)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					if t.errs == 0 {
						t.first = err.Error()
					}
					t.errs++
					continue
				}
				t.lat = append(t.lat, took)
			}
			t.finish = time.Now()
		})
	}
	wg.Wait()
	res := Result{Clients: clients}
	end := start
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		res.Errors += t.errs
		if res.FirstError == "" {
			res.FirstError = t.first
		}
		if t.finish.After(end) {
			end = t.finish
		}
	}
	res.OK = len(all)
	res.Elapsed = end.Sub(start)
	slices.Sort(all)
	res.P50 = percentile(all, 50)
	res.P99 = percentile(all, 99)
	return res
}

// percentile returns the nearest-rank p-th percentile of sorted; 0 when
// sorted is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
