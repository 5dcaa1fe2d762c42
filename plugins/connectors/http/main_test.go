package http_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
)

var (
	env    stacktest.Env
	plugin string // the built lakehouse-http executable
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Resolve the datasets before the stack changes the working directory.
	if d, err := filepath.Abs("../../../../shared/datasets"); err == nil && os.Getenv("LAKEHOUSE_DATASETS") == "" {
		os.Setenv("LAKEHOUSE_DATASETS", d)
	}
	os.Exit(stacktest.Run(m, &env, stacktest.Options{
		Name:  "plugins-http-test",
		Short: testing.Short(),
		Prepare: func(ctx context.Context, env *stacktest.Env) error {
			bins, err := gobuild.Build(ctx, env.Dir, "./cmd/lakehouse-http")
			plugin = bins["lakehouse-http"]
			return err
		},
	}))
}
