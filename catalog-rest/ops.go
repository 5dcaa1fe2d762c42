package catalogrest

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	commits   prometheus.Counter
	conflicts prometheus.Counter
	retries   prometheus.Counter
	reports   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "lakehouse_catalog_requests_total", Help: "REST catalog requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lakehouse_catalog_request_duration_seconds",
			Help:    "REST catalog request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		commits: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_catalog_commits_total", Help: "Table commits that landed.",
		}),
		conflicts: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_catalog_commit_conflicts_total", Help: "Commits refused because their table kept changing concurrently.",
		}),
		retries: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_catalog_commit_retries_total", Help: "Commits the server retried on newer metadata after losing a race.",
		}),
		reports: f.NewCounter(prometheus.CounterOpts{
			Name: "lakehouse_catalog_metrics_reports_total", Help: "Scan and commit reports received from clients.",
		}),
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts and times requests and logs each one.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		took := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
		s.metrics.latency.WithLabelValues(route, r.Method).Observe(took.Seconds())
		level := slog.LevelDebug
		if s.cfg.LogRequests {
			level = slog.LevelInfo
		}
		s.logger.Log(r.Context(), level, "catalog request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", took, "remote", r.RemoteAddr)
	})
}

func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.store.ListNamespaces(ctx, nil); err != nil {
			http.Error(w, "catalog store unavailable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ready\n"))
	})
}
