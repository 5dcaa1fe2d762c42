// Package storetest is the conformance suite every store.Store implementation runs.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// Run runs the suite; open returns a new, empty store for each case.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"namespaces are created, listed by parent and loaded with their properties", testNamespaces},
		{"a namespace with a table or a child cannot be dropped", testDropNamespace},
		{"namespace property updates report updated, removed and missing keys", testNamespaceProperties},
		{"tables are created, loaded, listed, renamed and dropped", testTables},
		{"a swap with a stale metadata location is a conflict", testSwapConflict},
		{"concurrent swaps let exactly one writer win each round", testConcurrentSwaps},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("closing store: %v", err)
				}
			})
			c.fn(t, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("got error %v, want %v", got, want)
	}
}

func testNamespaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}, Properties: map[string]string{"location": "s3://b/raw"}}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"curated"}}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw", "shop"}}))
	wantErr(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}), store.ErrNamespaceExists)
	wantErr(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"nope", "child"}}), store.ErrNamespaceNotFound)

	top, err := s.ListNamespaces(ctx, nil)
	must(t, err)
	if !slices.EqualFunc(top, [][]string{{"curated"}, {"raw"}}, slices.Equal) {
		t.Fatalf("top-level namespaces = %v", top)
	}
	kids, err := s.ListNamespaces(ctx, []string{"raw"})
	must(t, err)
	if len(kids) != 1 || !slices.Equal(kids[0], []string{"raw", "shop"}) {
		t.Fatalf("children of raw = %v", kids)
	}
	ns, err := s.LoadNamespace(ctx, []string{"raw"})
	must(t, err)
	if ns.Properties["location"] != "s3://b/raw" {
		t.Fatalf("properties = %v", ns.Properties)
	}
	_, err = s.LoadNamespace(ctx, []string{"missing"})
	wantErr(t, err, store.ErrNamespaceNotFound)
}

func testDropNamespace(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"a"}}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"a", "b"}}))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotEmpty)
	must(t, s.DropNamespace(ctx, []string{"a", "b"}))
	must(t, s.CreateTable(ctx, store.Table{Namespace: []string{"a"}, Name: "t", MetadataLocation: "m0", Metadata: []byte("{}")}))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotEmpty)
	_, err := s.DropTable(ctx, []string{"a"}, "t")
	must(t, err)
	must(t, s.DropNamespace(ctx, []string{"a"}))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotFound)
}

func testNamespaceProperties(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"n"}, Properties: map[string]string{"a": "1", "b": "2"}}))
	ch, err := s.UpdateNamespace(ctx, []string{"n"}, map[string]string{"c": "3"}, []string{"a", "zz"})
	must(t, err)
	if !slices.Equal(ch.Updated, []string{"c"}) || !slices.Equal(ch.Removed, []string{"a"}) || !slices.Equal(ch.Missing, []string{"zz"}) {
		t.Fatalf("changes = %+v", ch)
	}
	ns, err := s.LoadNamespace(ctx, []string{"n"})
	must(t, err)
	if len(ns.Properties) != 2 || ns.Properties["b"] != "2" || ns.Properties["c"] != "3" {
		t.Fatalf("properties after update = %v", ns.Properties)
	}
	_, err = s.UpdateNamespace(ctx, []string{"missing"}, nil, nil)
	wantErr(t, err, store.ErrNamespaceNotFound)
}

func testTables(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	wantErr(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "t", MetadataLocation: "m0"}), store.ErrNamespaceNotFound)
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"curated"}}))
	must(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "orders", MetadataLocation: "m0", Metadata: []byte(`{"v":0}`)}))
	must(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "events", MetadataLocation: "e0", Metadata: []byte(`{}`)}))
	wantErr(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "orders", MetadataLocation: "m9"}), store.ErrTableExists)

	got, err := s.LoadTable(ctx, ns, "orders")
	must(t, err)
	if got.MetadataLocation != "m0" || string(got.Metadata) != `{"v":0}` {
		t.Fatalf("loaded %+v", got)
	}
	names, err := s.ListTables(ctx, ns)
	must(t, err)
	if !slices.Equal(names, []string{"events", "orders"}) {
		t.Fatalf("tables = %v", names)
	}
	must(t, s.RenameTable(ctx, ns, "events", []string{"curated"}, "clicks"))
	wantErr(t, s.RenameTable(ctx, ns, "events", []string{"curated"}, "x"), store.ErrTableNotFound)
	wantErr(t, s.RenameTable(ctx, ns, "orders", []string{"nope"}, "x"), store.ErrNamespaceNotFound)
	_, err = s.LoadTable(ctx, []string{"curated"}, "clicks")
	must(t, err)
	dropped, err := s.DropTable(ctx, ns, "orders")
	must(t, err)
	if dropped.MetadataLocation != "m0" {
		t.Fatalf("dropped %+v", dropped)
	}
	_, err = s.LoadTable(ctx, ns, "orders")
	wantErr(t, err, store.ErrTableNotFound)
	_, err = s.DropTable(ctx, ns, "orders")
	wantErr(t, err, store.ErrTableNotFound)
}

func testSwapConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "t", MetadataLocation: "m0", Metadata: []byte("0")}))
	must(t, s.SwapTable(ctx, "m0", store.Table{Namespace: ns, Name: "t", MetadataLocation: "m1", Metadata: []byte("1")}))
	wantErr(t, s.SwapTable(ctx, "m0", store.Table{Namespace: ns, Name: "t", MetadataLocation: "m2", Metadata: []byte("2")}), store.ErrConflict)
	wantErr(t, s.SwapTable(ctx, "m0", store.Table{Namespace: ns, Name: "gone", MetadataLocation: "m2"}), store.ErrTableNotFound)
	got, err := s.LoadTable(ctx, ns, "t")
	must(t, err)
	if got.MetadataLocation != "m1" || string(got.Metadata) != "1" {
		t.Fatalf("after swaps: %+v", got)
	}
}

func testConcurrentSwaps(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateTable(ctx, store.Table{Namespace: ns, Name: "t", MetadataLocation: "m", Metadata: []byte("{}")}))
	const writers = 8
	var wg sync.WaitGroup
	wins := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			next := store.Table{Namespace: ns, Name: "t", MetadataLocation: "m" + string(rune('a'+w)), Metadata: []byte("{}")}
			if err := s.SwapTable(ctx, "m", next); err == nil {
				wins[w]++
			} else if !errors.Is(err, store.ErrConflict) {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range wins {
		total += n
	}
	if total != 1 {
		t.Fatalf("%d writers won the same swap, want exactly 1", total)
	}
}
