package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore/pgtest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/storetest"
)

// pg is the one server the package's tests share, started on first use (so
// that `go test -run` of nothing here costs nothing) and stopped by TestMain.
var pg struct {
	once sync.Once
	dir  string
	dsn  string
	stop func() error
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.stop != nil {
		if err := pg.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if pg.dir != "" {
		if err := os.RemoveAll(pg.dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// server returns the DSN of the shared server, starting it on first use.
// Without PostgreSQL the test is skipped, except on CI, where it fails.
func server(t *testing.T) string {
	t.Helper()
	pg.once.Do(func() {
		pg.dir, pg.err = os.MkdirTemp("", "pgstore-test-")
		if pg.err == nil {
			pg.dsn, pg.stop, pg.err = pgtest.Start(context.Background(), pg.dir)
		}
	})
	if errors.Is(pg.err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(pg.err)
	}
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	return pg.dsn
}

// newDatabase returns the DSN of an empty schema on the shared server,
// dropped after the test: a schema per test takes milliseconds where a
// database takes hundreds.
func newDatabase(t *testing.T) string {
	t.Helper()
	dsn, drop, err := pgtest.CreateSchema(context.Background(), server(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

func open(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeStore(t *testing.T, s *pgstore.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestConformance(t *testing.T) {
	server(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, newDatabase(t))
	})
}

func tbl(name, loc string) store.Entry {
	return store.Entry{Kind: store.KindTable, Namespace: []string{"raw"}, Name: name, MetadataLocation: loc, Metadata: []byte(loc)}
}

// TestReplicasNeverBothWinASwap runs two stores on one database, as two
// catalog replicas behind a load balancer, racing to commit the same tables.
func TestReplicasNeverBothWinASwap(t *testing.T) {
	cases := []struct {
		name string
		// tables that replica 0 commits together, in this order; replica 1
		// commits them in the reverse order.
		tables []string
	}{
		{"one table committed by both replicas has exactly one winner per round", []string{"t"}},
		{"two tables committed in opposite orders have one winner and no deadlock", []string{"a", "b"}},
	}
	server(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := newDatabase(t)
			replicas := []*pgstore.Store{open(t, dsn), open(t, dsn)}
			for _, r := range replicas {
				defer closeStore(t, r)
			}
			if err := replicas[0].CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}); err != nil {
				t.Fatal(err)
			}
			current := map[string]string{}
			for _, name := range c.tables {
				current[name] = name + "-0"
				if err := replicas[1].CreateEntry(ctx, tbl(name, current[name])); err != nil {
					t.Fatal(err)
				}
			}
			const rounds, writersPerReplica = 20, 4
			for round := 1; round <= rounds; round++ {
				var mu sync.Mutex
				var winners []string
				var wg sync.WaitGroup
				for w := range 2 * writersPerReplica {
					replica := w % 2
					wg.Go(func() {
						writer := fmt.Sprintf("r%d-w%d", round, w)
						var swaps []store.Swap
						for _, name := range c.tables {
							swaps = append(swaps, store.Swap{Expected: current[name], Next: tbl(name, name+"-"+writer)})
						}
						if replica == 1 {
							for i, j := 0, len(swaps)-1; i < j; i, j = i+1, j-1 {
								swaps[i], swaps[j] = swaps[j], swaps[i]
							}
						}
						err := replicas[replica].Swap(ctx, swaps...)
						switch {
						case err == nil:
							mu.Lock()
							winners = append(winners, writer)
							mu.Unlock()
						case !errors.Is(err, store.ErrConflict):
							t.Errorf("writer %s on replica %d: %v", writer, replica, err)
						}
					})
				}
				wg.Wait()
				if len(winners) != 1 {
					t.Fatalf("round %d: winners %v, want exactly one", round, winners)
				}
				for _, name := range c.tables {
					want := name + "-" + winners[0]
					for i, r := range replicas {
						got, err := r.LoadEntry(ctx, store.KindTable, []string{"raw"}, name)
						if err != nil {
							t.Fatal(err)
						}
						if got.MetadataLocation != want || string(got.Metadata) != want {
							t.Fatalf("round %d: replica %d sees %s at %s (%q), want the winner's %s", round, i, name, got.MetadataLocation, got.Metadata, want)
						}
					}
					current[name] = want
				}
			}
		})
	}
}

func TestReopenKeepsState(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	s := open(t, dsn)
	if err := s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}, Properties: map[string]string{"owner": "ops"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEntry(ctx, tbl("t", "m0")); err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, store.Swap{Expected: "m0", Next: tbl("t", "m1")}); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)

	s = open(t, dsn)
	defer closeStore(t, s)
	got, err := s.LoadEntry(ctx, store.KindTable, []string{"raw"}, "t")
	if err != nil || got.MetadataLocation != "m1" || string(got.Metadata) != "m1" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	ns, err := s.LoadNamespace(ctx, []string{"raw"})
	if err != nil || ns.Properties["owner"] != "ops" {
		t.Fatalf("namespace after reopen: %+v, %v", ns, err)
	}
	assertMigratedOnce(t, dsn)
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := newDatabase(t)
	const replicas = 4
	stores := make([]*pgstore.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(context.Background(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: opening: %v", i, err)
			continue
		}
		closeStore(t, stores[i])
	}
	assertMigratedOnce(t, dsn)
}

// assertMigratedOnce checks that schema_version holds each version once.
func assertMigratedOnce(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := conn.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	var n, maxVersion int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&n, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if n != pgstore.SchemaVersion || maxVersion != pgstore.SchemaVersion {
		t.Fatalf("schema_version has %d rows up to %d, want versions 1 to %d once each", n, maxVersion, pgstore.SchemaVersion)
	}
}
