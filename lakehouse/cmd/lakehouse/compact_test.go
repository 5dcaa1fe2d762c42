package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/lakehouse-go/lakehouse/catalog-rest/catalogtest"

	"github.com/lakehouse-go/lakehouse/catalog-rest/halt"
)

// haltedCatalog serves a real catalog over HTTP on a SQLite file, with
// raw.orders halted by worker-a as a compaction worker halts a table.
func haltedCatalog(t *testing.T) string {
	t.Helper()
	_, hs := catalogtest.Serve(t, "")
	if _, _, err := halt.NewClient(hs.URL, nil).Put(context.Background(), "compaction/raw.orders", "corrupt table metadata: reading manifest list s3://b/raw/orders/snap-1.avro: not found", "worker-a"); err != nil {
		t.Fatal(err)
	}
	return hs.URL
}

// lakehouse runs the command line as main does and returns its exit code,
// stdout and stderr.
func lakehouse(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCompactStatusShowsAHaltAndResumeLiftsIt(t *testing.T) {
	url := haltedCatalog(t)

	code, out, errOut := lakehouse("compact", "status", "--catalog", url)
	if code != 0 {
		t.Fatalf("compact status: exit %d, stderr %s", code, errOut)
	}
	if !strings.Contains(out, "raw.orders") || !strings.Contains(out, "HALTED since") || !strings.Contains(out, "by worker-a") ||
		!strings.Contains(out, "reading manifest list s3://b/raw/orders/snap-1.avro") || !strings.Contains(out, "compact resume --table raw.orders") {
		t.Fatalf("compact status does not show the halt, its holder, reason and remedy:\n%s", out)
	}

	code, out, errOut = lakehouse("compact", "resume", "--catalog", url, "--table", "raw.orders")
	if code != 0 {
		t.Fatalf("compact resume: exit %d, stderr %s", code, errOut)
	}
	if !strings.Contains(out, "raw.orders: halt lifted") || !strings.Contains(out, "by worker-a") ||
		!strings.Contains(out, "reason: corrupt table metadata: reading manifest list") {
		t.Fatalf("compact resume does not say what it lifted:\n%s", out)
	}
	hs, err := halt.NewClient(url, nil).List(context.Background())
	if err != nil || len(hs) != 0 {
		t.Fatalf("halts after resume: %+v, %v; want none", hs, err)
	}
	if _, out, _ := lakehouse("compact", "status", "--catalog", url); strings.Contains(out, "HALTED") {
		t.Fatalf("compact status after resume still shows a halt:\n%s", out)
	}

	code, _, errOut = lakehouse("compact", "resume", "--catalog", url, "--table", "raw.orders")
	if code != 1 || !strings.Contains(errOut, "raw.orders: table not halted, nothing to lift") {
		t.Fatalf("resuming a table that is not halted: exit %d, stderr %q; want 1 and a message saying so", code, errOut)
	}
}

func TestCompactResumeNeedsATable(t *testing.T) {
	url := haltedCatalog(t)
	cases := []struct {
		name string
		args []string
	}{
		{"resume without --table is a usage error", []string{"compact", "resume", "--catalog", url}},
		{"resume of a name that is not zone.table is a usage error", []string{"compact", "resume", "--catalog", url, "--table", "orders"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Usage errors go to the process's stderr, as the flag package's do.
			if code, _, _ := lakehouse(c.args...); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
		})
	}
	if hs, err := halt.NewClient(url, nil).List(context.Background()); err != nil || len(hs) != 1 {
		t.Fatalf("halts after refused resumes: %+v, %v; want raw.orders still halted", hs, err)
	}
}
