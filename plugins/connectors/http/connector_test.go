package http_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	httpconn "github.com/lakehouse-go/lakehouse/plugins/connectors/http"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
	"github.com/lakehouse-go/lakehouse/plugins/sdk/plugintest"
)

// stream is the items stream's config for a path and pagination.
func stream(path, recordsPath string, pagination map[string]any) map[string]any {
	return map[string]any{
		"name": "items", "path": path, "records_path": recordsPath,
		"primary_key": []string{"order_id", "order_item_id"},
		"fields": []map[string]any{
			{"name": "order_id", "type": "string"},
			{"name": "order_item_id", "type": "int64"},
			{"name": "product_id", "type": "string"},
			{"name": "price", "type": "decimal(10,2)"},
			{"name": "freight_value", "type": "float64"},
			{"name": "updated_at", "type": "timestamp"},
			{"name": "seller", "type": "json"},
			{"name": "seller_id", "path": "seller.id", "type": "string"},
		},
		"pagination":  pagination,
		"incremental": map[string]any{"field": "updated_at", "param": "updated_since"},
	}
}

func configJSON(t testing.TB, cfg map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rows collects what Read sends.
type rows struct {
	keys        []string
	prices      *big.Rat
	checkpoints []json.RawMessage
	rejects     []sdk.Reject
	sellers     map[string]bool
}

func (r *rows) Records(_ string, rec arrow.RecordBatch) error {
	if r.prices == nil {
		r.prices, r.sellers = new(big.Rat), map[string]bool{}
	}
	ids := rec.Column(0).(*array.String)
	nums := rec.Column(1).(*array.Int64)
	prices := rec.Column(3).(*array.Decimal128)
	sellers := rec.Column(6).(*array.String)
	sellerIDs := rec.Column(7).(*array.String)
	for i := range ids.Len() {
		r.keys = append(r.keys, ids.Value(i)+"/"+big.NewInt(nums.Value(i)).String())
		p, _ := new(big.Rat).SetString(prices.Value(i).ToString(2))
		r.prices.Add(r.prices, p)
		if !strings.Contains(sellers.Value(i), sellerIDs.Value(i)) {
			return nil
		}
		r.sellers[sellerIDs.Value(i)] = true
	}
	return nil
}
func (r *rows) Reject(_ string, rej sdk.Reject) error {
	r.rejects = append(r.rejects, rej)
	return nil
}
func (r *rows) Checkpoint(_ string, s json.RawMessage) error {
	r.checkpoints = append(r.checkpoints, s)
	return nil
}
func (r *rows) Log(slog.Level, string, ...slog.Attr) {}

func read(t *testing.T, cfg json.RawMessage, mode sdk.SyncMode, state json.RawMessage) *rows {
	t.Helper()
	var r rows
	err := httpconn.Connector{}.Read(context.Background(), cfg, []sdk.StreamRead{{Name: "items", Mode: mode, State: state}}, &r)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

func distinct(keys []string) int {
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	return len(seen)
}

func TestEveryPaginationAndAuthReadsEveryRecordOnce(t *testing.T) {
	items := loadItems(t)
	for _, tc := range []struct {
		name       string
		auth       map[string]any
		check      func(*nethttp.Request) bool
		path, recs string
		pagination map[string]any
	}{
		{"page numbers with a bearer token", map[string]any{"type": "bearer", "token": "s3cret"},
			func(r *nethttp.Request) bool { return r.Header.Get("Authorization") == "Bearer s3cret" },
			"/page", "data", map[string]any{"type": "page", "size": 500}},
		{"offsets with basic auth", map[string]any{"type": "basic", "username": "ana", "password": "pw"},
			func(r *nethttp.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "ana" && p == "pw" },
			"/offset", "", map[string]any{"type": "offset", "size": 700}},
		{"cursor tokens with an API key header", map[string]any{"type": "api_key", "key": "k1", "header": "X-Key"},
			func(r *nethttp.Request) bool { return r.Header.Get("X-Key") == "k1" },
			"/cursor", "items", map[string]any{"type": "cursor", "size": 600, "cursor_path": "meta.next"}},
		{"Link headers with an API key in the query", map[string]any{"type": "api_key", "key": "k2", "query_param": "key"},
			func(r *nethttp.Request) bool { return r.URL.Query().Get("key") == "k2" },
			"/link", "", map[string]any{"type": "link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &api{items: items, auth: tc.check}
			cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "auth": tc.auth, "streams": []any{stream(tc.path, tc.recs, tc.pagination)}})
			if err := (httpconn.Connector{}).Check(context.Background(), cfg); err != nil {
				t.Fatalf("Check: %v", err)
			}
			got := read(t, cfg, sdk.FullRefresh, nil)
			if len(got.keys) != len(items) || distinct(got.keys) != len(items) || got.prices.Cmp(sumPrice(t, items)) != 0 {
				t.Fatalf("read %d records (%d distinct), price sum %s; want %d, sum %s",
					len(got.keys), distinct(got.keys), got.prices.FloatString(2), len(items), sumPrice(t, items).FloatString(2))
			}
			if len(got.sellers) == 0 {
				t.Fatal("no seller id matched its seller JSON")
			}
		})
	}
}

func TestWrongCredentialsFailCheckWithTheServersAnswer(t *testing.T) {
	a := &api{items: loadItems(t)[:10], auth: func(r *nethttp.Request) bool { return r.Header.Get("Authorization") == "Bearer right" }}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "auth": map[string]any{"type": "bearer", "token": "wrong"},
		"streams": []any{stream("/page", "data", map[string]any{"type": "page"})}})
	err := httpconn.Connector{}.Check(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("Check = %v, want the 401", err)
	}
}

func TestRateLimitedResponsesAreRetriedAfterRetryAfter(t *testing.T) {
	items := loadItems(t)[:1000]
	a := &api{items: items, throttle: []string{"1", ""}}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "retry_backoff_ms": 20, "requests_per_second": 50,
		"streams": []any{stream("/page", "data", map[string]any{"type": "page", "size": 100})}})
	start := time.Now()
	got := read(t, cfg, sdk.FullRefresh, nil)
	if len(got.keys) != len(items) || distinct(got.keys) != len(items) {
		t.Fatalf("read %d records, %d distinct; want %d", len(got.keys), distinct(got.keys), len(items))
	}
	if a.throttled != 2 || time.Since(start) < time.Second {
		t.Fatalf("throttled %d requests, took %s: want 2 retried, the first after its 1s Retry-After", a.throttled, time.Since(start))
	}
}

func TestPersistentServerErrorsEndTheReadAsRetryable(t *testing.T) {
	a := &api{items: loadItems(t)[:10], throttle: []string{"0", "0", "0", "0"}}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "max_retries": 2, "retry_backoff_ms": 1,
		"streams": []any{stream("/page", "data", map[string]any{"type": "page"})}})
	var r rows
	err := httpconn.Connector{}.Read(context.Background(), cfg, []sdk.StreamRead{{Name: "items", Mode: sdk.FullRefresh}}, &r)
	if err == nil || !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "giving up after 2 retries") {
		t.Fatalf("Read = %v, want a retryable error after 2 retries", err)
	}
}

func TestAnIncrementalReadTakesOnlyRecordsPastItsCheckpoint(t *testing.T) {
	items := loadItems(t)
	// The first read sees the items up to a cut, but one at the cut's own
	// timestamp arrives late: the second read must take it and not the
	// others of that timestamp.
	cut := len(items) / 2
	for items[cut].UpdatedAt != items[cut-1].UpdatedAt {
		cut++
	}
	late := items[cut]
	first := append(append([]item{}, items[:cut]...), items[cut+1:cut+1]...)
	a := &api{items: first}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "streams": []any{stream("/page", "data", map[string]any{"type": "page", "size": 250})}})
	r1 := read(t, cfg, sdk.Incremental, nil)
	if len(r1.keys) != len(first) {
		t.Fatalf("first read: %d records, want %d", len(r1.keys), len(first))
	}
	var rest []item
	rest = append(rest, items[:cut]...)
	rest = append(rest, late)
	rest = append(rest, items[cut+1:]...)
	a.set(sortedCopy(rest))
	r2 := read(t, cfg, sdk.Incremental, r1.checkpoints[len(r1.checkpoints)-1])
	all := append(append([]string{}, r1.keys...), r2.keys...)
	if len(all) != len(items) || distinct(all) != len(items) {
		t.Fatalf("two reads gave %d + %d records, %d distinct; want %d once each", len(r1.keys), len(r2.keys), distinct(all), len(items))
	}
	if !contains(r2.keys, late.key()) {
		t.Fatalf("the late record %s at the cut's timestamp was not read", late.key())
	}
}

func sortedCopy(items []item) []item {
	out := append([]item{}, items...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].UpdatedAt < out[j-1].UpdatedAt || (out[j].UpdatedAt == out[j-1].UpdatedAt && out[j].key() < out[j-1].key())); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestTheConnectorConformsInProcess(t *testing.T) {
	a := &api{items: loadItems(t)[:2000]}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "streams": []any{stream("/cursor", "items", map[string]any{"type": "cursor", "size": 300, "cursor_path": "meta.next"})}})
	plugintest.Run(t, httpconn.Connector{}, plugintest.Options{Config: cfg})
}

func TestTheRequestRateStaysUnderTheConfiguredLimit(t *testing.T) {
	a := &api{items: loadItems(t)[:1000]}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "requests_per_second": 20,
		"streams": []any{stream("/offset", "", map[string]any{"type": "offset", "size": 100})}})
	start := time.Now()
	got := read(t, cfg, sdk.FullRefresh, nil)
	took := time.Since(start)
	// 11 requests (10 full pages and an empty one) at 20/s: 10 waits of 50ms.
	if len(got.keys) != 1000 || a.requests != 11 || took < 450*time.Millisecond {
		t.Fatalf("%d records in %d requests took %s; want 1000 in 11, no faster than 20 requests/s", len(got.keys), a.requests, took)
	}
}

func TestRecordsThatDoNotConvertAreRejectedWithTheirReason(t *testing.T) {
	items := append([]item{}, loadItems(t)[:500]...)
	for _, i := range []int{7, 250, 499} {
		items[i].Price = "n/a"
	}
	a := &api{items: items}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "streams": []any{stream("/page", "data", map[string]any{"type": "page", "size": 100})}})
	got := read(t, cfg, sdk.FullRefresh, nil)
	if len(got.keys) != 497 || len(got.rejects) != 3 {
		t.Fatalf("read %d records and %d rejects, want 497 and 3", len(got.keys), len(got.rejects))
	}
	r := got.rejects[1]
	if !strings.Contains(r.Reason, `field price: "n/a" is not a decimal`) || !strings.Contains(string(r.Raw), items[250].OrderID) ||
		r.Position != "page 3, record 50" {
		t.Fatalf("reject at %q: %s, %s; want the price's reason, the raw record and page 3, record 50", r.Position, r.Reason, r.Raw)
	}
}
