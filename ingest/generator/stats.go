package generator

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Stats are figures tests compare against what a query engine reads back.
type Stats struct {
	Orders     int64
	OrderItems int64
	Customers  int64
	Products   int64
	Events     int64
	// OrderItemsRevenue is sum(unit_price * quantity) over order_items,
	// rounded to cents.
	OrderItemsRevenue float64
	// DeliveredOrders counts orders whose status is "delivered".
	DeliveredOrders int64
}

// Summarize computes Stats from the Arrow data itself, not from the Spec, so
// it also describes tables that were filtered or read back from storage.
// Tables are recognised by name; missing tables and columns count as zero.
func Summarize(tables []*Table) Stats {
	var s Stats
	for _, t := range tables {
		if t == nil {
			continue
		}
		switch t.Name {
		case tableCustomers:
			s.Customers += t.NumRows()
		case tableProducts:
			s.Products += t.NumRows()
		case tableEvents:
			s.Events += t.NumRows()
		case tableOrders:
			s.Orders += t.NumRows()
			s.DeliveredOrders += countDelivered(t)
		case tableOrderItems:
			s.OrderItems += t.NumRows()
			s.OrderItemsRevenue += revenueCents(t)
		}
	}
	s.OrderItemsRevenue = math.Round(s.OrderItemsRevenue) / 100
	return s
}

func countDelivered(t *Table) int64 {
	delivered := orderStatuses()[statusDelivered]
	var n int64
	for _, rec := range t.Records {
		col, ok := column[*array.String](rec, "status")
		if !ok {
			return 0
		}
		for i := range col.Len() {
			if col.IsValid(i) && col.Value(i) == delivered {
				n++
			}
		}
	}
	return n
}

// revenueCents sums unit_price*quantity in whole cents: every unit_price is
// a cent amount, so rounding each one first makes the sum exact and
// independent of batch boundaries and summation order.
func revenueCents(t *Table) float64 {
	var cents int64
	for _, rec := range t.Records {
		price, ok1 := column[*array.Float64](rec, "unit_price")
		qty, ok2 := column[*array.Int32](rec, "quantity")
		if !ok1 || !ok2 {
			return 0
		}
		for i := range price.Len() {
			if price.IsValid(i) && qty.IsValid(i) {
				cents += int64(math.Round(price.Value(i)*100)) * int64(qty.Value(i))
			}
		}
	}
	return float64(cents)
}

// column returns rec's column name as type A, or false when the column is
// missing or of another type.
func column[A arrow.Array](rec arrow.RecordBatch, name string) (A, bool) {
	var zero A
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return zero, false
	}
	a, ok := rec.Column(idx[0]).(A)
	return a, ok
}
