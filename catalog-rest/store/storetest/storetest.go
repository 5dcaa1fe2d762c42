// Package storetest is the conformance suite every store.Store implementation runs.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

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
		{"views and tables share one name space but are loaded by kind", testViewsShareNamesWithTables},
		{"a swap with a stale metadata location is a conflict", testSwapConflict},
		{"a multi-entry swap changes all entries or none", testMultiSwapIsAllOrNothing},
		{"concurrent swaps let exactly one writer win each round", testConcurrentSwaps},
		{"an idempotent response is kept once and expires", testIdempotency},
		{"metrics reports are kept per table, newest first", testMetricsReports},
		{"a lease is held by one holder until it expires or is released", testLeases},
		{"concurrent holders racing for a free lease get it exactly once", testLeaseRace},
		{"a halt is kept until deleted, and a second halt of the name keeps the first", testHalts},
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

func tbl(ns []string, name, loc string) store.Entry {
	return store.Entry{Kind: store.KindTable, Namespace: ns, Name: name, MetadataLocation: loc, Metadata: []byte(`{"loc":"` + loc + `"}`)}
}

func view(ns []string, name, loc string) store.Entry {
	e := tbl(ns, name, loc)
	e.Kind = store.KindView
	return e
}

func testDropNamespace(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"a"}}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"a", "b"}}))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotEmpty)
	must(t, s.DropNamespace(ctx, []string{"a", "b"}))
	must(t, s.CreateEntry(ctx, tbl([]string{"a"}, "t", "m0")))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotEmpty)
	_, err := s.DropEntry(ctx, store.KindTable, []string{"a"}, "t")
	must(t, err)
	must(t, s.CreateEntry(ctx, view([]string{"a"}, "v", "v0")))
	wantErr(t, s.DropNamespace(ctx, []string{"a"}), store.ErrNamespaceNotEmpty)
	_, err = s.DropEntry(ctx, store.KindView, []string{"a"}, "v")
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
	wantErr(t, s.CreateEntry(ctx, tbl(ns, "t", "m0")), store.ErrNamespaceNotFound)
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: []string{"curated"}}))
	must(t, s.CreateEntry(ctx, tbl(ns, "orders", "m0")))
	must(t, s.CreateEntry(ctx, tbl(ns, "events", "e0")))
	wantErr(t, s.CreateEntry(ctx, tbl(ns, "orders", "m9")), store.ErrExists)

	got, err := s.LoadEntry(ctx, store.KindTable, ns, "orders")
	must(t, err)
	if got.MetadataLocation != "m0" || string(got.Metadata) != `{"loc":"m0"}` || got.Kind != store.KindTable {
		t.Fatalf("loaded %+v", got)
	}
	names, err := s.ListEntries(ctx, store.KindTable, ns)
	must(t, err)
	if !slices.Equal(names, []string{"events", "orders"}) {
		t.Fatalf("tables = %v", names)
	}
	_, err = s.ListEntries(ctx, store.KindTable, []string{"nope"})
	wantErr(t, err, store.ErrNamespaceNotFound)
	must(t, s.RenameEntry(ctx, store.KindTable, ns, "events", []string{"curated"}, "clicks"))
	wantErr(t, s.RenameEntry(ctx, store.KindTable, ns, "events", []string{"curated"}, "x"), store.ErrNotFound)
	wantErr(t, s.RenameEntry(ctx, store.KindTable, ns, "orders", []string{"nope"}, "x"), store.ErrNamespaceNotFound)
	wantErr(t, s.RenameEntry(ctx, store.KindTable, []string{"curated"}, "clicks", ns, "orders"), store.ErrExists)
	_, err = s.LoadEntry(ctx, store.KindTable, []string{"curated"}, "clicks")
	must(t, err)
	dropped, err := s.DropEntry(ctx, store.KindTable, ns, "orders")
	must(t, err)
	if dropped.MetadataLocation != "m0" {
		t.Fatalf("dropped %+v", dropped)
	}
	_, err = s.LoadEntry(ctx, store.KindTable, ns, "orders")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.DropEntry(ctx, store.KindTable, ns, "orders")
	wantErr(t, err, store.ErrNotFound)
}

func testViewsShareNamesWithTables(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"curated"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateEntry(ctx, tbl(ns, "sales", "t0")))
	wantErr(t, s.CreateEntry(ctx, view(ns, "sales", "v0")), store.ErrExists)
	must(t, s.CreateEntry(ctx, view(ns, "sales_v", "v0")))
	_, err := s.LoadEntry(ctx, store.KindView, ns, "sales")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.LoadEntry(ctx, store.KindTable, ns, "sales_v")
	wantErr(t, err, store.ErrNotFound)
	views, err := s.ListEntries(ctx, store.KindView, ns)
	must(t, err)
	tables, err := s.ListEntries(ctx, store.KindTable, ns)
	must(t, err)
	if !slices.Equal(views, []string{"sales_v"}) || !slices.Equal(tables, []string{"sales"}) {
		t.Fatalf("views %v, tables %v", views, tables)
	}
	wantErr(t, s.RenameEntry(ctx, store.KindView, ns, "sales_v", ns, "sales"), store.ErrExists)
	wantErr(t, s.RenameEntry(ctx, store.KindTable, ns, "sales_v", ns, "x"), store.ErrNotFound)
	must(t, s.Swap(ctx, store.Swap{Expected: "v0", Next: view(ns, "sales_v", "v1")}))
	_, err = s.DropEntry(ctx, store.KindTable, ns, "sales_v")
	wantErr(t, err, store.ErrNotFound)
}

func testSwapConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateEntry(ctx, tbl(ns, "t", "m0")))
	must(t, s.Swap(ctx, store.Swap{Expected: "m0", Next: tbl(ns, "t", "m1")}))
	wantErr(t, s.Swap(ctx, store.Swap{Expected: "m0", Next: tbl(ns, "t", "m2")}), store.ErrConflict)
	wantErr(t, s.Swap(ctx, store.Swap{Expected: "m0", Next: tbl(ns, "gone", "m2")}), store.ErrNotFound)
	wantErr(t, s.Swap(ctx, store.Swap{Next: tbl(ns, "t", "m2")}), store.ErrExists)
	must(t, s.Swap(ctx, store.Swap{Next: tbl(ns, "created", "c0")}))
	got, err := s.LoadEntry(ctx, store.KindTable, ns, "t")
	must(t, err)
	if got.MetadataLocation != "m1" || string(got.Metadata) != `{"loc":"m1"}` {
		t.Fatalf("after swaps: %+v", got)
	}
	_, err = s.LoadEntry(ctx, store.KindTable, ns, "created")
	must(t, err)
}

func testMultiSwapIsAllOrNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateEntry(ctx, tbl(ns, "a", "a0")))
	must(t, s.CreateEntry(ctx, tbl(ns, "b", "b0")))
	// b's expectation is stale: nothing may change, a's swap and the create included.
	err := s.Swap(ctx,
		store.Swap{Expected: "a0", Next: tbl(ns, "a", "a1")},
		store.Swap{Next: tbl(ns, "c", "c0")},
		store.Swap{Expected: "stale", Next: tbl(ns, "b", "b1")})
	wantErr(t, err, store.ErrConflict)
	a, err := s.LoadEntry(ctx, store.KindTable, ns, "a")
	must(t, err)
	if a.MetadataLocation != "a0" {
		t.Fatalf("a moved to %s although the transaction failed", a.MetadataLocation)
	}
	_, err = s.LoadEntry(ctx, store.KindTable, ns, "c")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.Swap(ctx,
		store.Swap{Expected: "a0", Next: tbl(ns, "a", "a1")},
		store.Swap{Expected: "b0", Next: tbl(ns, "b", "b1")}))
	for name, want := range map[string]string{"a": "a1", "b": "b1"} {
		e, err := s.LoadEntry(ctx, store.KindTable, ns, name)
		must(t, err)
		if e.MetadataLocation != want {
			t.Fatalf("%s at %s, want %s", name, e.MetadataLocation, want)
		}
	}
}

func testConcurrentSwaps(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	must(t, s.CreateNamespace(ctx, store.Namespace{Levels: ns}))
	must(t, s.CreateEntry(ctx, tbl(ns, "t", "m")))
	const writers = 8
	var wg sync.WaitGroup
	wins := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			next := tbl(ns, "t", "m"+string(rune('a'+w)))
			if err := s.Swap(ctx, store.Swap{Expected: "m", Next: next}); err == nil {
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

func testIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	_, ok, err := s.GetIdempotent(ctx, "k1")
	must(t, err)
	if ok {
		t.Fatal("an unknown key has a response")
	}
	must(t, s.PutIdempotent(ctx, "k1", store.IdempotentResponse{Status: 200, Body: []byte("first"), Created: now}))
	must(t, s.PutIdempotent(ctx, "k1", store.IdempotentResponse{Status: 409, Body: []byte("second"), Created: now}))
	r, ok, err := s.GetIdempotent(ctx, "k1")
	must(t, err)
	if !ok || r.Status != 200 || string(r.Body) != "first" || !r.Created.Equal(now) {
		t.Fatalf("kept %+v (found %v), want the first response", r, ok)
	}
	must(t, s.PutIdempotent(ctx, "old", store.IdempotentResponse{Status: 204, Created: now.Add(-time.Hour)}))
	must(t, s.ExpireIdempotent(ctx, now.Add(-time.Minute)))
	if _, ok, _ := s.GetIdempotent(ctx, "old"); ok {
		t.Fatal("an expired response is still kept")
	}
	if _, ok, _ := s.GetIdempotent(ctx, "k1"); !ok {
		t.Fatal("a fresh response was expired")
	}
}

func testMetricsReports(t *testing.T, s store.Store) {
	ctx := context.Background()
	ns := []string{"raw"}
	now := time.Now().Truncate(time.Millisecond)
	for i := range 3 {
		must(t, s.AddMetricsReport(ctx, store.MetricsReport{Namespace: ns, Table: "t", Received: now.Add(time.Duration(i) * time.Second), Report: []byte{byte('a' + i)}}))
	}
	must(t, s.AddMetricsReport(ctx, store.MetricsReport{Namespace: ns, Table: "other", Received: now, Report: []byte("x")}))
	got, err := s.MetricsReports(ctx, ns, "t", 2)
	must(t, err)
	if len(got) != 2 || string(got[0].Report) != "c" || string(got[1].Report) != "b" || !got[0].Received.Equal(now.Add(2*time.Second)) {
		t.Fatalf("reports = %+v, want the newest two, newest first", got)
	}
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, err := s.AcquireLease(ctx, "compaction/raw.orders", "worker-a", time.Minute)
	must(t, err)
	if a.Holder != "worker-a" || a.Token != 1 || time.Until(a.Expires) < 50*time.Second {
		t.Fatalf("first acquisition: got %+v, want worker-a, token 1, about a minute", a)
	}
	cur, err := s.AcquireLease(ctx, "compaction/raw.orders", "worker-b", time.Minute)
	wantErr(t, err, store.ErrLeaseHeld)
	if cur.Holder != "worker-a" || cur.Token != 1 {
		t.Fatalf("refusal names %+v, want worker-a's lease", cur)
	}
	renewed, err := s.AcquireLease(ctx, "compaction/raw.orders", "worker-a", 2*time.Minute)
	must(t, err)
	if renewed.Token != 1 || !renewed.Expires.After(a.Expires) {
		t.Fatalf("renewal: got %+v, want token 1 and a later expiry than %v", renewed, a.Expires)
	}
	other, err := s.AcquireLease(ctx, "compaction/raw.events", "worker-b", time.Minute)
	must(t, err)
	if other.Token != 1 {
		t.Fatalf("a lease of another name: got token %d, want 1", other.Token)
	}

	// A release with a stale token leaves the lease alone.
	must(t, s.ReleaseLease(ctx, "compaction/raw.orders", "worker-a", 99))
	_, err = s.AcquireLease(ctx, "compaction/raw.orders", "worker-b", time.Minute)
	wantErr(t, err, store.ErrLeaseHeld)
	must(t, s.ReleaseLease(ctx, "compaction/raw.orders", "worker-a", renewed.Token))
	b, err := s.AcquireLease(ctx, "compaction/raw.orders", "worker-b", 50*time.Millisecond)
	must(t, err)
	if b.Holder != "worker-b" || b.Token <= renewed.Token {
		t.Fatalf("after release: got %+v, want worker-b with a token above %d", b, renewed.Token)
	}

	// An expired lease passes to the next holder with a higher token.
	time.Sleep(120 * time.Millisecond)
	c, err := s.AcquireLease(ctx, "compaction/raw.orders", "worker-c", time.Minute)
	must(t, err)
	if c.Holder != "worker-c" || c.Token <= b.Token {
		t.Fatalf("after expiry: got %+v, want worker-c with a token above %d", c, b.Token)
	}
}

func testLeaseRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const holders = 8
	var wg sync.WaitGroup
	won := make(chan string, holders)
	errs := make(chan error, holders)
	for i := range holders {
		wg.Go(func() {
			holder := "worker-" + string(rune('a'+i))
			l, err := s.AcquireLease(ctx, "ingest/window", holder, time.Minute)
			switch {
			case err == nil:
				won <- l.Holder
			case !errors.Is(err, store.ErrLeaseHeld):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		t.Errorf("acquiring: %v", err)
	}
	var winners []string
	for w := range won {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
}

func testHalts(t *testing.T, s store.Store) {
	ctx := context.Background()
	list := func() []store.Halt {
		t.Helper()
		hs, err := s.ListHalts(ctx)
		must(t, err)
		return hs
	}
	if hs := list(); len(hs) != 0 {
		t.Fatalf("halts of a new store: %+v, want none", hs)
	}
	_, err := s.DeleteHalt(ctx, "compaction/raw.orders")
	wantErr(t, err, store.ErrNoSuchHalt)

	before := time.Now().Add(-time.Second)
	first, created, err := s.PutHalt(ctx, store.Halt{Name: "compaction/raw.orders", Reason: "manifest list missing", Holder: "worker-a"})
	must(t, err)
	if !created || first.Name != "compaction/raw.orders" || first.Reason != "manifest list missing" || first.Holder != "worker-a" ||
		first.Since.Before(before) || time.Since(first.Since) > time.Minute {
		t.Fatalf("first halt: got %+v (created %v), want worker-a's, new, stamped now", first, created)
	}
	again, created, err := s.PutHalt(ctx, store.Halt{Name: "compaction/raw.orders", Reason: "other", Holder: "worker-b"})
	must(t, err)
	if created || again.Reason != first.Reason || again.Holder != "worker-a" || !again.Since.Equal(first.Since) {
		t.Fatalf("second halt of the name: got %+v (created %v), want the first, %+v", again, created, first)
	}
	_, _, err = s.PutHalt(ctx, store.Halt{Name: "compaction/curated.sales", Reason: "bad\nmanifest", Holder: "worker-b"})
	must(t, err)
	hs := list()
	if len(hs) != 2 || hs[0].Name != "compaction/curated.sales" || hs[0].Reason != "bad\nmanifest" ||
		hs[1].Name != "compaction/raw.orders" || hs[1].Holder != "worker-a" || !hs[1].Since.Equal(first.Since) {
		t.Fatalf("listed %+v, want curated.sales then raw.orders as recorded", hs)
	}

	lifted, err := s.DeleteHalt(ctx, "compaction/raw.orders")
	must(t, err)
	if lifted.Reason != "manifest list missing" || lifted.Holder != "worker-a" || !lifted.Since.Equal(first.Since) {
		t.Fatalf("lifted %+v, want the first halt", lifted)
	}
	_, err = s.DeleteHalt(ctx, "compaction/raw.orders")
	wantErr(t, err, store.ErrNoSuchHalt)
	if hs := list(); len(hs) != 1 || hs[0].Name != "compaction/curated.sales" {
		t.Fatalf("after lifting raw.orders: %+v, want curated.sales alone", hs)
	}
	// A lifted name can be halted again, afresh.
	next, created, err := s.PutHalt(ctx, store.Halt{Name: "compaction/raw.orders", Reason: "again", Holder: "worker-c"})
	must(t, err)
	if !created || next.Reason != "again" || next.Holder != "worker-c" {
		t.Fatalf("halt after a lift: got %+v (created %v), want worker-c's new one", next, created)
	}
}
