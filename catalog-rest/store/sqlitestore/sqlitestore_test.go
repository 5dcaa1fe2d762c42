package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceWithSoleWriterCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
		if err != nil {
			t.Fatal(err)
		}
		return store.SoleWriterCache(s)
	})
}

func TestReopenKeepsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEntry(ctx, store.Entry{Kind: store.KindTable, Namespace: []string{"raw"}, Name: "t", MetadataLocation: "m0", Metadata: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LoadEntry(ctx, store.KindTable, []string{"raw"}, "t")
	if err != nil || got.MetadataLocation != "m0" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

// earlyBuild is the schema an early development build made under versions
// 1 and 2, before its migration 1 was edited into the released one.
const earlyBuild = `
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1), (2);
CREATE TABLE namespaces (name TEXT PRIMARY KEY, properties TEXT NOT NULL DEFAULT '{}');
CREATE TABLE tables (namespace TEXT NOT NULL, name TEXT NOT NULL, metadata_location TEXT NOT NULL, PRIMARY KEY (namespace, name));
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
INSERT INTO namespaces (name) VALUES ('raw');
INSERT INTO tables VALUES ('raw', 'customers', 's3://lakehouse/raw/customers/metadata/00001.metadata.json');`

// migrated is the schema of the first n migrations, as Open leaves it.
func migrated(n int, then ...string) []string {
	stmts := append([]string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`}, sqlitestore.Migrations[:n]...)
	for v := 1; v <= n; v++ {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, v))
	}
	return append(stmts, then...)
}

// buildDatabase makes a SQLite file at path by hand, as another build of
// the lakehouse (or none) would have.
func buildDatabase(t *testing.T, path string, stmts []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("building the database: %s: %v", s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// schemaVersion reads the highest schema version of the file at path.
func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	err = db.QueryRow(`SELECT MAX(version) FROM schema_version`).Scan(&v)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenRecognisesADatabaseOfAnotherSchema(t *testing.T) {
	cases := []struct {
		name  string
		stmts []string
		// want is nil for a database Open accepts; else the error kind and
		// what the message must say besides the path.
		want     error
		messages []string
	}{
		{"a database of an early development build is refused, naming the missing table and the remedy", []string{earlyBuild},
			store.ErrIncompatibleSchema, []string{"schema version 2", "table entries is missing", "incompatible development build", "Move it aside", "fresh state directory"}},
		{"a table that lacks a column is refused", migrated(len(sqlitestore.Migrations), `ALTER TABLE entries DROP COLUMN kind`),
			store.ErrIncompatibleSchema, []string{"table entries lacks column kind"}},
		{"a column of another type is refused", migrated(len(sqlitestore.Migrations), `DROP TABLE leases`,
			`CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token TEXT NOT NULL, expires_ms INTEGER NOT NULL)`),
			store.ErrIncompatibleSchema, []string{"column leases.token is TEXT NOT NULL, want INTEGER NOT NULL"}},
		{"tables without a schema version are refused", []string{`CREATE TABLE entries (name TEXT)`},
			store.ErrIncompatibleSchema, []string{"tables (entries) but no schema version"}},
		{"a schema version newer than this lakehouse knows is refused", migrated(len(sqlitestore.Migrations), `INSERT INTO schema_version (version) VALUES (1000)`),
			store.ErrNewerSchema, []string{"schema version 1000", "newer", "run the release that made it"}},
		{"an older database with the schema of its version is migrated", migrated(2), nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "catalog.db")
			buildDatabase(t, path, c.stmts)
			before := schemaVersion(t, path)
			s, err := sqlitestore.Open(ctx, path)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if _, err := s.ListHalts(ctx); err != nil {
					t.Fatalf("after migrating: %v", err)
				}
				if got := schemaVersion(t, path); got != len(sqlitestore.Migrations) {
					t.Fatalf("schema version %d after Open, want %d", got, len(sqlitestore.Migrations))
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open accepted the database, want %v", c.want)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, m := range append([]string{path}, c.messages...) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not say %q", err, m)
				}
			}
			if got := schemaVersion(t, path); got != before {
				t.Fatalf("a refused database was migrated from version %d to %d", before, got)
			}
		})
	}
}
