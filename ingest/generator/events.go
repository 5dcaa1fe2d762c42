package generator

import (
	"cmp"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Event kinds; the numbering indexes eventTypes.
const (
	evView uint8 = iota
	evAddToCart
	evRemoveFromCart
	evCheckout
	evPurchase
	evSearch
)

func eventTypes() []string {
	return []string{"view", "add_to_cart", "remove_from_cart", "checkout", "purchase", "search"}
}

type event struct {
	ts         int64 // Unix microseconds
	seq        int   // generation order; breaks timestamp ties deterministically
	session    uint64
	user       int32 // index into customers; -1 is an anonymous visitor
	product    int32 // index into products; -1 is none
	priceCents int64 // -1 is null
	page       string
	ua         string
	kind       uint8
}

const (
	anonymousShare = 0.45 // of browsing sessions
	minClickGap    = 5 * microsPerSecond
	maxClickGap    = 3 * 60 * microsPerSecond
)

// eventGen lays out the clickstream. Each order gets, on average,
// EventsPerOrder events: about two thirds in the session that placed it
// (search, product views, add-to-cart, checkout, purchase — trimmed from the
// front when the budget is small) and the rest in an unrelated browsing
// session, anonymous or by any customer, that buys nothing.
type eventGen struct {
	r        *rand.Rand
	v        *vocab
	w        window
	prods    []product
	custPerm []int
	prodPerm []int

	productPages  []string   // by product
	categoryPages []string   // by category
	searchPages   [][]string // by category: one per product noun
	events        []event
}

func genEvents(r *rand.Rand, v *vocab, spec Spec, w window,
	custs []customer, prods []product, orders []order, items []item,
) []event {
	g := &eventGen{
		r: r, v: v, w: w, prods: prods,
		custPerm: r.Perm(len(custs)), prodPerm: r.Perm(len(prods)),
		events: make([]event, 0, spec.Orders*spec.EventsPerOrder+spec.Orders),
	}
	g.productPages = make([]string, len(prods))
	for i := range prods {
		g.productPages[i] = "/product/" + prods[i].id
	}
	for _, c := range v.categories {
		g.categoryPages = append(g.categoryPages, "/c/"+c.name)
		var qs []string
		for _, n := range c.nouns {
			qs = append(qs, "/search?q="+url.QueryEscape(strings.ToLower(n)))
		}
		g.searchPages = append(g.searchPages, qs)
	}

	epo := spec.EventsPerOrder
	for i := range orders {
		o := &orders[i]
		// Symmetric jitter keeps the mean at epo and every order at >= 1 event.
		n := epo + r.IntN(2*(epo/2)+1) - epo/2
		browse := n / 3
		g.purchaseSession(o, items[o.firstItem:o.firstItem+o.nItems], n-browse)
		if browse > 0 {
			g.browseSession(browse)
		}
	}

	slices.SortFunc(g.events, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
	})
	return g.events
}

func (g *eventGen) emit(e event) {
	e.seq = len(g.events)
	g.events = append(g.events, e)
}

func (g *eventGen) searchPage(cat int) string {
	qs := g.searchPages[cat]
	return qs[g.r.IntN(len(qs))]
}

func (g *eventGen) popularProduct() int32 {
	return int32(g.prodPerm[skewed(g.r, len(g.prodPerm), 4)])
}

// purchaseSession emits budget (>= 1) events ending with the purchase at the
// order's timestamp. The purchase, checkout, add-to-carts and product views
// of the ordered items are kept first; a search and extra browsing only when
// the budget allows.
func (g *eventGen) purchaseSession(o *order, its []item, budget int) {
	base := event{session: g.r.Uint64(), user: o.customer, ua: g.v.userAgents.pick(g.r)}
	first := len(g.events)

	budget-- // the purchase
	checkout := budget > 0
	if checkout {
		budget--
	}
	adds := min(len(its), budget)
	budget -= adds
	views := min(len(its), budget)
	budget -= views
	search := budget > 0
	if search {
		budget--
	}
	extras := budget

	if search {
		g.emit(with(base, evSearch, -1, -1, g.searchPage(g.prods[its[0].product].cat)))
	}
	for extras > 0 {
		p := g.popularProduct()
		g.emit(with(base, evView, p, g.prods[p].priceCents, g.productPages[p]))
		extras--
		if extras >= 2 && g.r.Float64() < 0.3 { // changed their mind
			g.emit(with(base, evAddToCart, p, g.prods[p].priceCents, g.productPages[p]))
			g.emit(with(base, evRemoveFromCart, p, g.prods[p].priceCents, "/cart"))
			extras -= 2
		}
	}
	for j, it := range its {
		if j < views {
			g.emit(with(base, evView, it.product, it.unitCents, g.productPages[it.product]))
		}
		if j < adds {
			g.emit(with(base, evAddToCart, it.product, it.unitCents, g.productPages[it.product]))
		}
	}
	if checkout {
		g.emit(with(base, evCheckout, -1, -1, "/checkout"))
	}
	g.emit(with(base, evPurchase, -1, o.totalCents, "/checkout/confirmation"))

	// Walk back from the purchase so the session ends at order_ts.
	t := o.ts
	for i := len(g.events) - 1; i >= first; i-- {
		g.events[i].ts = t
		t -= minClickGap + g.r.Int64N(maxClickGap-minClickGap)
	}
}

// browseSession emits n (>= 1) events of a visit that buys nothing.
func (g *eventGen) browseSession(n int) {
	base := event{session: g.r.Uint64(), user: -1, ua: g.v.userAgents.pick(g.r)}
	if g.r.Float64() >= anonymousShare {
		base.user = int32(g.custPerm[skewed(g.r, len(g.custPerm), 4)])
	}
	// Start early enough that the whole session fits in the window.
	span := max(1, g.w.end-g.w.start-int64(n)*maxClickGap)
	t := g.w.start + g.r.Int64N(span)

	var cart []int32
	last := int32(-1) // last product viewed
	for i := range n {
		x := g.r.Float64()
		var e event
		switch {
		case i == 0 && x < 0.2:
			e = with(base, evView, -1, -1, "/")
		case i == 0 && x < 0.5:
			e = with(base, evView, -1, -1, g.categoryPages[g.v.categoryPick.pick(g.r)])
		case i == 0 && x < 0.8, i > 0 && x >= 0.6 && x < 0.75:
			e = with(base, evSearch, -1, -1, g.searchPage(g.v.categoryPick.pick(g.r)))
		case i > 0 && x >= 0.75 && x < 0.9 && last >= 0:
			cart = append(cart, last)
			e = with(base, evAddToCart, last, g.prods[last].priceCents, g.productPages[last])
		case i > 0 && x >= 0.9 && len(cart) > 0:
			j := g.r.IntN(len(cart))
			p := cart[j]
			cart = slices.Delete(cart, j, j+1)
			e = with(base, evRemoveFromCart, p, g.prods[p].priceCents, "/cart")
		default:
			last = g.popularProduct()
			e = with(base, evView, last, g.prods[last].priceCents, g.productPages[last])
		}
		e.ts = t
		g.emit(e)
		t += minClickGap + g.r.Int64N(maxClickGap-minClickGap)
	}
}

func with(base event, kind uint8, product int32, priceCents int64, page string) event {
	base.kind, base.product, base.priceCents, base.page = kind, product, priceCents, page
	return base
}

func buildEvents(mem memory.Allocator, batchRows int, custs []customer, prods []product, events []event) *Table {
	kinds := eventTypes()
	// event_id, -, event_type, user_id, session_id, product_id, page, user_agent
	w := newBatchWriter(mem, eventsSchema(), batchRows, len(events), 12, 0, 8, 8, 16, 7, 18, 125)
	f := w.b.Fields()
	id, ts := f[0].(*array.StringBuilder), f[1].(*array.TimestampBuilder)
	kind, user := f[2].(*array.StringBuilder), f[3].(*array.StringBuilder)
	session, product := f[4].(*array.StringBuilder), f[5].(*array.StringBuilder)
	page, ua := f[6].(*array.StringBuilder), f[7].(*array.StringBuilder)
	price := f[8].(*array.Float64Builder)

	var sid [16]byte
	const hex = "0123456789abcdef"
	for i := range events {
		e := &events[i]
		id.Append(formatID("e-", i+1, 10))
		ts.Append(arrow.Timestamp(e.ts))
		kind.Append(kinds[e.kind])
		if e.user < 0 {
			user.AppendNull()
		} else {
			user.Append(custs[e.user].id)
		}
		for j := range sid {
			sid[j] = hex[(e.session>>(60-4*j))&0xf]
		}
		session.BinaryBuilder.Append(sid[:])
		if e.product < 0 {
			product.AppendNull()
		} else {
			product.Append(prods[e.product].id)
		}
		page.Append(e.page)
		ua.Append(e.ua)
		if e.priceCents < 0 {
			price.AppendNull()
		} else {
			price.Append(money(e.priceCents))
		}
		w.endRow()
	}
	return w.table(tableEvents)
}
