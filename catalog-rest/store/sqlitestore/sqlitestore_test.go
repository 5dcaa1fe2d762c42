package sqlitestore_test

import (
	"context"
	"path/filepath"
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
