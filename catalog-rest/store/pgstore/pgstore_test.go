package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
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

// connect opens a connection to the database at dsn, closed when t ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return conn
}

// assertMigratedOnce checks that schema_version holds each version once.
func assertMigratedOnce(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, dsn)
	var n, maxVersion int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&n, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if n != pgstore.SchemaVersion || maxVersion != pgstore.SchemaVersion {
		t.Fatalf("schema_version has %d rows up to %d, want versions 1 to %d once each", n, maxVersion, pgstore.SchemaVersion)
	}
}

// exec runs statements on the database at dsn, as another build (or an
// operator) would.
func exec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, dsn)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestOpenRefusesADatabaseOfAnEarlyDevelopmentBuild(t *testing.T) {
	dsn := newDatabase(t)
	exec(t, dsn,
		`CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO schema_version (version) VALUES (1), (2)`,
		`CREATE TABLE namespaces (name text PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}')`,
		`CREATE TABLE tables (namespace text NOT NULL, name text NOT NULL, metadata_location text NOT NULL)`,
		`CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, token bigint NOT NULL, expires timestamptz NOT NULL)`)
	s, err := pgstore.Open(context.Background(), dsn)
	if err == nil {
		closeStore(t, s)
		t.Fatal("Open accepted the database")
	}
	if !errors.Is(err, store.ErrIncompatibleSchema) {
		t.Fatalf("got %v, want ErrIncompatibleSchema", err)
	}
	for _, m := range []string{"schema version 2", "table entries is missing", "table idempotency is missing", "incompatible development build", "fresh database"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var version int
	if err := conn.QueryRow(context.Background(), `SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version != 2 {
		t.Fatalf("schema version %d, %v after a refused Open; want 2, untouched", version, err)
	}
}

func TestOpenServesASchemaANewerReplicaMigrated(t *testing.T) {
	dsn := newDatabase(t)
	closeStore(t, open(t, dsn))
	exec(t, dsn, fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, pgstore.SchemaVersion+1))
	// An older replica runs on during a rolling deploy, and says so.
	var logged bytes.Buffer
	s, err := pgstore.Open(context.Background(), dsn, pgstore.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	err = s.CreateNamespace(context.Background(), store.Namespace{Levels: []string{"raw"}})
	closeStore(t, s) // its background work logs too: read the log after
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "newer than this release knows") {
		t.Fatalf("no warning of the newer schema in the log:\n%s", logged.String())
	}
}
