package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// defaultMetricsAddr is where the ingest metrics are served.
const defaultMetricsAddr = "127.0.0.1:9464"

// serveMetrics serves a new registry at http://addr/metrics until ctx ends
// and returns it for the pipelines to register on. An empty addr serves
// nothing and returns a registry nobody reads.
func serveMetrics(ctx context.Context, logger *slog.Logger, addr string) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if addr == "" {
		return reg, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving ingest metrics on %s (--metrics-addr \"\" turns them off): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving ingest metrics", "err", err)
		}
	}()
	logger.Info("ingest metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return reg, nil
}
