package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/generator"
	"github.com/lakehouse-go/lakehouse/ingest/pipeline"
	"github.com/lakehouse-go/lakehouse/lakehouse/sample"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/trino"
)

type upFlags struct {
	stack       stack.Config
	trinoPort   int
	noTrino     bool
	noSample    bool
	orders      int
	pipelines   string
	metricsAddr string
	compaction  compactionFlags
}

func (f *upFlags) register(fs *flag.FlagSet, withTrino bool) {
	fs.StringVar(&f.stack.StateDir, "state-dir", envOr("LAKEHOUSE_STATE_DIR", ".lakehouse"), "folder for all state: objects, catalog database, Trino (env LAKEHOUSE_STATE_DIR)")
	fs.StringVar(&f.stack.S3Addr, "s3-addr", "127.0.0.1:9000", "embedded S3 listen address")
	fs.StringVar(&f.stack.CatalogAddr, "catalog-addr", "127.0.0.1:8181", "REST catalog listen address")
	fs.StringVar(&f.stack.CatalogDSN, "catalog-db", envOr("LAKEHOUSE_CATALOG_DB", ""), "PostgreSQL URL for the catalog's state (env LAKEHOUSE_CATALOG_DB); default SQLite in the state dir")
	fs.BoolVar(&f.stack.LogRequests, "log-requests", !withTrino, "log every catalog request (default on for `catalog`, off for `up`)")
	if withTrino {
		fs.IntVar(&f.trinoPort, "trino-port", 8080, "Trino HTTP port")
		fs.BoolVar(&f.noTrino, "no-trino", false, "do not start Trino")
		fs.BoolVar(&f.noSample, "no-sample", false, "do not land the generated sample data in raw")
		fs.IntVar(&f.orders, "orders", generator.DefaultSpec().Orders, "orders in the generated sample data")
		fs.StringVar(&f.pipelines, "pipelines", "", "ingestion pipelines file (YAML) to run once the stack is ready")
		fs.StringVar(&f.metricsAddr, "metrics-addr", defaultMetricsAddr, "serve the pipelines' and compaction's Prometheus metrics at http://ADDR/metrics (\"\" turns it off)")
		f.compaction.register(fs)
	}
}

// startStack resolves the state dir before anything else: the embedded S3
// backend changes the process's working directory.
func (f *upFlags) startStack(ctx context.Context, logger *slog.Logger) (*stack.Stack, error) {
	dir, err := filepath.Abs(f.stack.StateDir)
	if err != nil {
		return nil, fmt.Errorf("resolving state dir: %w", err)
	}
	f.stack.StateDir = dir
	return stack.Start(ctx, logger, f.stack)
}

func runUp(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f upFlags
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	f.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	began := time.Now()
	pls, err := loadPipelines(f.pipelines, f.stack.StateDir)
	if err != nil {
		return err
	}
	compactionPolicy, err := f.compaction.load()
	if err != nil {
		return err
	}
	lake, err := f.startStack(ctx, logger)
	if err != nil {
		return err
	}
	var tr *trino.Server
	defer func() {
		if tr != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := tr.Stop(sctx); err != nil {
				logger.Error("stopping Trino", "err", err)
			}
		}
		if err := lake.Close(); err != nil {
			logger.Error("stopping lakehouse", "err", err)
		}
		logger.Info("lakehouse stopped")
	}()

	// Trino takes the longest to start: start it while the sample lands.
	trc := make(chan error, 1)
	if !f.noTrino {
		go func() {
			var err error
			tr, err = trino.Start(ctx, logger, trinoConfig(lake, f.trinoPort))
			trc <- err
		}()
	} else {
		trc <- nil
	}
	var stats *generator.Stats
	if !f.noSample {
		st, err := landSample(ctx, logger, lake, f.orders)
		if err != nil {
			return errors.Join(err, <-trc)
		}
		stats = &st
	}
	if err := <-trc; err != nil {
		return err
	}
	printBanner(stdout, lake, tr, stats, f.pipelines, pls, time.Since(began))
	var reg *prometheus.Registry
	if len(pls) > 0 || compactionPolicy != nil {
		if reg, err = serveMetrics(ctx, logger, f.metricsAddr); err != nil {
			return err
		}
	}
	stopPipelines, err := startPipelines(ctx, logger, lake.CatalogURL(), reg, pls)
	if err != nil {
		return err
	}
	defer stopPipelines()
	stopCompaction, err := startCompaction(ctx, logger, reg, lake.CatalogURL(), compactionPolicy)
	if err != nil {
		return err
	}
	defer stopCompaction()

	var trinoDone <-chan error
	if tr != nil {
		done := make(chan error, 1)
		go func() { done <- tr.Wait() }()
		trinoDone = done
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case err := <-trinoDone:
		tr = nil
		return fmt.Errorf("trino exited unexpectedly: %w", err)
	}
}

func landSample(ctx context.Context, logger *slog.Logger, lake *stack.Stack, orders int) (generator.Stats, error) {
	sink, err := ingest.Open(ctx, logger, lake.CatalogURL())
	if err != nil {
		return generator.Stats{}, err
	}
	spec := generator.DefaultSpec()
	spec.Orders = orders
	stats, results, err := sample.Land(ctx, logger, sink, spec)
	if err != nil {
		return stats, fmt.Errorf("landing sample data: %w", err)
	}
	for _, r := range results {
		if r.Skipped {
			logger.Info("sample table already present, kept as is", "table", sample.Zone+"."+r.Table)
		}
	}
	return stats, nil
}

func trinoConfig(lake *stack.Stack, port int) trino.Config {
	return trino.Config{
		DataDir:  filepath.Join(lake.Config().StateDir, "trino"),
		HTTPPort: port,
		Progress: os.Stderr,
		Catalog:  lake.TrinoCatalog(),
	}
}

func printBanner(w io.Writer, lake *stack.Stack, tr *trino.Server, stats *generator.Stats, plFile string, pls []pipeline.Pipeline, took time.Duration) {
	s3 := lake.Storage.Config()
	fmt.Fprintf(w, "\nlakehouse is ready (%s)\n\n", took.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  S3 (embedded)   %s  bucket %q, access key %q, secret %q, path-style\n", s3.Endpoint(), lake.Config().Bucket, s3.AccessKey, s3.SecretKey)
	fmt.Fprintf(w, "  REST catalog    %s  zones: raw, cleansed, curated, exploration\n", lake.CatalogURL())
	fmt.Fprintf(w, "  state           %s\n", lake.Config().StateDir)
	if stats != nil {
		fmt.Fprintf(w, "  sample data     raw.customers %d, raw.products %d, raw.orders %d, raw.order_items %d, raw.events %d rows\n",
			stats.Customers, stats.Products, stats.Orders, stats.OrderItems, stats.Events)
	}
	if len(pls) > 0 {
		fmt.Fprintf(w, "  pipelines       %s (status: bin/lakehouse ingest status --pipelines %s --catalog %s)\n", plFile, plFile, lake.CatalogURL())
		printPipelines(w, "    ", pls)
	}
	if tr != nil {
		fmt.Fprintf(w, "  Trino           %s  catalog \"lakehouse\"\n", tr.URL())
		fmt.Fprintf(w, "\nAnalysts (JDBC):   jdbc:trino://%s/lakehouse?user=analyst\n", tr.URL()[len("http://"):])
		fmt.Fprintf(w, "SQL from a shell:  bin/lakehouse sql \"SELECT status, count(*) FROM lakehouse.raw.orders GROUP BY status\"\n")
	}
	fmt.Fprintf(w, "\nNotebooks (pyiceberg):\n")
	fmt.Fprintf(w, "  from pyiceberg.catalog import load_catalog\n")
	fmt.Fprintf(w, "  cat = load_catalog(\"lakehouse\", type=\"rest\", uri=%q)\n", lake.CatalogURL())
	fmt.Fprintf(w, "  orders = cat.load_table(\"raw.orders\").scan().to_arrow()\n")
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

func runCatalog(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f upFlags
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	f.register(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lake, err := f.startStack(ctx, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "REST catalog %s over embedded S3 %s; Ctrl-C to stop\n", lake.CatalogURL(), lake.Storage.Config().Endpoint())
	<-ctx.Done()
	return lake.Close()
}

func runTrino(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "install" && args[0] != "run") {
		fmt.Fprintln(os.Stderr, "usage: lakehouse trino install | lakehouse trino run [flags]")
		return errUsage
	}
	fs := flag.NewFlagSet("trino "+args[0], flag.ContinueOnError)
	dataDir := fs.String("data-dir", ".lakehouse/trino", "Trino's etc/ and var/ (run)")
	port := fs.Int("port", 8080, "Trino HTTP port (run)")
	catalogURI := fs.String("catalog-uri", "http://127.0.0.1:8181", "Iceberg REST catalog URI (run)")
	s3 := fs.String("s3-endpoint", "http://127.0.0.1:9000", "S3 endpoint (run)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg := trino.Config{Progress: os.Stderr}
	if args[0] == "install" {
		dir, err := trino.Install(ctx, logger, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, dir)
		return nil
	}
	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		return fmt.Errorf("resolving data dir: %w", err)
	}
	cfg.DataDir, cfg.HTTPPort = abs, *port
	cfg.Catalog = trino.CatalogConfig{URI: *catalogURI, S3Endpoint: *s3, S3Region: "us-east-1", S3AccessKey: "lakehouse", S3SecretKey: "lakehouse-secret"}
	tr, err := trino.Start(ctx, logger, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Trino %s; Ctrl-C to stop\n", tr.URL())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return tr.Stop(sctx)
}
