package compaction

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the service's Prometheus series, one label "table"
// ("zone.table") on the health gauges.
type metrics struct {
	dataFiles, smallFiles, deleteFiles *prometheus.GaugeVec
	smallRatio, deleteRatio            *prometheus.GaugeVec
	snapshots, manifests, bytes, parts *prometheus.GaugeVec
	maxFilesPerPart, needsWork, halted *prometheus.GaugeVec
	runs, conflicts, rewrittenBytes    *prometheus.CounterVec
	expiredSnapshots, orphansRemoved   *prometheus.CounterVec
	filesRewritten, filesWritten       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	g := func(name, help string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Namespace: "lakehouse", Subsystem: "compaction", Name: name, Help: help}, []string{"table"})
	}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Namespace: "lakehouse", Subsystem: "compaction", Name: name, Help: help}, append([]string{"table"}, labels...))
	}
	return &metrics{
		dataFiles:        g("data_files", "Data files in the current snapshot."),
		smallFiles:       g("small_files", "Data files below 3/4 of the policy's target size."),
		deleteFiles:      g("delete_files", "Delete files in the current snapshot."),
		smallRatio:       g("small_file_ratio", "Share of data files that are small."),
		deleteRatio:      g("delete_file_ratio", "Share of rows masked by delete files."),
		snapshots:        g("snapshots", "Snapshots in the table metadata."),
		manifests:        g("manifests", "Manifests of the current snapshot."),
		bytes:            g("data_bytes", "Bytes of data files in the current snapshot."),
		parts:            g("partitions", "Partitions with data files."),
		maxFilesPerPart:  g("max_files_per_partition", "Data files of the partition with the most."),
		needsWork:        g("needs_work", "1 when the policy finds work to do."),
		halted:           g("halted", "1 when maintenance of the table halted on corrupt metadata."),
		runs:             c("operations_total", "Maintenance operations run, by operation and outcome.", "operation", "outcome"),
		conflicts:        c("conflicts_total", "Rewrites abandoned because a concurrent commit touched their files."),
		rewrittenBytes:   c("rewritten_bytes_total", "Data bytes read by rewrites."),
		expiredSnapshots: c("expired_snapshots_total", "Snapshots expired."),
		orphansRemoved:   c("orphans_removed_total", "Orphan files removed."),
		filesRewritten:   c("files_rewritten_total", "Data files replaced by rewrites."),
		filesWritten:     c("files_written_total", "Data files written by rewrites."),
	}
}

func (m *metrics) observe(st TableStatus) {
	t := Name(st.Table)
	s := st.Stats
	m.dataFiles.WithLabelValues(t).Set(float64(s.DataFiles))
	m.smallFiles.WithLabelValues(t).Set(float64(s.SmallFiles))
	m.deleteFiles.WithLabelValues(t).Set(float64(s.DeleteFiles))
	m.smallRatio.WithLabelValues(t).Set(s.SmallFileRatio())
	m.deleteRatio.WithLabelValues(t).Set(s.DeleteRatio())
	m.snapshots.WithLabelValues(t).Set(float64(s.Snapshots))
	m.manifests.WithLabelValues(t).Set(float64(s.Manifests))
	m.bytes.WithLabelValues(t).Set(float64(s.DataBytes))
	m.parts.WithLabelValues(t).Set(float64(s.Partitions))
	m.maxFilesPerPart.WithLabelValues(t).Set(float64(s.MaxFilesPerPart))
	needs := 0.0
	if len(st.Reasons) > 0 {
		needs = 1
	}
	m.needsWork.WithLabelValues(t).Set(needs)
	halted := 0.0
	if st.Halted != nil {
		halted = 1
	}
	m.halted.WithLabelValues(t).Set(halted)
}
