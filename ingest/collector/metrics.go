package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/lakehouse-go/lakehouse/ingest"
)

type metrics struct {
	requests    *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	bytes       prometheus.Counter
	received    prometheus.Counter
	accepted    prometheus.Counter
	quarantined prometheus.Counter
	syncs       prometheus.Histogram
	groups      prometheus.Histogram
	flushes     *prometheus.CounterVec
	commits     prometheus.Histogram
	landed      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, c *Collector) *metrics {
	f := promauto.With(reg)
	stats := func(pick func(*Collector) float64) func() float64 { return func() float64 { return pick(c) } }
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lakehouse_collector_spool_bytes", Help: "Bytes in the spool waiting to be flushed.",
	}, stats(func(c *Collector) float64 {
		if sp := c.sp.Load(); sp != nil {
			return float64(sp.Stats().Bytes)
		}
		return 0
	}))
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lakehouse_collector_spool_sealed_segments", Help: "Sealed spool segments waiting to be flushed.",
	}, stats(func(c *Collector) float64 {
		if sp := c.sp.Load(); sp != nil {
			return float64(sp.Stats().Sealed)
		}
		return 0
	}))
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lakehouse_collector_lag_seconds", Help: "Age of the oldest event not yet committed to the table.",
	}, stats(func(c *Collector) float64 {
		if sp := c.sp.Load(); sp != nil {
			if st := sp.Stats(); !st.Oldest.IsZero() {
				return time.Since(st.Oldest).Seconds()
			}
		}
		return 0
	}))
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lakehouse_collector_flush_failing", Help: "1 while the last attempt to write the table failed.",
	}, stats(func(c *Collector) float64 {
		if c.fl.failing() != nil {
			return 1
		}
		return 0
	}))
	secs := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lakehouse_collector_requests_total", Help: "Event requests answered, by status code.",
		}, []string{"code"}),
		refusals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lakehouse_collector_refusals_total", Help: "Requests refused, by reason (backpressure, sink_unavailable, too_large, ...).",
		}, []string{"reason"}),
		bytes: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_collector_acknowledged_bytes_total", Help: "Body bytes of acknowledged requests.",
		}),
		received: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_collector_events_received_total", Help: "Events in acknowledged requests.",
		}),
		accepted: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_collector_events_accepted_total", Help: "Events acknowledged for the table.",
		}),
		quarantined: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_collector_events_quarantined_total", Help: "Events acknowledged for the quarantine table.",
		}),
		syncs: f.NewHistogram(prometheus.HistogramOpts{
			Name: "lakehouse_collector_spool_sync_seconds", Help: "Duration of a spool group commit (write and fsync).", Buckets: secs,
		}),
		groups: f.NewHistogram(prometheus.HistogramOpts{
			Name: "lakehouse_collector_spool_sync_requests", Help: "Requests made durable by one fsync.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		flushes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lakehouse_collector_flushes_total", Help: "Spool segment flushes, by result: landed, skipped (found in the table's history), failed.",
		}, []string{"result"}),
		commits: f.NewHistogram(prometheus.HistogramOpts{
			Name: "lakehouse_collector_commit_seconds", Help: "Duration of landing one spool segment (Parquet files and commit).", Buckets: secs,
		}),
		landed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lakehouse_collector_events_landed_total", Help: "Events committed, by table: data or quarantine.",
		}, []string{"table"}),
	}
}

func (m *metrics) observeSync(d time.Duration, n int) {
	m.syncs.Observe(d.Seconds())
	m.groups.Observe(float64(n))
}

func (m *metrics) acknowledged(bytes, accepted, quarantined int) {
	m.bytes.Add(float64(bytes))
	m.received.Add(float64(accepted + quarantined))
	m.accepted.Add(float64(accepted))
	m.quarantined.Add(float64(quarantined))
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) flushed(result string, d time.Duration, rep ingest.Report) {
	m.flushes.WithLabelValues(result).Inc()
	if result == "failed" {
		return
	}
	m.commits.Observe(d.Seconds())
	if result == "landed" {
		m.landed.WithLabelValues("data").Add(float64(rep.Accepted))
		m.landed.WithLabelValues("quarantine").Add(float64(rep.Quarantined))
	}
}
