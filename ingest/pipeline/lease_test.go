package pipeline_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
)

// filesHandled is what a run's registry counts of files, by outcome.
func filesHandled(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	var n float64
	for _, o := range []string{"landed", "skipped", "failed"} {
		n += counterValue(t, reg, "lakehouse_pipeline_files_total", "outcome", o)
	}
	return n
}

func TestTwoProcessesShareAFilesPipelineByLease(t *testing.T) {
	sink := env.Sink(t)
	in := incoming(t, "incoming-leased")
	pls := parse(t, fmt.Sprintf(`
- name: leased_orders
  table: raw.pl_leased_orders
  source:
    files: {paths: [%q], poll_interval: 100ms, settle: 20ms}
`, filepath.Join(in, "*.csv")))
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a := startRun(t, regA, sink, pls)
	landedBy := func(reg *prometheus.Registry, want float64) {
		t.Helper()
		eventually(t, 20*time.Second, func() (bool, string) {
			got := counterValue(t, reg, "lakehouse_pipeline_files_total", "outcome", "landed")
			return got == want, fmt.Sprintf("landed %v files, want %v", got, want)
		})
	}
	drop(t, in, "a.csv", "order_id,amount\no1,1\no2,2\n")
	landedBy(regA, 1) // the first run holds the lease now
	b := startRun(t, regB, sink, pls)
	drop(t, in, "c.csv", "order_id,amount\no4,4\n")
	landedBy(regA, 2)
	time.Sleep(500 * time.Millisecond) // five scans of the second run, if it ran
	if n := filesHandled(t, regB); n != 0 {
		t.Fatalf("the standby run handled %v files while the first held the lease", n)
	}

	// The holder stops and releases: the standby takes over.
	a.stop(t)
	drop(t, in, "b.csv", "order_id,amount\no3,3\n")
	landedBy(regB, 1)
	b.stop(t)
	if got := tableRows(t, sink, table.Identifier{"raw", "pl_leased_orders"}); got != 4 {
		t.Fatalf("the table holds %d rows, want 4", got)
	}
}

func TestTwoProcessesFetchEachPolledWindowOnce(t *testing.T) {
	sink := env.Sink(t)
	pls, srv, _ := pricesPipeline(t, "leased_prices", 4)
	a := startRun(t, nil, sink, pls)
	b := startRun(t, nil, sink, pls)
	eventually(t, 20*time.Second, func() (bool, string) {
		st := statusOf(t, sink, pls, "leased_prices")
		return st.Windows != nil && len(st.Windows.Landed) == 4, fmt.Sprintf("status %+v", st.Windows)
	})
	time.Sleep(500 * time.Millisecond)
	a.stop(t)
	b.stop(t)
	for w, n := range srv.requests {
		if n != 1 {
			t.Errorf("window %s fetched %d times, want once", w, n)
		}
	}
	if len(srv.requests) != 4 {
		t.Errorf("%d windows fetched, want 4", len(srv.requests))
	}
}
