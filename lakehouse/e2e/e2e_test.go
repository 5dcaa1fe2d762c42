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
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/trino"
)

// env is the stack every test in this package shares (one S3 gateway per
// process is all versitygw allows).
type env struct {
	lake      *stack.Stack
	trino     *trino.Server
	stats     generator.Stats
	python    string // interpreter with pyiceberg; "" when unavailable
	testdata  string // absolute path of testdata/, where the Python scripts are
	skipWhole string // why the package cannot run here
}

var e env

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (needs Trino and pyiceberg)")
		os.Exit(0)
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// Resolve every path first: the embedded S3 backend changes the working directory.
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e.testdata = testdata
	e.python = findPython()
	dir, err := os.MkdirTemp("", "lakehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	if _, _, err := trino.FindJava(ctx, ""); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: CI=true and Trino cannot run:", err)
			return 1
		}
		e.skipWhole = err.Error()
		return m.Run()
	}

	began := time.Now()
	e.lake, err = stacktest.Start(ctx, filepath.Join(dir, "state"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting stack:", err)
		return 1
	}
	defer func() {
		if err := e.lake.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping stack:", err)
		}
	}()
	logger := stacktest.Logger()
	sink, err := ingest.Open(ctx, logger, e.lake.CatalogURL())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	e.stats, _, err = sample.Land(ctx, logger, sink, generator.DefaultSpec())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: landing sample:", err)
		return 1
	}
	e.trino, err = stacktest.StartTrino(ctx, e.lake, dir, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting Trino:", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.trino.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping Trino:", err)
		}
	}()
	fmt.Printf("e2e: stack, sample data and Trino ready in %s\n", time.Since(began).Round(time.Millisecond))
	return m.Run()
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

// requireStack skips (or, under CI, fails) a test when the stack cannot run here.
func requireStack(t *testing.T) {
	t.Helper()
	if e.skipWhole != "" {
		t.Skip("no Java 24+ for Trino: " + e.skipWhole)
	}
}

func requirePython(t *testing.T) {
	t.Helper()
	requireStack(t)
	if e.python != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no pyiceberg interpreter: run `go tool task test`, which prepares .venv")
	}
	t.Skip("no pyiceberg interpreter: set LAKEHOUSE_PYTHON or run `go tool task tools:venv`")
}

// sql runs a statement on the test's Trino.
func sql(t *testing.T, stmt string) *trino.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := trino.Query(ctx, e.trino.URL(), "e2e", stmt)
	if err != nil {
		t.Fatalf("trino: %s: %v", stmt, err)
	}
	return res
}

// scalar runs a one-value query and returns the value.
func scalar(t *testing.T, stmt string) any {
	t.Helper()
	res := sql(t, stmt)
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
