package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/lakehouse-go/lakehouse/catalog-rest/lease"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/collector"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
)

// backoff is how a failed pipeline is restarted: after min, doubling up
// to max; a run that lasted reset starts the doubling over.
type backoff struct {
	min, max, reset time.Duration
}

func defaultBackoff() backoff {
	return backoff{min: time.Second, max: 2 * time.Minute, reset: 5 * time.Minute}
}

func (b backoff) wait(failures int) time.Duration {
	d := b.min << min(failures-1, 20)
	if d <= 0 || d > b.max {
		return b.max
	}
	return d
}

// Run runs every pipeline in a goroutine of its own until ctx ends, then
// waits for all of them to stop (each source flushes or commits what it
// holds first) and returns nil. A pipeline that fails (its source returns
// an error, or stops on its own) is logged and restarted after a backoff,
// 1s doubling up to 2m; the others run on. Before its source starts, a
// pipeline with a declared schema gets its tables created and its
// partitioning applied. Metrics are registered on reg (nil: nowhere),
// labelled with the pipeline. Only invalid pipelines are an error.
func Run(ctx context.Context, logger *slog.Logger, reg prometheus.Registerer, sink *ingest.Sink, pipelines []Pipeline) error {
	if err := Validate(pipelines); err != nil {
		return err
	}
	m := newMetrics(reg)
	leases := lease.NewClient(sink.CatalogURI(), nil)
	holder := leaseHolder()
	var wg sync.WaitGroup
	for _, p := range pipelines {
		r := &runner{
			// The sources name the table in their own log lines.
			logger: logger.With("pipeline", p.Name),
			reg:    reg,
			sink:   sink,
			p:      p,
			m:      m,
			leases: leases,
			holder: holder,
		}
		if p.Source.Files != nil {
			r.files = newFilesRunner(r.logger.With("table", p.Table), sink, p, m)
		}
		wg.Go(func() {
			supervise(ctx, r.logger, defaultBackoff(), r.attempt, m.running.WithLabelValues(p.Name), m.restarts.WithLabelValues(p.Name))
		})
	}
	logger.Info("pipelines running", "count", len(pipelines))
	wg.Wait()
	logger.Info("pipelines stopped")
	return nil
}

// supervise runs attempt until ctx ends, restarting it after each failure
// with a growing wait.
func supervise(ctx context.Context, logger *slog.Logger, b backoff, attempt func(context.Context) error, running prometheus.Gauge, restarts prometheus.Counter) {
	failures := 0
	for {
		began := time.Now()
		running.Set(1)
		err := attempt(ctx)
		running.Set(0)
		if ctx.Err() != nil {
			if err != nil {
				logger.Error("pipeline stopped with an error", "err", err)
			}
			return
		}
		if err == nil {
			err = errStopped
		}
		if time.Since(began) >= b.reset {
			failures = 0
		}
		failures++
		wait := b.wait(failures)
		logger.Error("pipeline failed; restarting", "err", err, "failures", failures, "restart_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		restarts.Inc()
	}
}

// runner is one pipeline's state across restarts.
type runner struct {
	logger *slog.Logger
	reg    prometheus.Registerer
	sink   *ingest.Sink
	p      Pipeline
	m      *metrics
	files  *filesRunner
	leases leaser
	holder string
}

// attempt runs the pipeline once; files and poll pipelines under their
// lease (see leased).
func (r *runner) attempt(ctx context.Context) error {
	if r.files == nil && r.p.Source.Poll == nil {
		return r.run(ctx)
	}
	return leased(ctx, r.logger, r.leases, "ingest/pipeline/"+r.p.Name, r.holder, leaseTTL, r.run)
}

// run prepares the tables and runs the source once, until ctx ends or it
// fails.
func (r *runner) run(ctx context.Context) error {
	if err := prepareTables(ctx, r.logger, r.sink, r.p); err != nil {
		return err
	}
	switch {
	case r.files != nil:
		return r.files.run(ctx)
	case r.p.Source.HTTP != nil:
		reg := r.scoped()
		defer reg.release()
		c, err := collector.New(r.logger, reg.registerer(), r.sink, r.p.collectorConfig())
		if err != nil {
			return err
		}
		return c.ListenAndServe(ctx)
	case r.p.Source.Kafka != nil:
		reg := r.scoped()
		defer reg.release()
		return kafka.Run(ctx, r.logger, r.sink, r.p.kafkaConfig(reg.registerer()))
	case r.p.Source.Poll != nil:
		windows := r.m.windows
		onWindow := func(w poll.WindowReport) {
			outcome := "landed"
			switch {
			case w.Err != nil:
				outcome = "failed"
			case w.Received > 0 && w.Skipped == w.Received:
				outcome = "skipped"
			}
			windows.WithLabelValues(r.p.Name, outcome).Inc()
		}
		return poll.Run(ctx, r.logger, r.sink, r.p.pollConfig(onWindow), nil)
	}
	return fmt.Errorf("running %s: no source", r.p.Name)
}

// scoped is a registerer for one attempt of a source, labelled with the
// pipeline.
func (r *runner) scoped() *scopedRegisterer {
	if r.reg == nil {
		return &scopedRegisterer{}
	}
	return &scopedRegisterer{parent: prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": r.p.Name}, r.reg)}
}

// scopedRegisterer registers on its parent and takes it all back on
// release, so that a restarted source can register its metrics again.
type scopedRegisterer struct {
	parent prometheus.Registerer
	mu     sync.Mutex
	cs     []prometheus.Collector
}

// registerer is s, or nil when there is no parent: the source packages
// read a nil Registerer as "do not register".
func (s *scopedRegisterer) registerer() prometheus.Registerer {
	if s.parent == nil {
		return nil
	}
	return s
}

func (s *scopedRegisterer) Register(c prometheus.Collector) error {
	if err := s.parent.Register(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cs = append(s.cs, c)
	return nil
}

// MustRegister panics on a failed registration, as the interface says.
func (s *scopedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := s.Register(c); err != nil {
			panic(err)
		}
	}
}

func (s *scopedRegisterer) Unregister(c prometheus.Collector) bool {
	s.mu.Lock()
	s.cs = slices.DeleteFunc(s.cs, func(x prometheus.Collector) bool { return x == c })
	s.mu.Unlock()
	return s.parent.Unregister(c)
}

func (s *scopedRegisterer) release() {
	if s.parent == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cs {
		s.parent.Unregister(c)
	}
	s.cs = nil
}

// metrics are the runner's own, beside those of the sources.
type metrics struct {
	running  *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	files    *prometheus.CounterVec
	windows  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "lakehouse", "pipeline"
	return &metrics{
		running: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "running",
			Help: "1 while the pipeline's source runs, 0 while it waits to be restarted after a failure."}, []string{"pipeline"}),
		restarts: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "restarts_total",
			Help: "Restarts of the pipeline after a failure."}, []string{"pipeline"}),
		files: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "files_total",
			Help: "Files a files pipeline handled, by outcome: landed, skipped (landed before), failed (tried again later)."}, []string{"pipeline", "outcome"}),
		windows: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "windows_total",
			Help: "Windows a poll pipeline handled, by outcome: landed, skipped (landed before), failed (tried again later)."}, []string{"pipeline", "outcome"}),
	}
}
