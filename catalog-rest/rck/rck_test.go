// Package rck_test runs Apache Iceberg's REST Compatibility Kit (RCK) against
// our REST catalog: the Java suites RESTCompatibilityKitCatalogTests and
// RESTCompatibilityKitViewCatalogTests from Maven Central, run by the JUnit
// console launcher as a remote client of the real embedded stack (S3 gateway
// and catalog over HTTP), once with the catalog on SQLite and once on
// PostgreSQL. The kit is configured with rck.local=false (no in-process
// reference server) and rck.requires-namespace-create=true.
//
// It needs Java 17+ and Maven (only on the first run, to resolve the kit's
// classpath into ~/.m2; later runs reuse a cached classpath), and PostgreSQL's
// server binaries for the postgres run. Without them the test skips, or fails
// under CI=true. README.md lists the tests the kit skips and why.
package rck_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore/pgtest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// target is one catalog the kit runs against.
type target struct {
	// storeKind names the catalog's store ("sqlite", "postgres").
	storeKind string
	// catalogURL is the REST catalog's base URL.
	catalogURL string
	// warehouse is handed to the client as its warehouse property.
	warehouse string
}

// catalogStore is a store the catalog can keep its state in, and how to
// start the embedded stack over it under dir (absolute).
type catalogStore struct {
	kind  string
	start func(ctx context.Context, t *testing.T, dir string) (*stack.Stack, error)
}

// stores are the catalog stores the kit runs against, one after another,
// each with a fresh stack: the S3 gateway can run only once at a time in a
// process, but can be stopped and started again.
var stores = []catalogStore{
	{kind: "sqlite", start: func(ctx context.Context, _ *testing.T, dir string) (*stack.Stack, error) {
		return stacktest.StartConfig(ctx, kitStack(dir, ""))
	}},
	{kind: "postgres", start: startOnPostgres},
}

func TestRESTCompatibilityKit(t *testing.T) {
	if testing.Short() {
		t.Skip("the REST Compatibility Kit runs a JVM against the embedded stack (about 30 s per store); skipped in -short mode")
	}
	// Resolve every path before a stack starts: the embedded S3 backend
	// changes the process's working directory.
	k := prepareKit(t)

	ctx, cancel := context.WithTimeout(t.Context(), testBudget(t))
	defer cancel()
	for _, st := range stores {
		t.Run(st.kind, func(t *testing.T) {
			lake, err := st.start(ctx, t, t.TempDir())
			if err != nil {
				t.Fatalf("starting the embedded stack over %s: %v", st.kind, err)
			}
			defer func() {
				if err := lake.Close(); err != nil {
					t.Errorf("stopping the embedded stack: %v", err)
				}
			}()
			runKit(ctx, t, k, target{storeKind: st.kind, catalogURL: lake.CatalogURL(), warehouse: lake.Warehouse()})
		})
	}
}

// startOnPostgres starts a throwaway PostgreSQL server (or uses
// LAKEHOUSE_TEST_POSTGRES_DSN) and the stack with the catalog on it. Without
// PostgreSQL it skips t, except under CI=true.
func startOnPostgres(ctx context.Context, t *testing.T, dir string) (*stack.Stack, error) {
	dsn, stop, err := pgtest.Start(ctx, filepath.Join(dir, "postgres"))
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return stacktest.StartConfig(ctx, kitStack(dir, dsn))
}

// kitStack configures the stack the kit runs against: the catalog's state in
// SQLite (dsn "") or PostgreSQL, and the warehouse on the local disk, because
// the kit's testLoadTableWithMissingMetadataFile moves a metadata file with
// java.nio.file, which only a local warehouse allows. The S3 path is covered
// by the integration tests in lakehouse/e2e.
func kitStack(dir, dsn string) stack.Config {
	return stack.Config{
		StateDir:   filepath.Join(dir, "state"),
		CatalogDSN: dsn,
		Warehouse:  "file://" + filepath.Join(dir, "warehouse"),
	}
}

// runKit runs the kit against tg and fails t with every failed test, its
// exception and the first lines of its message; skipped tests are logged with
// their reason.
func runKit(ctx context.Context, t *testing.T, k *kit, tg target) {
	reports := reportsDir(t, tg.storeKind)
	began := time.Now()
	res, err := k.run(ctx, tg, reports)
	t.Logf("kit run against %s (%s) took %s; reports and launcher output in %s",
		tg.storeKind, tg.catalogURL, time.Since(began).Round(time.Second), reports)
	if err != nil {
		t.Fatalf("running the REST Compatibility Kit: %v", err)
	}
	t.Log(res.summary())
	for _, c := range res.skipped() {
		t.Logf("skipped %s: %s", c.id(), c.skipReason())
	}
	if failed := res.failed(); len(failed) > 0 {
		t.Errorf("%d of %d kit tests failed against %s:\n%s", len(failed), res.total(), tg.storeKind, formatFailures(failed, 6))
	}
	if res.total() == 0 {
		t.Error("the kit ran no tests: the launcher found none of the selected classes")
	}
}

// reportsDir is where one kit run writes its JUnit XML and launcher output:
// under LAKEHOUSE_RCK_REPORTS when set (kept after the test), else a
// temporary folder.
func reportsDir(t *testing.T, storeKind string) string {
	t.Helper()
	root := os.Getenv("LAKEHOUSE_RCK_REPORTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, storeKind)
	if !filepath.IsAbs(dir) {
		t.Fatalf("LAKEHOUSE_RCK_REPORTS must be an absolute path (the S3 gateway changes the working directory), got %q", root)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("clearing old reports: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating the reports folder: %v", err)
	}
	return dir
}

// testBudget is how long the stack and the kit may run: the test binary's
// deadline less a minute for cleanup, or 20 minutes.
func testBudget(t *testing.T) time.Duration {
	if d, ok := t.Deadline(); ok {
		return time.Until(d) - time.Minute
	}
	return 20 * time.Minute
}
