package stacktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/trino"
)

const (
	// trinoStopTimeout bounds Trino's shutdown after the tests.
	trinoStopTimeout = 30 * time.Second
	// sqlTimeout bounds one statement of Env.SQL.
	sqlTimeout = 3 * time.Minute
)

// Env is what Run starts once for a package's tests, which share it: a
// temporary folder, the stack and, when asked for, Trino. Run fills it in
// as the parts start; tests only read it.
type Env struct {
	// Dir is an absolute temporary folder for the tests' files, removed
	// after them. The stack keeps its state in Dir/stack and Trino its
	// files in Dir/trino.
	Dir string
	// Lake is the embedded stack; nil when Skip is set.
	Lake *stack.Stack
	// Trino is the managed Trino on Lake when Options.Trino asked for it.
	Trino *trino.Server
	// Skip says why the integration tests skip here: "" when the parts run.
	Skip string

	name     string // Options.Name, the Trino user of SQL
	cleanups []func() error
}

// Options says what Run starts besides the stack.
type Options struct {
	// Name names the package in Run's messages ("compaction: starting
	// stack: …") and its temporary folder.
	Name string
	// Short starts no part, for `go test -short` (pass testing.Short()):
	// Env.Skip says so. Prepare still runs.
	Short bool
	// Trino also starts a managed Trino (installed into the user cache on
	// first use) whose lakehouse catalog is the stack. Without Java 24+
	// nothing starts and Env.Skip says why; under CI=true that fails the
	// run instead.
	Trino bool
	// Timeout bounds Prepare, Setup and starting the parts (not the tests);
	// 0 means none.
	Timeout time.Duration
	// Prepare runs first, with Env.Dir made and nothing started, in the
	// package's folder: the stack changes the working directory, so this is
	// where relative paths still resolve (building executables, say).
	Prepare func(ctx context.Context, env *Env) error
	// Setup runs once the stack is up and before Trino starts: to open
	// clients or land data that every test reads.
	Setup func(ctx context.Context, env *Env) error
}

// Run is the body of a TestMain whose tests share one stack (versitygw
// allows one S3 gateway per process): it fills in env as opts says, runs
// the tests, stops what it started (Trino, the stack, then what Cleanup
// registered), removes env.Dir and returns the exit code. A part that
// fails to start or to stop fails the run.
func Run(m interface{ Run() int }, env *Env, opts Options) int {
	code, err := run(m, env, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", opts.Name, err)
		return 1
	}
	return code
}

func run(m interface{ Run() int }, env *Env, opts Options) (code int, err error) {
	env.name = opts.Name
	ctx := context.Background()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", opts.Name+"-")
	if err != nil {
		return 1, fmt.Errorf("making the test folder: %w", err)
	}
	defer os.RemoveAll(dir)
	if env.Dir, err = filepath.Abs(dir); err != nil {
		return 1, fmt.Errorf("resolving the test folder: %w", err)
	}
	defer func() { err = errors.Join(err, env.cleanup()) }()
	if opts.Prepare != nil {
		if err := opts.Prepare(ctx, env); err != nil {
			return 1, err
		}
	}
	if opts.Short {
		env.Skip = "integration test: needs the embedded stack" + andTrino(opts) + ", not started under -short"
		return m.Run(), nil
	}
	if opts.Trino {
		if _, _, err := trino.FindJava(ctx, ""); err != nil {
			if os.Getenv("CI") == "true" {
				return 1, fmt.Errorf("CI=true and Trino cannot run: %w", err)
			}
			env.Skip = "no Java 24+ for Trino: " + err.Error()
			return m.Run(), nil
		}
	}
	began := time.Now()
	if env.Lake, err = Start(ctx, filepath.Join(env.Dir, "stack")); err != nil {
		return 1, fmt.Errorf("starting stack: %w", err)
	}
	defer func() {
		if cerr := env.Lake.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stopping stack: %w", cerr))
		}
	}()
	if opts.Setup != nil {
		if err := opts.Setup(ctx, env); err != nil {
			return 1, err
		}
	}
	if opts.Trino {
		if env.Trino, err = StartTrino(ctx, env.Lake, env.Dir, 0); err != nil {
			return 1, fmt.Errorf("starting Trino: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), trinoStopTimeout)
			defer cancel()
			if serr := env.Trino.Stop(sctx); serr != nil {
				err = errors.Join(err, fmt.Errorf("stopping Trino: %w", serr))
			}
		}()
		fmt.Printf("%s: stack and Trino ready in %s\n", opts.Name, time.Since(began).Round(time.Millisecond))
	}
	return m.Run(), nil
}

func andTrino(opts Options) string {
	if opts.Trino {
		return " and Trino"
	}
	return ""
}

// Cleanup registers f to run after the tests, once Trino and the stack
// have stopped, the last registered first; an error of f fails the run.
// It is for what Prepare or Setup start besides the parts.
func (e *Env) Cleanup(f func() error) { e.cleanups = append(e.cleanups, f) }

func (e *Env) cleanup() error {
	var errs []error
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, e.cleanups[i]())
	}
	e.cleanups = nil
	return errors.Join(errs...)
}

// Require skips t when the parts did not start here, with Env.Skip as the
// reason.
func (e *Env) Require(t testing.TB) {
	t.Helper()
	if e.Skip != "" {
		t.Skip(e.Skip)
	}
}

// Sink requires the parts (see Require) and opens a sink on the stack's
// catalog.
func (e *Env) Sink(t testing.TB) *ingest.Sink {
	t.Helper()
	e.Require(t)
	sink, err := ingest.Open(context.Background(), Logger(), e.Lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

// SQL runs stmt on Trino (see Options.Trino) as the user Options.Name,
// failing t when it fails or takes over three minutes.
func (e *Env) SQL(t testing.TB, stmt string) *trino.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	res, err := trino.Query(ctx, e.Trino.URL(), e.name, stmt)
	if err != nil {
		t.Fatalf("trino: %s: %v", stmt, err)
	}
	return res
}
