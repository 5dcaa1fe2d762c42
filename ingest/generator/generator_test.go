package generator_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

func TestGenerateReturnsTheFiveTablesInDependencyOrder(t *testing.T) {
	spec := small()
	tables := generate(t, spec)

	var names []string
	for _, tbl := range tables {
		names = append(names, tbl.Name)
		for i, rec := range tbl.Records {
			if !rec.Schema().Equal(tbl.Schema) {
				t.Errorf("%s batch %d schema = %s, want %s", tbl.Name, i, rec.Schema(), tbl.Schema)
			}
		}
	}
	if want := []string{"customers", "products", "orders", "order_items", "events"}; !slices.Equal(names, want) {
		t.Fatalf("table names = %v, want %v", names, want)
	}

	exact := map[string]int64{"customers": 200, "products": 60, "orders": 1_000}
	for name, want := range exact {
		if got := byName(t, tables, name).NumRows(); got != want {
			t.Errorf("%s has %d rows, want %d", name, got, want)
		}
	}
	if n := byName(t, tables, "order_items").NumRows(); n < 1_000 || n > 6_000 {
		t.Errorf("order_items has %d rows, want 1 to 6 per order", n)
	}
	// EventsPerOrder is an average; 1,000 orders keep the mean within a few percent.
	if n := byName(t, tables, "events").NumRows(); math.Abs(float64(n)-8_000) > 400 {
		t.Errorf("events has %d rows, want about 8 per order (8000)", n)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec := small()
	a, b := generate(t, spec), generate(t, spec)
	if sa, sb := generator.Summarize(a), generator.Summarize(b); sa != sb {
		t.Fatalf("Summarize differs between runs:\n%+v\n%+v", sa, sb)
	}
	for i := range a {
		if len(a[i].Records) != len(b[i].Records) {
			t.Fatalf("%s: %d vs %d batches", a[i].Name, len(a[i].Records), len(b[i].Records))
		}
		for j := range a[i].Records {
			if !array.RecordEqual(a[i].Records[j], b[i].Records[j]) {
				t.Errorf("%s batch %d differs between runs; first rows:\n%v\n%v",
					a[i].Name, j, a[i].Records[j].NewSlice(0, 1), b[i].Records[j].NewSlice(0, 1))
			}
		}
	}
}

func TestSeedAndSizesChangeOnlyWhatTheyFeed(t *testing.T) {
	base := small()
	ref := generate(t, base)

	otherSeed := base
	otherSeed.Seed = 7
	fewerEvents := base
	fewerEvents.EventsPerOrder = 3

	tests := []struct {
		name      string
		spec      generator.Spec
		same      []string
		different []string
	}{
		{name: "another seed changes every table", spec: otherSeed,
			different: []string{"customers", "products", "orders", "order_items", "events"}},
		{name: "fewer events per order changes only the events", spec: fewerEvents,
			same: []string{"customers", "products", "orders", "order_items"}, different: []string{"events"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := generate(t, tc.spec)
			for _, name := range tc.same {
				if !tablesEqual(byName(t, ref, name), byName(t, got, name)) {
					t.Errorf("%s changed", name)
				}
			}
			for _, name := range tc.different {
				if tablesEqual(byName(t, ref, name), byName(t, got, name)) {
					t.Errorf("%s did not change", name)
				}
			}
		})
	}
}

func tablesEqual(a, b *generator.Table) bool {
	ta := array.NewTableFromRecords(a.Schema, a.Records)
	defer ta.Release()
	tb := array.NewTableFromRecords(b.Schema, b.Records)
	defer tb.Release()
	return array.TableEqual(ta, tb)
}

func TestBatchRowsOnlyMovesBatchBoundaries(t *testing.T) {
	tiny := generator.Spec{Customers: 50, Products: 20, Orders: 200, BatchRows: 64}
	ref := generate(t, tiny)

	for _, batchRows := range []int{1, 7, 1_000, 1 << 20} {
		spec := tiny
		spec.BatchRows = batchRows
		t.Run("", func(t *testing.T) {
			got := generate(t, spec)
			for i, tbl := range got {
				for j, rec := range tbl.Records {
					n := rec.NumRows()
					last := j == len(tbl.Records)-1
					if n == 0 || n > int64(batchRows) || (!last && n != int64(batchRows)) {
						t.Errorf("BatchRows %d: %s batch %d of %d has %d rows",
							batchRows, tbl.Name, j, len(tbl.Records), n)
					}
				}
				if !tablesEqual(ref[i], tbl) {
					t.Errorf("BatchRows %d: %s data differs from BatchRows 64", batchRows, tbl.Name)
				}
			}
		})
	}
}

func TestNonNullableColumnsHoldNoNulls(t *testing.T) {
	for _, tbl := range generate(t, small()) {
		for i, f := range tbl.Schema.Fields() {
			for _, rec := range tbl.Records {
				if !f.Nullable && rec.Column(i).NullN() > 0 {
					t.Errorf("%s.%s is non-nullable but holds nulls", tbl.Name, f.Name)
				}
			}
		}
	}
}

func TestReferentialIntegrity(t *testing.T) {
	tables := generate(t, small())
	customers, products := byName(t, tables, "customers"), byName(t, tables, "products")
	orders, items, events := byName(t, tables, "orders"), byName(t, tables, "order_items"), byName(t, tables, "events")

	unique := func(tbl *generator.Table, col string) map[string]bool {
		ids, _ := strs(t, tbl, col)
		s := set(ids)
		if len(s) != len(ids) {
			t.Errorf("%s.%s has %d duplicates", tbl.Name, col, len(ids)-len(s))
		}
		return s
	}
	custIDs, prodIDs := unique(customers, "customer_id"), unique(products, "product_id")
	orderIDs := unique(orders, "order_id")
	unique(events, "event_id")

	orderCusts, _ := strs(t, orders, "customer_id")
	for _, c := range orderCusts {
		if !custIDs[c] {
			t.Fatalf("order references unknown customer %q", c)
		}
	}

	itemOrders, _ := strs(t, items, "order_id")
	itemProds, _ := strs(t, items, "product_id")
	lines, _ := ints(t, items, "line_no")
	linesOf := map[string][]int32{}
	for i := range itemOrders {
		if !orderIDs[itemOrders[i]] || !prodIDs[itemProds[i]] {
			t.Fatalf("item %d references unknown order %q or product %q", i, itemOrders[i], itemProds[i])
		}
		linesOf[itemOrders[i]] = append(linesOf[itemOrders[i]], lines[i])
	}
	for id := range orderIDs {
		ls := linesOf[id]
		if len(ls) == 0 {
			t.Fatalf("order %s has no items", id)
		}
		for j, l := range ls {
			if l != int32(j+1) {
				t.Fatalf("order %s has line numbers %v, want 1..%d", id, ls, len(ls))
			}
		}
	}

	users, userValid := strs(t, events, "user_id")
	eventProds, prodValid := strs(t, events, "product_id")
	for i := range users {
		if userValid[i] && !custIDs[users[i]] {
			t.Fatalf("event %d references unknown user %q", i, users[i])
		}
		if prodValid[i] && !prodIDs[eventProds[i]] {
			t.Fatalf("event %d references unknown product %q", i, eventProds[i])
		}
	}

	kinds, _ := strs(t, events, "event_type")
	purchases := 0
	for _, k := range kinds {
		if k == "purchase" {
			purchases++
		}
	}
	if purchases != len(orderIDs) {
		t.Errorf("%d purchase events for %d orders", purchases, len(orderIDs))
	}
}

func TestOrderTotalsMatchTheirItems(t *testing.T) {
	tables := generate(t, small())
	orders, items := byName(t, tables, "orders"), byName(t, tables, "order_items")

	ids, _ := strs(t, orders, "order_id")
	totals, _ := floats(t, orders, "total_amount")
	shipping, _ := floats(t, orders, "shipping_amount")
	itemOrders, _ := strs(t, items, "order_id")
	prices, _ := floats(t, items, "unit_price")
	qtys, _ := ints(t, items, "quantity")

	subtotal := map[string]float64{}
	for i := range itemOrders {
		if prices[i] <= 0 || qtys[i] < 1 {
			t.Fatalf("item %d has price %v and quantity %d", i, prices[i], qtys[i])
		}
		subtotal[itemOrders[i]] += prices[i] * float64(qtys[i])
	}
	for i, id := range ids {
		if got, want := totals[i], subtotal[id]+shipping[i]; math.Abs(got-want) > 0.005 {
			t.Errorf("order %s total_amount = %.2f, want items %.2f + shipping %.2f", id, got, subtotal[id], shipping[i])
		}
		if !slices.Contains([]float64{0, 4.99, 7.99}, shipping[i]) {
			t.Errorf("order %s shipping_amount = %v", id, shipping[i])
		}
		if subtotal[id] >= 50 && shipping[i] != 0 {
			t.Errorf("order %s of %.2f paid %.2f shipping above the free-shipping threshold", id, subtotal[id], shipping[i])
		}
	}
}

func TestDataLooksLikeAShop(t *testing.T) {
	spec := small().WithDefaults()
	tables := generate(t, spec)
	orders, events := byName(t, tables, "orders"), byName(t, tables, "events")

	for _, tbl := range tables {
		for _, f := range tbl.Schema.Fields() {
			if ts, ok := f.Type.(*arrow.TimestampType); ok && (ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC") {
				t.Errorf("%s.%s is %s, want timestamp[us, tz=UTC]", tbl.Name, f.Name, ts)
			}
		}
	}

	statuses, _ := strs(t, orders, "status")
	count := map[string]int{}
	for _, s := range statuses {
		count[s]++
	}
	for s, n := range count {
		if !slices.Contains([]string{"placed", "paid", "shipped", "delivered", "cancelled", "returned"}, s) {
			t.Errorf("unexpected status %q", s)
		}
		if s != "delivered" && n >= count["delivered"] {
			t.Errorf("status %q (%d) is as common as delivered (%d)", s, n, count["delivered"])
		}
	}

	start, end := spec.Start, spec.Start.AddDate(0, 0, spec.Days)
	orderTimes, _ := times(t, orders, "order_ts")
	if !slices.IsSorted(orderTimes) {
		t.Error("orders are not in order_ts order")
	}
	for _, ts := range orderTimes {
		if tm := ts.ToTime(arrow.Microsecond); tm.Before(start) || !tm.Before(end) {
			t.Fatalf("order_ts %s outside [%s, %s)", tm, start, end)
		}
	}

	eventTimes, _ := times(t, events, "event_ts")
	if !slices.IsSorted(eventTimes) {
		t.Error("events are not in event_ts order")
	}
	// Sessions that end in an early order may begin just before Start.
	for _, ts := range eventTimes {
		if tm := ts.ToTime(arrow.Microsecond); tm.Before(start.Add(-2*time.Hour)) || !tm.Before(end) {
			t.Fatalf("event_ts %s far outside [%s, %s)", tm, start, end)
		}
	}

	kinds, _ := strs(t, events, "event_type")
	_, anon := strs(t, events, "user_id")
	perKind, anonymous := map[string]int{}, 0
	for i, k := range kinds {
		perKind[k]++
		if !anon[i] {
			anonymous++
		}
	}
	for _, k := range []string{"view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "search"} {
		if perKind[k] == 0 {
			t.Errorf("no %s events", k)
		}
	}
	if len(perKind) != 6 {
		t.Errorf("event types = %v, want exactly the six known ones", perKind)
	}
	if perKind["view"] <= perKind["purchase"] {
		t.Errorf("%d views for %d purchases; shoppers look before they buy", perKind["view"], perKind["purchase"])
	}
	if share := float64(anonymous) / float64(len(kinds)); share < 0.02 || share > 0.5 {
		t.Errorf("anonymous share of events = %.2f", share)
	}
}
