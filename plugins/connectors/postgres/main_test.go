package postgres_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
	"github.com/lakehouse-go/lakehouse/plugins/internal/olistpg"
)

var (
	env    stacktest.Env
	dsn    string // the Olist database; empty when PostgreSQL is missing
	skip   string // why the tests that need PostgreSQL skip
	plugin string // the built lakehouse-postgres executable
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(stacktest.Run(m, &env, stacktest.Options{
		Name:    "plugins-postgres-test",
		Short:   testing.Short(),
		Prepare: prepare,
	}))
}

// prepare builds the plugin and starts PostgreSQL with the Olist sample,
// also under -short: the connector's own tests need no stack.
func prepare(ctx context.Context, env *stacktest.Env) error {
	bins, err := gobuild.Build(ctx, env.Dir, "./cmd/lakehouse-postgres")
	if err != nil {
		return err
	}
	plugin = bins["lakehouse-postgres"]
	pgDir := filepath.Join(env.Dir, "pg")
	if err := os.Mkdir(pgDir, 0o755); err != nil {
		return err
	}
	var stop func() error
	dsn, stop, err = olistpg.Start(ctx, pgDir)
	switch {
	case errors.Is(err, olistpg.ErrNotInstalled) && os.Getenv("CI") != "true":
		skip = "PostgreSQL is not installed (`go tool task tools:postgres` installs it): " + err.Error()
	case err != nil:
		return fmt.Errorf("starting PostgreSQL with Olist: %w", err)
	default:
		env.Cleanup(stop)
	}
	return nil
}

// needPostgres skips t without PostgreSQL; under CI=true TestMain has
// failed instead.
func needPostgres(t *testing.T) {
	t.Helper()
	if dsn == "" {
		t.Skip(skip)
	}
}
