package files_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

var (
	lake *stack.Stack
	// datasets is the absolute path of ../shared/datasets from the
	// repository root, or "" when absent; resolved before the stack starts,
	// since the embedded S3 backend changes the working directory.
	datasets string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if dir, err := filepath.Abs("../../../shared/datasets"); err == nil {
		if _, err := os.Stat(dir); err == nil {
			datasets = dir
		}
	}
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(stacktest.Main(m, "ingest-files-test-", &lake))
}

// needStack skips integration tests under -short.
func needStack(t *testing.T) {
	t.Helper()
	if lake == nil {
		t.Skip("integration test: needs the embedded stack, not started under -short")
	}
}

// dataset returns the absolute path of a file under the shared datasets,
// skipping (failing under CI=true) when the folder is absent.
func dataset(t *testing.T, rel string) string {
	t.Helper()
	if datasets == "" {
		msg := "the shared datasets folder ../shared/datasets (from the repository root) is absent: the real-data tests need it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	p := filepath.Join(datasets, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("dataset file missing: %v", err)
	}
	return p
}
