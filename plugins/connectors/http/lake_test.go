package http_test

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/host"
	"github.com/lakehouse-go/lakehouse/plugins/internal/laketest"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
	"github.com/lakehouse-go/lakehouse/plugins/sdk/plugintest"
)

func TestTheExecutableConformsOverTheProtocol(t *testing.T) {
	a := &api{items: loadItems(t)[:1500]}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "streams": []any{stream("/link", "", map[string]any{"type": "link"})}})
	plugintest.Run(t, plugintest.Launch(t, plugin), plugintest.Options{Config: cfg})
}

func TestOrderItemsLandInRawWithCountsAndSumsEqualToTheAPI(t *testing.T) {
	sink := env.Sink(t)
	ctx := context.Background()
	items := loadItems(t)
	a := &api{items: items[:5000], auth: func(r *nethttp.Request) bool { return r.Header.Get("Authorization") == "Bearer lake" }}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "auth": map[string]any{"type": "bearer", "token": "lake"},
		"streams": []any{stream("/page", "data", map[string]any{"type": "page", "size": 1000})}})
	h := host.New(stacktest.Logger(), t.TempDir(), host.DefaultConfig())
	if _, err := h.Install(ctx, plugin); err != nil {
		t.Fatal(err)
	}
	run := host.RunConfig{Plugin: "http", Config: cfg, TablePrefix: "api_"}
	if _, err := h.Run(ctx, sink, run); err != nil {
		t.Fatal(err)
	}
	a.set(items) // the API grows; the next run is incremental
	rep, err := h.Run(ctx, sink, run)
	if err != nil {
		t.Fatal(err)
	}
	if rep[0].Rows != int64(len(items)-5000) {
		t.Errorf("second run landed %d rows, want the %d new ones", rep[0].Rows, len(items)-5000)
	}
	ident := table.Identifier{"raw", "api_items"}
	ids := laketest.Column(t, sink, ident, "order_id")
	nums := laketest.Column(t, sink, ident, "order_item_id")
	keys := make([]any, len(ids))
	for i := range ids {
		keys[i] = ids[i].(string) + "/" + itoa(nums[i].(int64))
	}
	if len(keys) != len(items) || laketest.Distinct(keys) != len(items) {
		t.Fatalf("lake holds %d items, %d distinct; the API %d", len(keys), laketest.Distinct(keys), len(items))
	}
	if got, want := laketest.Sum(t, laketest.Column(t, sink, ident, "price")), sumPrice(t, items); got.Cmp(want) != 0 {
		t.Fatalf("sum(price): lake %s, API %s", got.FloatString(2), want.FloatString(2))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestRejectedRecordsLandInTheQuarantineTableInTheSameCommits(t *testing.T) {
	sink := env.Sink(t)
	ctx := context.Background()
	items := append([]item{}, loadItems(t)[:2000]...)
	bad := map[string]bool{}
	for _, i := range []int{3, 1200, 1999} {
		items[i].Price = map[string]any{"amount": "12.00"} // an object where a decimal belongs
		bad[items[i].key()] = true
	}
	a := &api{items: items}
	cfg := configJSON(t, map[string]any{"base_url": serve(t, a), "streams": []any{stream("/offset", "", map[string]any{"type": "offset", "size": 500})}})
	h := host.New(stacktest.Logger(), t.TempDir(), host.DefaultConfig())
	if _, err := h.Install(ctx, plugin); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(ctx, sink, host.RunConfig{Plugin: "http", Config: cfg, TablePrefix: "rejects_", Mode: sdk.FullRefresh}); err != nil {
		t.Fatal(err)
	}
	ident := table.Identifier{"raw", "rejects_items"}
	if n := laketest.Count(t, sink, ident, "order_id"); n != 1997 {
		t.Errorf("data table holds %d rows, want 1997", n)
	}
	reasons := laketest.Column(t, sink, ingest.QuarantineTable(ident), "reason")
	payloads := laketest.Column(t, sink, ingest.QuarantineTable(ident), "raw_payload")
	if len(reasons) != 3 {
		t.Fatalf("quarantine holds %d rows, want 3", len(reasons))
	}
	for i, r := range reasons {
		var rec item
		if err := json.Unmarshal([]byte(payloads[i].(string)), &rec); err != nil || !bad[rec.key()] {
			t.Errorf("quarantined payload %v (%v) is not one of the bad records", payloads[i], err)
		}
		if !strings.Contains(r.(string), "field price: got a JSON map[string]interface {}") {
			t.Errorf("reason %q does not say what is wrong with price", r)
		}
	}
}
