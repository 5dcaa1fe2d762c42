package http_test

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/plugins/internal/olistpg"
)

// item is one Olist order item as the test API serves it.
type item struct {
	OrderID   string `json:"order_id"`
	ItemID    int64  `json:"order_item_id"`
	ProductID string `json:"product_id"`
	Price     any    `json:"price"` // a json.Number; a test may put a string in

	Freight   json.Number `json:"freight_value"`
	UpdatedAt string      `json:"updated_at"`
	Seller    any         `json:"seller"` // a nested object, landed as JSON
}

func (i item) key() string { return i.OrderID + "/" + strconv.FormatInt(i.ItemID, 10) }

// loadItems reads the Olist sample's order items, in updated-at order.
func loadItems(t testing.TB) []item {
	t.Helper()
	datasets, err := olistpg.Datasets()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	f, err := os.Open(filepath.Join(datasets, "olist", "sample", "olist_order_items_dataset.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	var out []item
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id, err := strconv.ParseInt(rec[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05", rec[4])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, item{OrderID: rec[0], ItemID: id, ProductID: rec[2], Price: json.Number(rec[5]), Freight: json.Number(rec[6]),
			UpdatedAt: ts.Format(time.RFC3339), Seller: map[string]any{"id": rec[3]}})
	}
	slices.SortFunc(out, func(a, b item) int {
		if c := strings.Compare(a.UpdatedAt, b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.key(), b.key())
	})
	return out
}

// sumPrice is the exact sum of the items' prices.
func sumPrice(t testing.TB, items []item) *big.Rat {
	t.Helper()
	s := new(big.Rat)
	for _, it := range items {
		r, ok := new(big.Rat).SetString(fmt.Sprint(it.Price))
		if !ok {
			t.Fatalf("price %q", it.Price)
		}
		s.Add(s, r)
	}
	return s
}

// api is the test's REST API over a set of items: /page, /offset, /cursor
// and /link paginate the same list four ways; updated_since filters it.
type api struct {
	mu        sync.Mutex
	items     []item
	auth      func(*nethttp.Request) bool
	throttle  []string // Retry-After values of the next 429 answers ("" sends none)
	requests  int
	throttled int
}

func (a *api) set(items []item) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.items = items
}

func (a *api) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	if a.auth != nil && !a.auth(r) {
		nethttp.Error(w, `{"error":"unauthorized"}`, nethttp.StatusUnauthorized)
		return
	}
	if len(a.throttle) > 0 {
		if a.throttle[0] != "" {
			w.Header().Set("Retry-After", a.throttle[0])
		}
		a.throttle = a.throttle[1:]
		a.throttled++
		nethttp.Error(w, "slow down", nethttp.StatusTooManyRequests)
		return
	}
	q := r.URL.Query()
	items := a.items
	if since := q.Get("updated_since"); since != "" {
		i, _ := slices.BinarySearchFunc(items, since, func(it item, s string) int { return strings.Compare(it.UpdatedAt, s) })
		items = items[i:]
	}
	limit := atoi(q.Get("limit"), 100)
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	switch r.URL.Path {
	case "/page":
		from := (atoi(q.Get("page"), 1) - 1) * limit
		_ = enc.Encode(map[string]any{"data": window(items, from, limit)})
	case "/offset":
		_ = enc.Encode(window(items, atoi(q.Get("offset"), 0), limit))
	case "/cursor":
		from := 0
		if c := q.Get("cursor"); c != "" {
			b, _ := base64.RawURLEncoding.DecodeString(c)
			from = atoi(string(b), 0)
		}
		var next any
		if from+limit < len(items) {
			next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(from + limit)))
		}
		_ = enc.Encode(map[string]any{"items": window(items, from, limit), "meta": map[string]any{"next": next}})
	case "/link":
		p := atoi(q.Get("p"), 1)
		if p*limit < len(items) {
			nq := r.URL.Query()
			nq.Set("p", strconv.Itoa(p+1))
			nq.Del("key") // the API key travels by config, not by link
			w.Header().Set("Link", fmt.Sprintf(`</link?%s>; rel="next", </link?p=1>; rel="first"`, nq.Encode()))
		}
		_ = enc.Encode(window(items, (p-1)*limit, limit))
	default:
		nethttp.NotFound(w, r)
	}
}

func window(items []item, from, n int) []item {
	if from >= len(items) {
		return []item{}
	}
	return items[from:min(from+n, len(items))]
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

func serve(t *testing.T, a *api) string {
	t.Helper()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv.URL
}
