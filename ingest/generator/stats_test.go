package generator_test

import (
	"math"
	"testing"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

func TestSummarize(t *testing.T) {
	tables := generate(t, small())
	got := generator.Summarize(tables)

	counts := []struct {
		name string
		got  int64
	}{
		{"customers", got.Customers}, {"products", got.Products}, {"orders", got.Orders},
		{"order_items", got.OrderItems}, {"events", got.Events},
	}
	for _, c := range counts {
		if want := byName(t, tables, c.name).NumRows(); c.got != want {
			t.Errorf("Summarize counts %d %s, want %d", c.got, c.name, want)
		}
	}

	// Revenue seen from the other side: every order's total less shipping.
	orders := byName(t, tables, "orders")
	totals, _ := floats(t, orders, "total_amount")
	shipping, _ := floats(t, orders, "shipping_amount")
	statuses, _ := strs(t, orders, "status")
	var cents, delivered int64
	for i := range totals {
		cents += int64(math.Round(totals[i]*100)) - int64(math.Round(shipping[i]*100))
		if statuses[i] == "delivered" {
			delivered++
		}
	}
	if want := float64(cents) / 100; got.OrderItemsRevenue != want {
		t.Errorf("OrderItemsRevenue = %.2f, want %.2f (orders' totals less shipping)", got.OrderItemsRevenue, want)
	}
	if got.OrderItemsRevenue != math.Round(got.OrderItemsRevenue*100)/100 {
		t.Errorf("OrderItemsRevenue = %v is not rounded to cents", got.OrderItemsRevenue)
	}
	if got.DeliveredOrders != delivered || delivered == 0 {
		t.Errorf("DeliveredOrders = %d, want %d (> 0)", got.DeliveredOrders, delivered)
	}
}

func TestSummarizeCountsOnlyWhatItIsGiven(t *testing.T) {
	tables := generate(t, small())
	tests := []struct {
		name   string
		tables []*generator.Table
		want   func(generator.Stats) bool
	}{
		{"no tables give zero stats", nil, func(s generator.Stats) bool { return s == generator.Stats{} }},
		{"nil and released tables count as empty", []*generator.Table{nil, {Name: "orders"}},
			func(s generator.Stats) bool { return s == generator.Stats{} }},
		{"order items alone give revenue but no orders", []*generator.Table{byName(t, tables, "order_items")},
			func(s generator.Stats) bool { return s.OrderItems > 0 && s.OrderItemsRevenue > 0 && s.Orders == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := generator.Summarize(tc.tables); !tc.want(got) {
				t.Errorf("Summarize() = %+v", got)
			}
		})
	}
}
