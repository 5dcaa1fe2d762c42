package generator

import (
	"math/rand/v2"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// statusDelivered indexes "delivered" in orderStatuses.
const statusDelivered uint8 = 3

// orderStatuses are indexed by order.status.
func orderStatuses() []string {
	return []string{"placed", "paid", "shipped", "delivered", "cancelled", "returned"}
}

// paymentMethods are indexed by order.payment.
func paymentMethods() []string {
	return []string{"card", "paypal", "apple_pay", "google_pay", "klarna", "gift_card"}
}

type order struct {
	id            string
	ts            int64 // Unix microseconds
	customer      int32 // index into customers
	status        uint8
	payment       uint8
	shippingCents int64
	totalCents    int64 // items' unitCents*qty plus shippingCents
	firstItem     int32 // index of the order's first line in items
	nItems        int32
}

type item struct {
	product   int32 // index into products
	qty       int32
	unitCents int64
}

const (
	freeShippingCents  = 50_00
	shippingCents      = 4_99
	heavyShippingCents = 7_99
	heavyGrams         = 5_000
)

// genOrders makes spec.Orders orders in time order (order ids rise with
// order_ts) and their lines. Order volume grows over the window, peaks at
// weekends and in the evening; a few customers and products draw most of it.
func genOrders(r *rand.Rand, spec Spec, w window, custs []customer, prods []product) ([]order, []item) {
	dayPick := orderDays(spec)
	hourPick := newWeighted(
		[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23},
		[]float64{0.6, 0.4, 0.25, 0.2, 0.2, 0.3, 0.6, 1.0, 1.4, 1.7, 1.9, 2.1,
			2.4, 2.3, 2.0, 1.9, 2.0, 2.3, 2.7, 3.2, 3.4, 3.0, 2.2, 1.2})
	times := make([]int64, spec.Orders)
	for i := range times {
		times[i] = w.start + int64(dayPick.pick(r))*microsPerDay +
			int64(hourPick.pick(r))*microsPerHour + r.Int64N(microsPerHour)
	}
	slices.Sort(times)

	custPerm, prodPerm := r.Perm(len(custs)), r.Perm(len(prods))
	lines := newWeighted([]int{1, 2, 3, 4, 5, 6}, []float64{45, 25, 15, 8, 4, 3})
	qtys := newWeighted([]int32{1, 2, 3, 4, 5}, []float64{75, 17, 5, 2, 1})
	payments := newWeighted([]uint8{0, 1, 2, 3, 4, 5}, []float64{55, 20, 10, 7, 5, 3})

	orders := make([]order, spec.Orders)
	items := make([]item, 0, spec.Orders*2+spec.Orders/4)
	seen := make(map[int32]bool, 8)
	for i := range orders {
		o := &orders[i]
		o.id = formatID("o-", i+1, 8)
		o.ts = times[i]
		o.customer = int32(custPerm[skewed(r, len(custs), 4)])
		o.status = orderStatus(r, w.end-o.ts)
		o.payment = payments.pick(r)
		o.firstItem = int32(len(items))
		o.nItems = int32(min(lines.pick(r), len(prods)))

		clear(seen)
		var subtotal, grams int64
		for range o.nItems {
			p := distinctProduct(r, prodPerm, seen)
			unit := prods[p].priceCents
			if r.Float64() < 0.12 { // a promotion: 10–25% off
				unit = unit * int64(100-5*(2+r.IntN(4))) / 100
			}
			q := qtys.pick(r)
			items = append(items, item{product: p, qty: q, unitCents: unit})
			subtotal += unit * int64(q)
			grams += int64(prods[p].grams) * int64(q)
		}

		switch {
		case subtotal >= freeShippingCents || custs[o.customer].vip:
			o.shippingCents = 0
		case grams > heavyGrams:
			o.shippingCents = heavyShippingCents
		default:
			o.shippingCents = shippingCents
		}
		o.totalCents = subtotal + o.shippingCents
	}
	return orders, items
}

// orderDays weights each day of the window: volume grows 60% over it and
// weekends sell 30% more.
func orderDays(spec Spec) weighted[int] {
	days := make([]int, spec.Days)
	weights := make([]float64, spec.Days)
	for d := range days {
		days[d] = d
		w := 1 + 0.6*float64(d)/float64(spec.Days)
		if wd := spec.Start.AddDate(0, 0, d).Weekday(); wd == 0 || wd == 6 {
			w *= 1.3
		}
		// The conversion forces rounding here, so no architecture may fuse the
		// multiplication into newWeighted's running sum (see skewed).
		weights[d] = float64(w)
	}
	return newWeighted(days, weights)
}

// distinctProduct picks a popular product not yet in seen and records it.
// The caller never asks for more products than exist.
func distinctProduct(r *rand.Rand, perm []int, seen map[int32]bool) int32 {
	for range 32 {
		p := int32(perm[skewed(r, len(perm), 5)])
		if !seen[p] {
			seen[p] = true
			return p
		}
	}
	// A tiny catalogue can make repeats likely; take the next free product.
	for p := range int32(len(perm)) {
		if !seen[p] {
			seen[p] = true
			return p
		}
	}
	panic("generator: more order lines than products") // genOrders caps lines
}

// orderStatus draws a status that fits how long ago, as of the end of the
// window, the order was placed: recent orders are still in flight, older
// ones mostly delivered.
func orderStatus(r *rand.Rand, age int64) uint8 {
	x := r.Float64()
	switch {
	case age < microsPerDay:
		return pickStatus(x, [6]float64{0.30, 0.50, 0.15, 0, 0.05, 0})
	case age < 5*microsPerDay:
		return pickStatus(x, [6]float64{0, 0.10, 0.55, 0.30, 0.05, 0})
	default:
		return pickStatus(x, [6]float64{0.01, 0.01, 0.02, 0.84, 0.06, 0.06})
	}
}

func pickStatus(x float64, shares [6]float64) uint8 {
	for s, share := range shares {
		if x < share {
			return uint8(s)
		}
		x -= share
	}
	return statusDelivered // rounding left a sliver
}

func buildOrders(mem memory.Allocator, batchRows int, custs []customer, orders []order) *Table {
	statuses, methods := orderStatuses(), paymentMethods()
	w := newBatchWriter(mem, ordersSchema(), batchRows, len(orders))
	f := w.b.Fields()
	id, cust := f[0].(*array.StringBuilder), f[1].(*array.StringBuilder)
	status, ts := f[2].(*array.StringBuilder), f[3].(*array.TimestampBuilder)
	currency, total := f[4].(*array.StringBuilder), f[5].(*array.Float64Builder)
	shipping, payment := f[6].(*array.Float64Builder), f[7].(*array.StringBuilder)
	for i := range orders {
		o := &orders[i]
		c := &custs[o.customer]
		id.Append(o.id)
		cust.Append(c.id)
		status.Append(statuses[o.status])
		ts.Append(arrow.Timestamp(o.ts))
		currency.Append(currencyOf(c.city.country))
		total.Append(money(o.totalCents))
		shipping.Append(money(o.shippingCents))
		payment.Append(methods[o.payment])
		w.endRow()
	}
	return w.table(tableOrders)
}

func buildOrderItems(mem memory.Allocator, batchRows int, prods []product, orders []order, items []item) *Table {
	w := newBatchWriter(mem, orderItemsSchema(), batchRows, len(items))
	f := w.b.Fields()
	oid, line := f[0].(*array.StringBuilder), f[1].(*array.Int32Builder)
	pid, qty := f[2].(*array.StringBuilder), f[3].(*array.Int32Builder)
	unit := f[4].(*array.Float64Builder)
	for i := range orders {
		o := &orders[i]
		for j, it := range items[o.firstItem : o.firstItem+o.nItems] {
			oid.Append(o.id)
			line.Append(int32(j + 1))
			pid.Append(prods[it.product].id)
			qty.Append(it.qty)
			unit.Append(money(it.unitCents))
			w.endRow()
		}
	}
	return w.table(tableOrderItems)
}
