// Command ingestbench measures ingestion end to end on one embedded stack:
// bulk landing (ours vs pyiceberg vs bare Parquet encoding) of Online
// Retail and synthetic clickstream events, and streaming latency from Kafka
// to the lake. It prints the figures and writes them into BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/bench"
	"github.com/lakehouse-go/lakehouse/lakehouse/benchmd"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

type config struct {
	out, retail, python, script, profileDir string
	events, runs, batchRows, rate           int
	streamFor, flush                        time.Duration
	skipStream, streamTrino                 bool
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "Markdown file whose ingestbench section gets the figures; empty: print only")
	flag.StringVar(&c.retail, "retail", "/work/shared/datasets/online_retail/online_retail_2010-2011.parquet", "Online Retail Parquet file")
	flag.StringVar(&c.python, "python", ".venv/bin/python", "Python with pyiceberg (go tool task tools:venv)")
	flag.StringVar(&c.script, "script", "ingest/bench/testdata/pyappend.py", "the pyiceberg append script")
	flag.StringVar(&c.profileDir, "cpuprofile-dir", "", "write CPU profiles of one extra landing per dataset (ours) here")
	flag.IntVar(&c.events, "events", 10_000_000, "synthetic clickstream events")
	flag.IntVar(&c.runs, "runs", 3, "measured runs per contender (after one warm-up); the median counts")
	flag.IntVar(&c.batchRows, "batch-rows", 65_536, "rows per Arrow record batch")
	flag.IntVar(&c.rate, "stream-rate", 10_000, "streaming: events produced per second")
	flag.DurationVar(&c.streamFor, "stream-duration", 60*time.Second, "streaming: how long to produce")
	flag.DurationVar(&c.flush, "stream-flush", 2*time.Second, "streaming: the ingester's flush interval")
	flag.BoolVar(&c.skipStream, "skip-stream", false, "skip the streaming measurement")
	flag.BoolVar(&c.streamTrino, "stream-trino", true, "streaming: judge visibility by Trino queries (false: by the catalog's committed offsets)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The command as a reader reruns it: the task itself passes -out and
	// -cpuprofile-dir.
	var args []string
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "cpuprofile-dir" {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	if err := run(ctx, logger, c, strings.Join(args, " ")); err != nil {
		logger.Error("ingestbench failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, c config, args string) (err error) {
	// The stack changes the working directory: resolve paths first.
	for _, p := range []*string{&c.out, &c.retail, &c.python, &c.script, &c.profileDir} {
		if *p == "" {
			continue
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return fmt.Errorf("resolving %s: %w", *p, err)
		}
	}
	tmp, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return fmt.Errorf("creating temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, err := stacktest.Start(ctx, filepath.Join(tmp, "stack"))
	if err != nil {
		return fmt.Errorf("starting the stack: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stopping the stack: %w", cerr)
		}
	}()
	sink, err := ingest.Open(ctx, logger, st.CatalogURL())
	if err != nil {
		return err
	}
	cmd := "go tool task bench:ingest"
	if args != "" {
		cmd += " -- " + args
	}
	r := bench.Run{Date: time.Now(), Machine: machine(), Command: cmd, Runs: c.runs}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			return fmt.Errorf("creating profile dir: %w", err)
		}
	}

	retail, err := bench.LoadParquet(ctx, "Online Retail 2010-2011", c.retail, int64(c.batchRows))
	if err != nil {
		return err
	}
	br, err := bulk(ctx, logger, sink, c, st.CatalogURL(), tmp, "retail", retail, &r)
	retail.Release()
	if err != nil {
		return err
	}
	r.Bulk = append(r.Bulk, br)

	logger.Info("generating events", "rows", c.events)
	events, err := bench.GenerateEvents(c.events, c.batchRows)
	if err != nil {
		return err
	}
	br, err = bulk(ctx, logger, sink, c, st.CatalogURL(), tmp, "events", events, &r)
	events.Release()
	if err != nil {
		return err
	}
	r.Bulk = append(r.Bulk, br)

	if !c.skipStream {
		sr, err := stream(ctx, logger, st, sink, c, tmp)
		if err != nil {
			return err
		}
		r.Stream = &sr
	}
	r.Notes = append(r.Notes,
		"ours and bare Parquet write with iceberg-go v0.7's default Parquet settings: zstd (codec default level), data page v2, dictionaries with cost-based fallback, 128 MiB / 1,048,576-row row groups; bare Parquet encodes the same batches with pqarrow into a counting io.Discard (no S3, no catalog), once with one encoder and once with the batches dealt round robin to as many encoders as ours has writers (ingest.Config.Writers: one Parquet file per writer, each encoded on its own core). pyiceberg writes with its own defaults (zstd as well).",
		"ours: Sink.Stage (table.WriteRecords → Parquet data files in the embedded S3) then Sink.CommitOnce (one catalog transaction), without the lineage columns that Sink.Land adds.",
		"pyiceberg: the same Arrow batches written to an Arrow IPC file first (not timed); the script loads the catalog from its URI only and times only table.append.")
	if err := r.PrintTable(os.Stdout); err != nil {
		return fmt.Errorf("printing figures: %w", err)
	}
	if c.out == "" {
		return nil
	}
	return benchmd.WriteSection(c.out, "ingestbench", "Ingest", r.Markdown())
}

func bulk(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, c config, uri, tmp, name string, d *bench.Dataset, r *bench.Run) (bench.BulkResult, error) {
	res := bench.BulkResult{Data: d, Writers: ingest.DefaultConfig().Writers}
	logger.Info("measuring", "dataset", d.Name, "rows", d.Rows, "arrow_mb", float64(d.Bytes)/1e6)
	var err error
	prof := ""
	if c.profileDir != "" {
		prof = filepath.Join(c.profileDir, "ours-"+name+".pprof")
	}
	if res.Ours, err = bench.Ours(ctx, sink, "exploration", d, name, c.runs, prof); err != nil {
		return res, fmt.Errorf("measuring ours on %s: %w", d.Name, err)
	}
	logger.Info("ours", "dataset", d.Name, "median", res.Ours.Median())
	if res.Bare, err = bench.Bare(d, c.runs, 1); err != nil {
		return res, fmt.Errorf("measuring bare Parquet on %s: %w", d.Name, err)
	}
	logger.Info("bare parquet", "dataset", d.Name, "encoders", 1, "median", res.Bare.Median())
	if res.Writers > 1 {
		if res.BareDealt, err = bench.Bare(d, c.runs, res.Writers); err != nil {
			return res, fmt.Errorf("measuring bare Parquet on %s: %w", d.Name, err)
		}
		logger.Info("bare parquet", "dataset", d.Name, "encoders", res.Writers, "median", res.BareDealt.Median())
	}
	res.Pyiceberg, r.Py, err = bench.Pyiceberg(ctx, c.python, c.script, uri, "exploration", name, filepath.Join(tmp, name+".arrow"), d, c.runs)
	if err != nil {
		return res, fmt.Errorf("measuring pyiceberg on %s: %w", d.Name, err)
	}
	logger.Info("pyiceberg", "dataset", d.Name, "median", res.Pyiceberg.Median())
	return res, nil
}

func stream(ctx context.Context, logger *slog.Logger, st *stack.Stack, sink *ingest.Sink, c config, tmp string) (_ bench.StreamResult, err error) {
	trinoURL := ""
	if c.streamTrino {
		tr, err := stacktest.StartTrino(ctx, st, tmp, 0)
		if err != nil {
			return bench.StreamResult{}, fmt.Errorf("starting Trino for the streaming check: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if serr := tr.Stop(sctx); serr != nil && err == nil {
				err = fmt.Errorf("stopping Trino: %w", serr)
			}
		}()
		trinoURL = tr.URL()
	}
	n := c.rate * int(c.streamFor/time.Second+1)
	events, err := bench.GenerateEvents(n, c.batchRows)
	if err != nil {
		return bench.StreamResult{}, err
	}
	defer events.Release()
	logger.Info("streaming", "rate", c.rate, "duration", c.streamFor, "flush", c.flush)
	res, err := bench.Stream(ctx, logger, sink, events, bench.StreamConfig{
		Table: []string{"exploration", "stream_events"}, Rate: c.rate, Duration: c.streamFor, Flush: c.flush,
		TrinoURL: trinoURL,
	})
	if err != nil {
		return res, fmt.Errorf("measuring streaming: %w", err)
	}
	return res, nil
}

// machine describes where the figures come from.
func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs%s%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, mem)
}
