package kafka

import (
	"strings"

	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are an ingester's Prometheus collectors, labelled with its table.
type metrics struct {
	rows          prometheus.Counter
	quarantined   prometheus.Counter
	bytes         prometheus.Counter
	commits       *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	lag           *prometheus.GaugeVec
	rewinds       prometheus.Counter
}

// newMetrics registers on reg (nil: nowhere). Two ingesters of one table
// cannot share a registerer.
func newMetrics(reg prometheus.Registerer, ident table.Identifier) *metrics {
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"table": strings.Join(ident, ".")}, reg))
	const ns, sub = "lakehouse", "ingest_kafka"
	return &metrics{
		rows: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_total",
			Help: "Records committed to the table."}),
		quarantined: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "quarantined_total",
			Help: "Records committed to the quarantine table."}),
		bytes: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_total",
			Help: "Bytes of record values committed, accepted or quarantined."}),
		commits: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commits_total",
			Help: "Flushes by outcome: committed, skipped (already landed), refused (offsets moved), unknown, failed."}, []string{"outcome"}),
		commitSeconds: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_seconds",
			Help:    "Time from a flush's start to its commit: decoding, Parquet writing and the catalog commit.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lag_records",
			Help: "Records of an owned partition not committed to the lake yet, as of the last fetch."}, []string{"topic", "partition"}),
		rewinds: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rewinds_total",
			Help: "Sessions that ended in an error: the buffer was dropped and consumption resumed from the lake's offsets."}),
	}
}
