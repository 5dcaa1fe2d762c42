package trino

import (
	"context"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// TestStartAndQuery installs (from the user cache, downloading on first run)
// and starts a real Trino once, then queries it.
func TestStartAndQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Trino")
	}
	ctx := t.Context()
	if _, _, err := FindJava(ctx, ""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("TestStartAndQuery needs Java %d+ in CI: %v", MinJavaVersion, err)
		}
		t.Skipf("skipping: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	cfg := Config{
		DataDir:  t.TempDir(),
		HTTPPort: freePort(t),
		HeapMB:   2048,
		Progress: t.Output(),
		// Nothing listens here; Trino connects to the REST catalog lazily,
		// so the tpch catalog is enough to exercise the server.
		Catalog: CatalogConfig{
			URI:         "http://127.0.0.1:1",
			S3Endpoint:  "http://127.0.0.1:1",
			S3Region:    "us-east-1",
			S3AccessKey: "test",
			S3SecretKey: "test",
		},
	}
	start := time.Now()
	srv, err := Start(ctx, logger, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("trino ready after %s at %s", time.Since(start).Round(time.Millisecond), srv.URL())
	t.Logf("launch command: %s", strings.Join(srv.Command(), " "))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of %s:\n%s", srv.LogPath(), tailLines(srv.LogPath(), logTailLines))
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopStart := time.Now()
		if err := srv.Stop(stopCtx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		t.Logf("trino stopped in %s", time.Since(stopStart).Round(time.Millisecond))
	})

	res, err := Query(ctx, srv.URL(), "lakehouse", "SELECT count(*) FROM tpch.tiny.nation")
	if err != nil {
		t.Fatalf("counting nations: %v", err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != int64(25) {
		t.Errorf("count(*) = %v, want [[25]]", res.Rows)
	}

	_, err = Query(ctx, srv.URL()+"?catalog=tpch&schema=tiny", "", "SELECT * FROM nope")
	if err == nil || !strings.Contains(err.Error(), "Table 'tpch.tiny.nope' does not exist") {
		t.Errorf("querying a missing table = %v, want Trino's message", err)
	}

	catalogs, err := Query(ctx, srv.URL(), "", "SHOW CATALOGS")
	if err != nil {
		t.Fatalf("listing catalogs: %v", err)
	}
	var names []string
	for _, row := range catalogs.Rows {
		names = append(names, row[0].(string))
	}
	if !slices.Contains(names, CatalogName) || !slices.Contains(names, "tpch") {
		t.Errorf("catalogs = %v, want lakehouse and tpch", names)
	}

	orders, err := Query(ctx, srv.URL(), "", "SELECT orderkey, orderdate, totalprice, CAST(orderdate AS timestamp(3)) AS ts FROM tpch.tiny.orders ORDER BY orderkey LIMIT 3")
	if err != nil {
		t.Fatalf("reading orders: %v", err)
	}
	var table strings.Builder
	if err := orders.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("orders:\n%s", table.String())
	if !strings.Contains(table.String(), "1996-01-02") || !strings.HasSuffix(table.String(), "(3 rows)\n") {
		t.Errorf("orders table looks wrong:\n%s", table.String())
	}
}
