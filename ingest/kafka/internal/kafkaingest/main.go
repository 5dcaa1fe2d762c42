// Command kafkaingest consumes Kafka topics into a lakehouse table until it
// is stopped (SIGINT, SIGTERM) or killed; a restart resumes from the
// offsets the table's commits recorded. The crash tests of package kafka
// run it.
//
//	kafkaingest -catalog http://127.0.0.1:8181 -brokers 127.0.0.1:9092 \
//	    -topics clicks -group lake -table raw.clicks
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaingest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kafkaingest", flag.ContinueOnError)
	catalogURI := fs.String("catalog", "http://127.0.0.1:8181", "Iceberg REST catalog URI")
	brokers := fs.String("brokers", "127.0.0.1:9092", "seed brokers, comma-separated")
	topics := fs.String("topics", "", "topics, comma-separated")
	table := fs.String("table", "", "target table, <zone>.<table>")
	var cfg kafka.Config
	fs.StringVar(&cfg.Group, "group", "", "consumer group")
	fs.StringVar(&cfg.InstanceID, "instance-id", "", "static group member id (optional)")
	fs.IntVar(&cfg.FlushRows, "flush-rows", 0, "flush after this many records (default 100000)")
	fs.Int64Var(&cfg.FlushBytes, "flush-bytes", 0, "flush after this many bytes of record values (default 64 MiB)")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 0, "flush this long after the first buffered record (default 10s)")
	fs.BoolVar(&cfg.StartAtEnd, "start-at-end", false, "start partitions the lake holds nothing of at their end")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Brokers = split(*brokers)
	cfg.Topics = split(*topics)
	if *table != "" {
		cfg.Table = strings.Split(*table, ".")
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sink, err := ingest.Open(ctx, logger, *catalogURI)
	if err != nil {
		return err
	}
	in, err := kafka.New(logger, sink, cfg)
	if err != nil {
		return err
	}
	err = in.Run(ctx)
	st := in.Stats()
	logger.Info("stopped", "received", st.Received, "accepted", st.Accepted, "quarantined", st.Quarantined,
		"flushes", st.Flushes, "rewinds", st.Rewinds)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
