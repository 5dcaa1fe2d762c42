package compaction

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus/testutil"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/lease"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// haltCatalog is a real catalog server over HTTP on a SQLite file, its
// tables in a file:// warehouse: these tests need no S3 gateway or Trino,
// so they run in -short mode and beside the package's shared stack.
type haltCatalog struct {
	dbPath, warehouse string
	url               string
	stop              func()
}

func startHaltCatalog(t *testing.T, dbPath, warehouse string) *haltCatalog {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	err = st.CreateNamespace(ctx, store.Namespace{Levels: []string{"exploration"}, Properties: map[string]string{"location": warehouse + "/exploration"}})
	if err != nil && !errors.Is(err, store.ErrNamespaceExists) {
		t.Fatal(err)
	}
	srv, err := catalogrest.New(slog.New(slog.DiscardHandler), nil, st, catalogrest.Config{Warehouse: warehouse})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	c := &haltCatalog{dbPath: dbPath, warehouse: warehouse, url: hs.URL}
	stopped := false
	c.stop = func() {
		if stopped {
			return
		}
		stopped = true
		hs.Close()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(c.stop)
	return c
}

// restart stops the catalog and starts it again on the same file.
func (c *haltCatalog) restart(t *testing.T) *haltCatalog {
	t.Helper()
	c.stop()
	return startHaltCatalog(t, c.dbPath, c.warehouse)
}

// corruptTable lands a few files in ident and removes the manifest list
// of its current snapshot.
func corruptTable(t *testing.T, url string, ident table.Identifier) {
	t.Helper()
	ctx := context.Background()
	sink, err := ingest.Open(ctx, stacktest.Logger(), url)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		rec := rows(int64(i*20), 20)
		_, err := sink.AppendOnce(ctx, ident, testSchema, []arrow.RecordBatch{rec}, batchID(ident, i))
		rec.Release()
		if err != nil {
			t.Fatalf("landing file %d: %v", i, err)
		}
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(tbl.CurrentSnapshot().ManifestList); err != nil {
		t.Fatal(err)
	}
}

// catalogWithACorruptTable starts a halt catalog in a fresh folder and
// lands exploration.corrupt in it, whose manifest list is gone.
func catalogWithACorruptTable(t *testing.T) (*haltCatalog, table.Identifier) {
	t.Helper()
	dir := t.TempDir()
	cat := startHaltCatalog(t, filepath.Join(dir, "catalog.db"), "file://"+filepath.ToSlash(filepath.Join(dir, "warehouse")))
	ident := table.Identifier{"exploration", "corrupt"}
	corruptTable(t, cat.url, ident)
	return cat, ident
}

// haltWorker is a Service as `lakehouse compact` builds it: leases and
// halts in the catalog at url.
func haltWorker(t *testing.T, url, holder string) *Service {
	t.Helper()
	set, err := policy.Parse([]byte(`defaults: {min-input-files: 3}
scheduler: {poll: 100ms, debounce: 0s, max-wait: 1s, interval: 1h, zones: [exploration]}`))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := rest.NewCatalog(context.Background(), "lakehouse", url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(stacktest.Logger(), nil, cat, Config{Policies: set, Holder: holder,
		Leaser: NewCatalogLeaser(url, nil), Halts: NewCatalogHalts(url, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func haltedGauge(s *Service, ident table.Identifier) float64 {
	return testutil.ToFloat64(s.metrics.halted.WithLabelValues(Name(ident)))
}

func TestAHaltIsSharedByEveryWorkerOfTheCatalogAndOutlivesThem(t *testing.T) {
	ctx := context.Background()
	cat, ident := catalogWithACorruptTable(t)

	a := haltWorker(t, cat.url, "worker-a")
	if _, err := a.Run(ctx, ident); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("worker-a's run on a missing manifest list: %v, want ErrCorrupt", err)
	}

	// Another worker on the catalog, as in another process, refuses the table.
	b := haltWorker(t, cat.url, "worker-b")
	if _, err := b.Run(ctx, ident); !errors.Is(err, ErrHalted) || !strings.Contains(err.Error(), "worker-a") {
		t.Fatalf("worker-b's run: %v, want ErrHalted naming worker-a", err)
	}
	if _, err := b.Plan(ctx, ident); !errors.Is(err, ErrHalted) {
		t.Fatalf("worker-b's plan: %v, want ErrHalted", err)
	}
	sts, err := b.StatusAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].Halt == nil || sts[0].Halt.Holder != "worker-a" || !strings.Contains(sts[0].Halt.Reason, "manifest") ||
		!errors.Is(sts[0].Halted, ErrHalted) {
		t.Fatalf("worker-b's status: %+v, want the table halted by worker-a for its manifest list", sts)
	}
	if g := haltedGauge(b, ident); g != 1 {
		t.Fatalf("worker-b's halted gauge after status: %v, want 1", g)
	}

	// The halt outlives a restart of the catalog and of the workers.
	cat = cat.restart(t)
	c := haltWorker(t, cat.url, "worker-c")
	if err := c.Halted(ctx, ident); !errors.Is(err, ErrHalted) {
		t.Fatalf("a worker built after the restart: halted %v, want ErrHalted", err)
	}
	if _, err := c.Run(ctx, ident); !errors.Is(err, ErrHalted) {
		t.Fatalf("a worker built after the restart: run %v, want ErrHalted", err)
	}

	// Resuming on one worker lifts the halt for all.
	b = haltWorker(t, cat.url, "worker-b")
	lifted, err := b.Resume(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if lifted.Table != "exploration.corrupt" || lifted.Holder != "worker-a" || !strings.Contains(lifted.Reason, "manifest") {
		t.Fatalf("lifted %+v, want worker-a's halt of exploration.corrupt", lifted)
	}
	if g := haltedGauge(b, ident); g != 0 {
		t.Fatalf("halted gauge after resume: %v, want 0", g)
	}
	if _, err := b.Resume(ctx, ident); !errors.Is(err, ErrNotHalted) {
		t.Fatalf("resuming again: %v, want ErrNotHalted", err)
	}
	if err := c.Halted(ctx, ident); err != nil {
		t.Fatalf("worker-c after the resume: halted %v, want nil", err)
	}
	// worker-c works on the table again, meets the corruption and halts it anew.
	if _, err := c.Plan(ctx, ident); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("worker-c's plan after the resume: %v, want ErrCorrupt", err)
	}
	h, ok, err := b.HaltOf(ctx, ident)
	if err != nil || !ok || h.Holder != "worker-c" {
		t.Fatalf("after worker-c's plan: halt %+v, %v, %v; want worker-c's", h, ok, err)
	}
}

// leaseToken takes and gives back the table's lease as a probe holder and
// returns its token, which grows each time the lease changes hands.
func leaseToken(t *testing.T, url string, ident table.Identifier) int64 {
	t.Helper()
	ctx := context.Background()
	c := lease.NewClient(url, nil)
	l, err := c.Acquire(ctx, "compaction/"+Name(ident), "probe", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	return l.Token
}

func TestServeLeavesATableHaltedByAnotherWorkerAlone(t *testing.T) {
	ctx := context.Background()
	cat, ident := catalogWithACorruptTable(t)
	a := haltWorker(t, cat.url, "worker-a")
	if _, err := a.Status(ctx, ident); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("worker-a's status: %v, want ErrCorrupt", err)
	}
	serve := func(s *Service, until func() bool) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Serve(sctx) }()
		for until != nil && !until() && sctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		if until == nil {
			time.Sleep(time.Second) // ten polls
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	before := leaseToken(t, cat.url, ident)
	b := haltWorker(t, cat.url, "worker-b")
	serve(b, nil)
	if got := leaseToken(t, cat.url, ident); got != before+1 {
		t.Fatalf("lease token %d after serving, want %d: worker-b took the halted table's lease", got, before+1)
	}
	if g := haltedGauge(b, ident); g != 1 {
		t.Fatalf("worker-b's halted gauge while serving: %v, want 1", g)
	}

	if _, err := a.Resume(ctx, ident); err != nil {
		t.Fatal(err)
	}
	// Lifted, the table is served again: worker-b meets the corruption
	// and halts the table itself.
	serve(b, func() bool {
		h, ok, err := b.HaltOf(ctx, ident)
		return err == nil && ok && h.Holder == "worker-b"
	})
	h, ok, err := a.HaltOf(ctx, ident)
	if err != nil || !ok || h.Holder != "worker-b" {
		t.Fatalf("after serving the lifted table: halt %+v, %v, %v; want worker-b's", h, ok, err)
	}
	if got := leaseToken(t, cat.url, ident); got <= before+2 {
		t.Fatalf("lease token %d, want above %d: worker-b never took the lifted table's lease", got, before+2)
	}
}

func TestLocalHaltsKeepTheFirstHaltUntilLifted(t *testing.T) {
	ctx := context.Background()
	l := NewLocalHalts()
	first, created, err := l.Halt(ctx, Halt{Table: "raw.orders", Reason: "bad manifest", Holder: "a"})
	if err != nil || !created || first.Since.IsZero() {
		t.Fatalf("first halt: %+v, %v, %v", first, created, err)
	}
	again, created, err := l.Halt(ctx, Halt{Table: "raw.orders", Reason: "other", Holder: "b"})
	if err != nil || created || again != first {
		t.Fatalf("second halt: %+v, %v, %v; want the first kept", again, created, err)
	}
	if _, _, err := l.Halt(ctx, Halt{Table: "curated.sales", Reason: "x", Holder: "b"}); err != nil {
		t.Fatal(err)
	}
	hs, err := l.List(ctx)
	if err != nil || len(hs) != 2 || hs[0].Table != "curated.sales" || hs[1] != first {
		t.Fatalf("list: %+v, %v; want curated.sales then the first halt", hs, err)
	}
	if got, err := l.Lift(ctx, "raw.orders"); err != nil || got != first {
		t.Fatalf("lift: %+v, %v", got, err)
	}
	if _, err := l.Lift(ctx, "raw.orders"); !errors.Is(err, ErrNotHalted) {
		t.Fatalf("lifting again: %v, want ErrNotHalted", err)
	}
}
