// Command pluginbench measures rows/s through the plugin boundary against
// the same connector in-process and writes the figures into BENCHMARKS.md
// (`go tool task bench:plugins`). Run it from the repository root.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/lakehouse-go/lakehouse/lakehouse/benchmd"
	"github.com/lakehouse-go/lakehouse/plugins/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := bench.Config{}
	out := flag.String("out", "", "Markdown file to write the Plugins section into (BENCHMARKS.md); empty prints it")
	flag.IntVar(&cfg.Copies, "copies", 60, "copies of the Olist order items in the benchmark table (8,365 rows each)")
	flag.IntVar(&cfg.BatchSize, "batch-rows", 10000, "rows per batch")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "alternating reads of each path (the median counts)")
	flag.Parse()
	if *out != "" {
		// The embedded stack changes the working directory: resolve first.
		abs, err := filepath.Abs(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		*out = abs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := os.MkdirTemp("", "pluginbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	res, err := bench.Run(ctx, logger, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pluginbench:", err)
		return 1
	}
	md := res.Markdown()
	fmt.Print(md)
	if *out != "" {
		if err := benchmd.WriteSection(*out, "pluginbench", "Plugins", md); err != nil {
			fmt.Fprintln(os.Stderr, "pluginbench:", err)
			return 1
		}
	}
	return 0
}
