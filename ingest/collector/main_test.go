package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// The crash test runs the collector as a child process: this test binary,
// started again with childEnv set, serving the listener passed as fd 3.
const (
	childEnv        = "COLLECTOR_TEST_CHILD"
	childCatalogEnv = "COLLECTOR_TEST_CATALOG"
	childSpoolEnv   = "COLLECTOR_TEST_SPOOL"
	childTableEnv   = "COLLECTOR_TEST_TABLE"
	childCrashEnv   = "COLLECTOR_TEST_CRASH_AFTER_COMMITS"
)

var (
	stk *stack.Stack
	// self is this test binary, resolved before the stack starts: the
	// embedded S3 backend changes the working directory.
	self string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	flag.Parse()
	var err error
	if self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "finding the test binary:", err)
		os.Exit(1)
	}
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(stacktest.Main(m, "ingest-collector-test-", &stk))
}

// needStack skips integration tests under -short.
func needStack(t *testing.T) {
	t.Helper()
	if stk == nil {
		t.Skip("integration test: needs the embedded stack, not started under -short")
	}
}

// clickSchema is the storefront events' declared schema.
func clickSchema() *arrow.Schema {
	str := arrow.BinaryTypes.String
	return arrow.NewSchema([]arrow.Field{
		{Name: "event_id", Type: str, Nullable: true},
		{Name: "session_id", Type: str, Nullable: true},
		{Name: "type", Type: str, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "url", Type: str, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
}

var clickRequired = []string{"event_id", "type", "ts"}

// runChild is the collector process of the crash test; it serves until
// SIGTERM (then drains) or until it is killed.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// Info level: the crash test reads what the runs did from the log.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := serveChild(ctx, logger); err != nil {
		logger.Error("collector child", "err", err)
		return 1
	}
	return 0
}

func serveChild(ctx context.Context, logger *slog.Logger) error {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("taking the listener: %w", err)
	}
	sink, err := ingest.Open(ctx, logger, os.Getenv(childCatalogEnv))
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	c, err := New(logger, prometheus.NewRegistry(), sink, Config{
		Table:         strings.Split(os.Getenv(childTableEnv), "."),
		Schema:        clickSchema(),
		Required:      clickRequired,
		SpoolDir:      os.Getenv(childSpoolEnv),
		FlushRows:     400,
		FlushInterval: 150 * time.Millisecond,
		MaxSpoolBytes: 8 << 20,
		DrainTimeout:  30 * time.Second,
	})
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	if os.Getenv(childCrashEnv) != "" {
		c.lake = crashingLake{lake: c.lake, logger: logger}
	}
	return c.Serve(ctx, ln)
}

// crashingLake kills its process right after one flush in four has
// committed, before the segment is removed: the moment at which a replay
// must find the batch in the table's history. Random kills from outside
// rarely hit it.
type crashingLake struct {
	lake
	logger *slog.Logger
}

func (l crashingLake) land(ctx context.Context, open ingest.Opener, t ingest.Target) (ingest.Report, error) {
	rep, err := l.lake.land(ctx, open, t)
	if err == nil && rep.Skipped == 0 && rand.IntN(4) == 0 {
		l.logger.Info("test: crashing after a commit")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return rep, err
}
