package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/collector/internal/spool"
)

// Config configures a collector. Table and SpoolDir are required; every
// other field has the default its comment names.
type Config struct {
	// Addr is where ListenAndServe listens. Default 127.0.0.1:8088.
	Addr string
	// Table is the <zone>.<table> the events land in; rejects land in
	// <zone>.<table>__quarantine.
	Table table.Identifier
	// Source is written to the _source lineage column and the quarantine's
	// source column. Default "http-collector".
	Source string
	// Schema declares the events' columns, matched by top-level JSON field
	// name; an event with another field is rejected. Nil: the columns of
	// the table when it exists, otherwise inferred from the first request
	// with valid events (the table is created then).
	Schema *arrow.Schema
	// Required lists the fields every event must carry, not null.
	Required []string
	// SpoolDir holds the write-ahead spool. One collector per directory.
	SpoolDir string
	// FlushRows: the spool's active segment is flushed once it holds this
	// many events. Default 10000.
	FlushRows int
	// FlushBytes: or once it holds this many bytes; this also bounds a
	// spool segment, and so one commit, while the table cannot be written.
	// Default 64 MiB.
	FlushBytes int64
	// FlushInterval: or once its first event is this old. Default 5s.
	FlushInterval time.Duration
	// MaxSpoolBytes: with this many bytes waiting to be flushed, requests
	// are refused (429; 503 while the table cannot be written). Default 1 GiB.
	MaxSpoolBytes int64
	// MaxLag: likewise once the oldest waiting event is this old. Default 2m.
	MaxLag time.Duration
	// MaxBodyBytes bounds a request body; a larger one gets 413. Default
	// 4 MiB, at most 16 MiB.
	MaxBodyBytes int64
	// MaxInFlight bounds the event requests handled at once, and so the
	// memory their bodies take; more get 429. Default 256.
	MaxInFlight int
	// ShutdownTimeout bounds the wait for requests in flight at shutdown.
	// Default 10s.
	ShutdownTimeout time.Duration
	// DrainTimeout bounds the flushing of what is spooled at shutdown; what
	// is left stays in the spool for the next start. Default 30s.
	DrainTimeout time.Duration
}

// Validate checks the required fields and the bounds.
func (c Config) Validate() error {
	switch {
	case len(c.Table) < 2:
		return errors.New("collector config: Table must be <zone>.<table>")
	case c.SpoolDir == "":
		return errors.New("collector config: SpoolDir is required")
	case c.MaxBodyBytes > 16<<20:
		return fmt.Errorf("collector config: MaxBodyBytes %d is over 16 MiB", c.MaxBodyBytes)
	case c.FlushRows < 0 || c.MaxInFlight < 0 || c.FlushBytes < 0 || c.FlushInterval < 0 || c.MaxSpoolBytes < 0 || c.MaxLag < 0 || c.MaxBodyBytes < 0:
		return errors.New("collector config: sizes and durations cannot be negative")
	}
	if c.Schema != nil {
		if _, err := ingest.WithLineage(c.Schema); err != nil {
			return fmt.Errorf("collector config: %w", err)
		}
		for _, name := range c.Required {
			if !c.Schema.HasField(name) {
				return fmt.Errorf("collector config: required field %q is not in Schema", name)
			}
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8088"
	}
	if c.Source == "" {
		c.Source = "http-collector"
	}
	if c.FlushRows == 0 {
		c.FlushRows = 10000
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	def(&c.FlushBytes, 64<<20)
	def(&c.MaxSpoolBytes, 1<<30)
	def(&c.MaxBodyBytes, 4<<20)
	defDur(&c.FlushInterval, 5*time.Second)
	defDur(&c.MaxLag, 2*time.Minute)
	defDur(&c.ShutdownTimeout, 10*time.Second)
	defDur(&c.DrainTimeout, 30*time.Second)
	return c
}

// Collector receives events over HTTP and lands them in one table.
type Collector struct {
	logger *slog.Logger
	cfg    Config
	lake   lake
	m      *metrics
	schema schemaState
	tmp    string                      // scratch files for the files source
	slots  chan struct{}               // one per event request in flight
	sp     atomic.Pointer[spool.Spool] // while serving
	fl     *flusher
	served atomic.Bool
}

// New returns a collector landing in sink's catalog. Its metrics are
// registered on reg (nil: not registered).
func New(logger *slog.Logger, reg prometheus.Registerer, sink *ingest.Sink, cfg Config) (*Collector, error) {
	return newCollector(logger, reg, sinkLake{sink}, cfg)
}

func newCollector(logger *slog.Logger, reg prometheus.Registerer, l lake, cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.MaxBodyBytes > cfg.MaxSpoolBytes {
		return nil, fmt.Errorf("collector config: MaxBodyBytes %d is over MaxSpoolBytes %d", cfg.MaxBodyBytes, cfg.MaxSpoolBytes)
	}
	dir, err := filepath.Abs(cfg.SpoolDir)
	if err != nil {
		return nil, fmt.Errorf("resolving spool directory: %w", err)
	}
	cfg.SpoolDir = dir
	c := &Collector{logger: logger.With("table", strings.Join(cfg.Table, ".")), cfg: cfg, lake: l, tmp: filepath.Join(dir, "tmp"),
		slots: make(chan struct{}, cfg.MaxInFlight)}
	c.m = newMetrics(reg, c)
	c.fl = &flusher{c: c}
	return c, nil
}

// ListenAndServe listens on cfg.Addr and serves until ctx is done.
func (c *Collector) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.cfg.Addr, err)
	}
	return c.Serve(ctx, ln)
}

// Serve opens the spool (recovering what a crash left), flushes what it
// holds and serves requests on ln until ctx is done. Then it stops taking
// requests, waits for those in flight, and flushes the spool for at most
// DrainTimeout. A collector serves once.
func (c *Collector) Serve(ctx context.Context, ln net.Listener) (err error) {
	if c.served.Swap(true) {
		_ = ln.Close()
		return errors.New("serving collector: it served already")
	}
	sp, err := spool.Open(c.logger, c.cfg.SpoolDir, spool.Options{SegmentBytes: c.cfg.FlushBytes, OnSync: c.m.observeSync})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("opening spool: %w", err)
	}
	defer func() {
		if cerr := sp.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := resetDir(c.tmp); err != nil {
		_ = ln.Close()
		return err
	}
	c.fl.sp = sp
	c.sp.Store(sp)
	defer c.sp.Store(nil)
	if n := len(sp.Sealed()); n > 0 {
		c.logger.Info("replaying spool", "segments", n)
	}

	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); sp.Run(writerCtx) }()
	defer func() { stopWriter(); <-writerDone }()
	flushCtx, stopFlusher := context.WithCancel(ctx)
	flusherDone := make(chan struct{})
	go func() { defer close(flusherDone); c.fl.run(flushCtx) }()
	defer func() { stopFlusher(); <-flusherDone }()

	srv := &http.Server{
		Handler:           c.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c.logger.Info("collector serving", "addr", ln.Addr().String(), "spool", c.cfg.SpoolDir)
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("serving collector: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		c.logger.Warn("requests still in flight at shutdown", "err", err)
		_ = srv.Close()
	}
	<-served
	stopFlusher()
	<-flusherDone
	stopWriter()
	<-writerDone
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.DrainTimeout)
	defer cancel()
	return c.fl.drain(dctx)
}

// resetDir empties the scratch folder: what a killed run left there is
// garbage.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing scratch folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating scratch folder: %w", err)
	}
	return nil
}
