// Package bench measures what the plugin boundary costs: the postgres
// connector reads the same PostgreSQL table once in-process (its Read
// called directly) and once as a plugin process (gRPC, Arrow IPC, AutoMTLS,
// launched by the host), and the two row rates are compared.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/connectors/postgres"
	"github.com/lakehouse-go/lakehouse/plugins/host"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
	"github.com/lakehouse-go/lakehouse/plugins/internal/olistpg"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Config says what to measure.
type Config struct {
	Copies    int // copies of the Olist order items in the benchmark table
	BatchSize int // rows per batch and checkpoint
	Rounds    int // alternating reads of each path; the median counts
	Dir       string
}

// Result is one benchmark run.
type Result struct {
	Config
	Date      time.Time
	Rows      int64
	Columns   int
	Batches   int
	InProcess time.Duration // median
	Plugin    time.Duration // median

	InProcessRuns, PluginRuns []time.Duration
	Launch                    time.Duration // starting the plugin process, handshake and Info
	Postgres                  string
	// Landing into a raw table through the host (lineage, Parquet, one
	// commit per checkpoint), in-process and through the plugin.
	LandInProcess, LandPlugin         time.Duration // medians
	LandInProcessRuns, LandPluginRuns []time.Duration
	LandRows                          int64
}

// Run starts PostgreSQL with the Olist sample, makes the benchmark table and
// reads it both ways.
func Run(ctx context.Context, logger *slog.Logger, cfg Config) (Result, error) {
	res := Result{Config: cfg, Date: time.Now().UTC()}
	dsn, stop, err := olistpg.Start(ctx, filepath.Join(cfg.Dir, "pg"))
	if err != nil {
		return res, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer stop()
	if res.Postgres, err = prepare(ctx, dsn, cfg.Copies); err != nil {
		return res, err
	}
	bins, err := gobuild.Build(ctx, cfg.Dir, "./plugins/connectors/postgres/cmd/lakehouse-postgres")
	if err != nil {
		return res, fmt.Errorf("%w (run from the repository root)", err)
	}
	exe := bins["lakehouse-postgres"]
	h := host.New(logger, filepath.Join(cfg.Dir, "plugins"), host.DefaultConfig())
	if _, err := h.Install(ctx, exe); err != nil {
		return res, err
	}
	raw, err := json.Marshal(map[string]any{"dsn": dsn, "tables": []string{"bench_items"}, "batch_size": cfg.BatchSize})
	if err != nil {
		return res, err
	}
	streams := []sdk.StreamRead{{Name: "bench_items", Mode: sdk.FullRefresh}}
	// A warm-up read fills PostgreSQL's cache, so neither side pays for the disk.
	if _, err := read(ctx, postgres.Connector{}, raw, streams); err != nil {
		return res, fmt.Errorf("warming up: %w", err)
	}
	start := time.Now()
	p, err := h.Launch(ctx, "postgres")
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.Launch = time.Since(start)
	// Rounds alternate the two paths, so that whatever else the machine
	// does weighs on both alike.
	var in, out measured
	for range cfg.Rounds {
		if in, err = read(ctx, postgres.Connector{}, raw, streams); err != nil {
			return res, fmt.Errorf("reading in-process: %w", err)
		}
		res.InProcessRuns = append(res.InProcessRuns, in.took)
		if out, err = read(ctx, p.Connector(), raw, streams); err != nil {
			return res, fmt.Errorf("reading through the plugin: %w", err)
		}
		res.PluginRuns = append(res.PluginRuns, out.took)
		if in.rows != out.rows || in.batches != out.batches {
			return res, fmt.Errorf("in-process read %d rows in %d batches, the plugin %d in %d", in.rows, in.batches, out.rows, out.batches)
		}
	}
	res.Rows, res.Batches, res.Columns = in.rows, in.batches, in.columns
	res.InProcess, res.Plugin = median(res.InProcessRuns), median(res.PluginRuns)
	p.Close()
	if err := land(ctx, h, raw, &res); err != nil {
		return res, err
	}
	return res, nil
}

// land runs the host's landing of the table twice, in-process and through
// the plugin, each into a fresh table of an embedded stack.
func land(ctx context.Context, h *host.Host, raw json.RawMessage, res *Result) error {
	lake, err := stacktest.Start(ctx, filepath.Join(res.Dir, "lake"))
	if err != nil {
		return fmt.Errorf("starting the embedded stack: %w", err)
	}
	defer lake.Close()
	sink, err := ingest.Open(ctx, slog.New(slog.DiscardHandler), lake.CatalogURL())
	if err != nil {
		return err
	}
	cfg := host.RunConfig{Plugin: "postgres", Config: raw, Mode: sdk.FullRefresh, Attempts: 1}
	var inRuns, outRuns []time.Duration
	for round := range res.Rounds {
		cfg.TablePrefix = fmt.Sprintf("inprocess%d_", round)
		start := time.Now()
		in, err := h.RunInProcess(ctx, sink, postgres.Connector{}, cfg)
		if err != nil {
			return fmt.Errorf("landing in-process: %w", err)
		}
		inRuns = append(inRuns, time.Since(start))
		cfg.TablePrefix = fmt.Sprintf("plugin%d_", round)
		start = time.Now()
		out, err := h.Run(ctx, sink, cfg)
		if err != nil {
			return fmt.Errorf("landing through the plugin: %w", err)
		}
		outRuns = append(outRuns, time.Since(start))
		if in[0].Rows != out[0].Rows {
			return fmt.Errorf("in-process landing took %d rows, the plugin's %d", in[0].Rows, out[0].Rows)
		}
		res.LandRows = in[0].Rows
	}
	res.LandInProcess, res.LandPlugin = median(inRuns), median(outRuns)
	res.LandInProcessRuns, res.LandPluginRuns = inRuns, outRuns
	return nil
}

// prepare makes bench_items: copies × the order items, with a primary key.
func prepare(ctx context.Context, dsn string, copies int) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sql := fmt.Sprintf(`CREATE TABLE bench_items AS
		SELECT g AS copy, i.*, i.shipping_limit_date AT TIME ZONE 'UTC' AS shipped_at
		FROM order_items i, generate_series(1, %d) g;
		ALTER TABLE bench_items ADD PRIMARY KEY (copy, order_id, order_item_id)`, copies)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("creating bench_items: %w", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE bench_items"); err != nil {
		return "", fmt.Errorf("vacuuming bench_items: %w", err)
	}
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", err
	}
	return version, nil
}

type measured struct {
	rows    int64
	batches int
	columns int
	took    time.Duration
}

// counter is the Writer both reads hand their batches to: it counts them
// and nothing more, so the figures are the read's and the boundary's.
type counter struct{ m measured }

func (c *counter) Records(_ string, rec arrow.RecordBatch) error {
	c.m.rows += rec.NumRows()
	c.m.batches++
	c.m.columns = int(rec.NumCols())
	return nil
}
func (c *counter) Reject(string, sdk.Reject) error          { return nil }
func (c *counter) Checkpoint(string, json.RawMessage) error { return nil }
func (c *counter) Log(slog.Level, string, ...slog.Attr)     {}

func read(ctx context.Context, c sdk.Connector, raw json.RawMessage, streams []sdk.StreamRead) (measured, error) {
	runtime.GC()
	var w counter
	start := time.Now()
	err := c.Read(ctx, raw, streams, &w)
	w.m.took = time.Since(start)
	return w.m, err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
