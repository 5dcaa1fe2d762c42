package postgres_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
	"github.com/lakehouse-go/lakehouse/plugins/internal/olistpg"
)

var (
	lake   *stack.Stack
	dsn    string // the Olist database; empty when PostgreSQL is missing
	skip   string // why the tests that need PostgreSQL skip
	plugin string // the built lakehouse-postgres executable
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plugins-postgres-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins, err := gobuild.Build(context.Background(), dir, "./cmd/lakehouse-postgres")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	plugin = bins["lakehouse-postgres"]
	pgDir := filepath.Join(dir, "pg")
	if err := os.Mkdir(pgDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var stop func() error
	dsn, stop, err = olistpg.Start(context.Background(), pgDir)
	switch {
	case errors.Is(err, olistpg.ErrNotInstalled) && os.Getenv("CI") != "true":
		skip = "PostgreSQL is not installed (`go tool task tools:postgres` installs it): " + err.Error()
	case err != nil:
		fmt.Fprintln(os.Stderr, "starting PostgreSQL with Olist:", err)
		return 1
	default:
		defer stop()
	}
	if testing.Short() {
		return m.Run()
	}
	return stacktest.Main(m, "plugins-postgres-lake-", &lake)
}

func needPostgres(t *testing.T) {
	t.Helper()
	if dsn == "" {
		t.Skip(skip)
	}
}
