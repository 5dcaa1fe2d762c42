// Package stacktest starts the real embedded stack (S3 gateway, REST catalog
// on SQLite) for tests, on free loopback ports in a temporary folder.
// versitygw allows one gateway per process: start one stack per test binary
// and share it, as Run does from TestMain.
package stacktest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/trino"
)

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Start starts a stack under dir with the catalog on SQLite. Logs go to
// stderr at warn level unless LAKEHOUSE_TEST_LOG=debug.
func Start(ctx context.Context, dir string) (*stack.Stack, error) {
	return StartWith(ctx, dir, "")
}

// StartWith starts a stack whose catalog keeps its state at catalogDSN
// (a postgres:// URL; "" for SQLite under dir).
func StartWith(ctx context.Context, dir, catalogDSN string) (*stack.Stack, error) {
	return StartConfig(ctx, stack.Config{StateDir: dir, CatalogDSN: catalogDSN})
}

// StartConfig starts a stack as cfg says, on free ports.
func StartConfig(ctx context.Context, cfg stack.Config) (*stack.Stack, error) {
	var err error
	if cfg.S3Addr, err = FreeAddr(); err != nil {
		return nil, err
	}
	if cfg.CatalogAddr, err = FreeAddr(); err != nil {
		return nil, err
	}
	return stack.Start(ctx, Logger(), cfg)
}

// Logger is the logger tests hand to components.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("LAKEHOUSE_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Main is Run with the stack alone, for a TestMain that keeps the stack in
// *lake; prefix names the temporary folder ("ingest-test-"). Resolve
// relative paths before calling it: the stack changes the working
// directory.
func Main(m interface{ Run() int }, prefix string, lake **stack.Stack) int {
	var env Env
	return Run(m, &env, Options{
		Name: strings.TrimSuffix(prefix, "-"),
		Setup: func(_ context.Context, env *Env) error {
			*lake = env.Lake
			return nil
		},
	})
}

// StartTrino starts a managed Trino (installed into the shared cache on
// first use) on a free port with its files under dir, a heap of heapMB
// (0: 2048), its lakehouse catalog pointed at lake, and progress on
// stderr. Stop it with Server.Stop.
func StartTrino(ctx context.Context, lake *stack.Stack, dir string, heapMB int) (*trino.Server, error) {
	if heapMB <= 0 {
		heapMB = 2048
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("finding a port for Trino: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("finding a port for Trino: %w", err)
	}
	return trino.Start(ctx, Logger(), trino.Config{
		DataDir:  filepath.Join(dir, "trino"),
		HTTPPort: port,
		HeapMB:   heapMB,
		Progress: os.Stderr,
		Catalog:  lake.TrinoCatalog(),
	})
}
