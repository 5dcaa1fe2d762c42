package kafka

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// childEnv, when set, makes the test binary an ingest process: the crash
// test starts it as a child, with a childConfig as JSON, and kills it.
const childEnv = "LAKEHOUSE_KAFKA_INGEST_CHILD"

type childConfig struct {
	Catalog       string
	Brokers       []string
	Topics        []string
	Group         string
	InstanceID    string
	Table         []string
	FlushRows     int
	FlushInterval time.Duration
}

var lake *stack.Stack

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(child(cfg))
	}
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(stacktest.Main(m, "ingest-kafka-test-", &lake))
}

// child runs the ingestion the way cmd kafkaingest does, until SIGTERM or
// SIGKILL.
func child(raw string) int {
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	sink, err := ingest.Open(ctx, logger, c.Catalog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = Run(ctx, logger, sink, Config{Brokers: c.Brokers, Topics: c.Topics, Group: c.Group, InstanceID: c.InstanceID,
		Table: c.Table, FlushRows: c.FlushRows, FlushInterval: c.FlushInterval})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka ingest:", err)
		return 1
	}
	return 0
}

// needStack skips integration tests under -short.
func needStack(t *testing.T) {
	t.Helper()
	if lake == nil {
		t.Skip("integration test: needs the embedded stack, not started under -short")
	}
}

func openSink(t *testing.T) *ingest.Sink {
	t.Helper()
	sink, err := ingest.Open(context.Background(), stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	return sink
}
