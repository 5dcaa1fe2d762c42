// Package e2e tests the whole loop with every part real: the embedded S3
// gateway, the REST catalog over HTTP on SQLite, Go ingestion through
// iceberg-go, a managed Trino 476, and pyiceberg from PyPI in a virtualenv.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/generator"
	"github.com/lakehouse-go/lakehouse/lakehouse/sample"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// env is what every test in this package shares: the stack and Trino
// (one S3 gateway per process is all versitygw allows) with the sample
// landed, and pyiceberg.
type env struct {
	stacktest.Env
	stats    generator.Stats
	python   string // interpreter with pyiceberg; "" when unavailable
	testdata string // absolute path of testdata/, where the Python scripts are
}

var e env

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (needs Trino and pyiceberg)")
		os.Exit(0)
	}
	// Resolve every path first: the embedded S3 backend changes the working directory.
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e.testdata = testdata
	e.python = findPython()
	os.Exit(stacktest.Run(m, &e.Env, stacktest.Options{
		Name:    "e2e",
		Trino:   true,
		Timeout: 20 * time.Minute,
		Setup:   landSample,
	}))
}

// landSample lands the generated sample before Trino starts.
func landSample(ctx context.Context, env *stacktest.Env) error {
	logger := stacktest.Logger()
	sink, err := ingest.Open(ctx, logger, env.Lake.CatalogURL())
	if err != nil {
		return err
	}
	if e.stats, _, err = sample.Land(ctx, logger, sink, generator.DefaultSpec()); err != nil {
		return fmt.Errorf("landing sample: %w", err)
	}
	return nil
}

// findPython returns the interpreter the test task prepared (LAKEHOUSE_PYTHON),
// else the repository's .venv, else "".
func findPython() string {
	if p := os.Getenv("LAKEHOUSE_PYTHON"); p != "" {
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// requirePython skips a test (fails it under CI) without a pyiceberg
// interpreter, and without the stack.
func requirePython(t *testing.T) {
	t.Helper()
	e.Require(t)
	if e.python != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no pyiceberg interpreter: run `go tool task test`, which prepares .venv")
	}
	t.Skip("no pyiceberg interpreter: set LAKEHOUSE_PYTHON or run `go tool task tools:venv`")
}

// scalar runs a one-value query and returns the value.
func scalar(t *testing.T, stmt string) any {
	t.Helper()
	res := e.SQL(t, stmt)
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: got %d rows, want one value", stmt, len(res.Rows))
	}
	return res.Rows[0][0]
}

func asInt(t *testing.T, v any) int64 {
	t.Helper()
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	}
	t.Fatalf("value %v (%T) is not an integer", v, v)
	return 0
}

// py runs a pyiceberg script from testdata/ and decodes its JSON answer into out.
func py(t *testing.T, out any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.python, append([]string{filepath.Join(e.testdata, script)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		errors.As(err, &exit)
		t.Fatalf("pyiceberg %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("pyiceberg %v printed %q: %v", args, stdout.String(), err)
	}
}
