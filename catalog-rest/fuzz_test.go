package catalogrest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
)

// fuzzServer serves a catalog whose warehouse is a local folder, so commits
// really apply and write metadata files without an S3 server. It holds
// namespace raw with table orders and view v.
func fuzzServer(f *testing.F) http.Handler {
	f.Helper()
	ctx := context.Background()
	dir := f.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	wh := "file://" + filepath.Join(dir, "warehouse")
	srv, err := catalogrest.New(slog.New(slog.DiscardHandler), nil, st, catalogrest.Config{Warehouse: wh})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	for _, req := range []struct{ path, body string }{
		{"/v1/namespaces", `{"namespace":["raw"]}`},
		{"/v1/namespaces/raw/tables", `{"name":"orders","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","required":true,"type":"long"},{"id":2,"name":"ts","required":false,"type":"timestamptz"}]},"partition-spec":{"spec-id":0,"fields":[{"source-id":2,"field-id":1000,"name":"ts_day","transform":"day"}]}}`},
		{"/v1/namespaces/raw/views", viewBody("v")},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", req.path, strings.NewReader(req.body)))
		if rec.Code != 200 {
			f.Fatalf("setting up %s: %d %s", req.path, rec.Code, rec.Body)
		}
	}
	return h
}

func viewBody(name string) string {
	return `{"name":"` + name + `","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"n","required":false,"type":"long"}]},` +
		`"view-version":{"version-id":1,"schema-id":0,"timestamp-ms":1700000000000,"summary":{},` +
		`"representations":[{"type":"sql","sql":"select 1 as n","dialect":"trino"}],"default-namespace":["raw"]},"properties":{}}`
}

// checkNo500 fails when a request body makes the server answer 5xx (a
// recovered panic answers 500 too) or answer without an Iceberg error body.
func checkNo500(t *testing.T, h http.Handler, method, path string, body []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(body)))
	if rec.Code >= 500 {
		t.Fatalf("%s %s with body %q: status %d: %s", method, path, body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		raw, _ := io.ReadAll(rec.Body)
		if !bytes.Contains(raw, []byte(`"error"`)) {
			t.Fatalf("%s %s: status %d without an Iceberg error body: %s", method, path, rec.Code, raw)
		}
	}
}

func FuzzCommitTable(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{
		`{"requirements":[],"updates":[]}`,
		`{"requirements":[{"type":"assert-current-schema-id","current-schema-id":0}],"updates":[{"action":"set-properties","updates":{"a":"b"}}]}`,
		`{"requirements":[],"updates":[{"action":"add-schema","schema":{"type":"struct","schema-id":1,"fields":[{"id":1,"name":"id","required":true,"type":"long"},{"id":3,"name":"x","required":false,"type":"string"}]}},{"action":"set-current-schema","schema-id":-1}]}`,
		`{"requirements":[],"updates":[{"action":"add-spec","spec":{"spec-id":1,"fields":[]}},{"action":"set-default-spec","spec-id":-1}]}`,
		`{"requirements":[],"updates":[{"action":"remove-properties","removals":["a"]},{"action":"upgrade-format-version","format-version":2}]}`,
		`{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":null}],"updates":[{"action":"set-snapshot-ref","ref-name":"main","type":"branch","snapshot-id":1}]}`,
		`{"requirements":[],"updates":[{"action":"add-snapshot","snapshot":{"snapshot-id":7,"sequence-number":1,"timestamp-ms":1,"manifest-list":"file:///x","summary":{"operation":"append"}}}]}`,
		`{"requirements":[{"type":"assert-create"}],"updates":[]}`,
		`{"updates":[{"action":"remove-snapshots","snapshot-ids":[1,2]}]}`,
		`{"updates":[{"action":"set-location","location":""}]}`,
		`{"updates":[{"action":"add-sort-order","sort-order":{"order-id":1,"fields":[{"transform":"identity","source-id":9,"direction":"asc","null-order":"nulls-first"}]}}]}`,
		`[]`, `null`, `{"updates":null}`, `{"requirements":[null]}`, `{"updates":[null]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkNo500(t, h, "POST", "/v1/namespaces/raw/tables/orders", body)
	})
}

func FuzzCreateTable(f *testing.F) {
	h := fuzzServer(f)
	for _, seed := range []string{
		`{"name":"t","schema":{"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"decimal(10,2)"}]}}`,
		`{"name":"t","schema":{"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":{"type":"list","element-id":2,"element":"int","element-required":false}}]},"stage-create":true}`,
		`{"name":"t","schema":{"type":"struct","fields":[]},"partition-spec":{"fields":[{"source-id":5,"field-id":1000,"name":"x","transform":"bucket[4]"}]}}`,
		`{"name":"t","schema":{"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"long"}]},"write-order":{"order-id":1,"fields":[{"transform":"identity","source-id":1,"direction":"desc","null-order":"nulls-last"}]},"properties":{"format-version":"7"}}`,
		`{"name":"","schema":null}`, `{}`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkNo500(t, h, "POST", "/v1/namespaces/raw/tables", body)
	})
}

func FuzzOtherRequests(f *testing.F) {
	h := fuzzServer(f)
	paths := []struct{ method, path string }{
		{"POST", "/v1/namespaces"},
		{"POST", "/v1/namespaces/raw/properties"},
		{"POST", "/v1/tables/rename"},
		{"POST", "/v1/transactions/commit"},
		{"POST", "/v1/namespaces/raw/views"},
		{"POST", "/v1/namespaces/raw/views/v"},
		{"POST", "/v1/namespaces/raw/register"},
		{"POST", "/v1/namespaces/raw/tables/orders/metrics"},
	}
	for i, seed := range []string{
		`{"namespace":["a","b"],"properties":{"k":"v"}}`,
		`{"updates":{"k":"v"},"removals":["x"]}`,
		`{"source":{"namespace":["raw"],"name":"orders"},"destination":{"namespace":["raw"],"name":"orders2"}}`,
		`{"table-changes":[{"identifier":{"namespace":["raw"],"name":"orders"},"requirements":[],"updates":[{"action":"set-properties","updates":{"t":"1"}}]}]}`,
		viewBody("v2"),
		`{"requirements":[{"type":"assert-view-uuid","uuid":"00000000-0000-0000-0000-000000000000"}],"updates":[{"action":"set-properties","updates":{"a":"b"}}]}`,
		`{"name":"r","metadata-location":"file:///nonexistent/metadata.json"}`,
		`{"report-type":"scan-report","table-name":"raw.orders","snapshot-id":1}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		p := paths[int(which)%len(paths)]
		checkNo500(t, h, p.method, p.path, body)
	})
}
