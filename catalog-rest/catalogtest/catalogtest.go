// Package catalogtest serves the real catalog over HTTP on a SQLite file,
// for the tests of its clients and handlers.
package catalogtest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
)

// Serve starts a catalog on the SQLite database at dbPath ("" means a
// fresh one in t.TempDir()), whose warehouse is "s3://b", and returns its
// store and its server. Both close when t ends. Several servers on one
// dbPath behave as several catalog processes sharing the database.
func Serve(t testing.TB, dbPath string) (*sqlitestore.Store, *httptest.Server) {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "catalog.db")
	}
	st, err := sqlitestore.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	srv, err := catalogrest.New(slog.New(slog.DiscardHandler), nil, st, catalogrest.Config{Warehouse: "s3://b"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return st, hs
}
