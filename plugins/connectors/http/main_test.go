package http_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
)

var (
	lake   *stack.Stack
	plugin string // the built lakehouse-http executable
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plugins-http-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins, err := gobuild.Build(context.Background(), dir, "./cmd/lakehouse-http")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	plugin = bins["lakehouse-http"]
	// Resolve the datasets before the stack changes the working directory.
	if d, err := filepath.Abs("../../../../shared/datasets"); err == nil && os.Getenv("LAKEHOUSE_DATASETS") == "" {
		os.Setenv("LAKEHOUSE_DATASETS", d)
	}
	if testing.Short() {
		return m.Run()
	}
	return stacktest.Main(m, "plugins-http-lake-", &lake)
}
