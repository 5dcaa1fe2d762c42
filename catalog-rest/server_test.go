package catalogrest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakehouse-go/lakehouse/catalog-rest/catalogtest"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
)

// newServer serves the catalog over real HTTP on a SQLite store. Metadata
// writes need object storage, so these tests stop at requests that fail or
// succeed before any file is written; the integration tests cover the rest.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, hs := catalogtest.Serve(t, "")
	if err := st.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEntry(ctx, store.Entry{Kind: store.KindTable, Namespace: []string{"raw"}, Name: "orders", MetadataLocation: "s3://b/raw/orders/metadata/00000-x.metadata.json", Metadata: []byte(minimalMetadata)}); err != nil {
		t.Fatal(err)
	}
	return hs
}

const minimalMetadata = `{"format-version":2,"table-uuid":"9c12d441-03fe-4693-9a96-a0705ddf69c1","location":"s3://b/raw/orders",
"last-sequence-number":0,"last-updated-ms":1700000000000,"last-column-id":1,"current-schema-id":0,
"schemas":[{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","required":true,"type":"long"}]}],
"default-spec-id":0,"partition-specs":[{"spec-id":0,"fields":[]}],"last-partition-id":999,
"default-sort-order-id":0,"sort-orders":[{"order-id":0,"fields":[]}],"properties":{},"current-snapshot-id":-1,
"refs":{},"snapshots":[],"snapshot-log":[],"metadata-log":[]}`

type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

func TestMalformedRequestsGetIcebergErrors(t *testing.T) {
	hs := newServer(t)
	cases := []struct {
		name, method, path, body string
		status                   int
		typ                      string
	}{
		{"a namespace body that is not JSON is a bad request", "POST", "/v1/namespaces", "{not json", 400, "BadRequestException"},
		{"a namespace given as a string instead of a list is a bad request", "POST", "/v1/namespaces", `{"namespace":"raw"}`, 400, "BadRequestException"},
		{"an empty namespace is a bad request", "POST", "/v1/namespaces", `{"namespace":[]}`, 400, "BadRequestException"},
		{"an existing namespace is a conflict", "POST", "/v1/namespaces", `{"namespace":["raw"]}`, 409, "AlreadyExistsException"},
		{"a missing namespace is not found", "GET", "/v1/namespaces/nope", "", 404, "NoSuchNamespaceException"},
		{"a missing table is not found", "GET", "/v1/namespaces/raw/tables/nope", "", 404, "NoSuchTableException"},
		{"a create without a schema is a bad request", "POST", "/v1/namespaces/raw/tables", `{"name":"t"}`, 400, "BadRequestException"},
		{"a create with a garbage schema is a bad request", "POST", "/v1/namespaces/raw/tables", `{"name":"t","schema":{"type":"struct","fields":[{"id":"x"}]}}`, 400, "BadRequestException"},
		{"a create of an existing table is a conflict", "POST", "/v1/namespaces/raw/tables", `{"name":"orders","schema":{"type":"struct","fields":[]}}`, 409, "AlreadyExistsException"},
		{"an unknown update action is a bad request", "POST", "/v1/namespaces/raw/tables/orders", `{"requirements":[],"updates":[{"action":"make-it-fast"}]}`, 400, "BadRequestException"},
		{"an unknown requirement type is a bad request", "POST", "/v1/namespaces/raw/tables/orders", `{"requirements":[{"type":"assert-magic"}],"updates":[]}`, 400, "BadRequestException"},
		{"a failed requirement is a commit conflict", "POST", "/v1/namespaces/raw/tables/orders", `{"requirements":[{"type":"assert-current-schema-id","current-schema-id":7}],"updates":[]}`, 409, "CommitFailedException"},
		{"a commit to a missing table is not found", "POST", "/v1/namespaces/raw/tables/nope", `{"requirements":[],"updates":[]}`, 404, "NoSuchTableException"},
		{"a commit body of the wrong shape is a bad request", "POST", "/v1/namespaces/raw/tables/orders", `{"updates":{"a":1}}`, 400, "BadRequestException"},
		{"a rename without a destination is a bad request", "POST", "/v1/tables/rename", `{"source":{"namespace":["raw"],"name":"orders"}}`, 400, "BadRequestException"},
		{"dropping a namespace that holds tables is a conflict", "DELETE", "/v1/namespaces/raw", "", 409, "NamespaceNotEmptyException"},
		{"a property update that sets and removes one key is unprocessable", "POST", "/v1/namespaces/raw/properties", `{"updates":{"a":"1"},"removals":["a"]}`, 422, "UnprocessableEntityException"},
		{"an unknown route is not found", "GET", "/v1/nothing/here", "", 404, "NotFoundException"},
		{"a known route with the wrong method is not allowed", "PUT", "/v1/namespaces", "", 405, "MethodNotAllowedException"},
		{"a bad page size is a bad request", "GET", "/v1/namespaces?pageSize=-3", "", 400, "BadRequestException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, c.status, raw)
			}
			var body errorBody
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body is not an Iceberg error: %v: %s", err, raw)
			}
			if body.Error.Type != c.typ || body.Error.Code != c.status || body.Error.Message == "" {
				t.Fatalf("error body %+v, want type %s code %d and a message", body.Error, c.typ, c.status)
			}
		})
	}
}

func TestConfigAdvertisesEndpointsAndClientProperties(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := catalogrest.New(slog.New(slog.DiscardHandler), nil, st, catalogrest.Config{
		Warehouse: "s3://b", ClientProperties: map[string]string{"s3.endpoint": "http://127.0.0.1:9000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Defaults  map[string]string `json:"defaults"`
		Endpoints []string          `json:"endpoints"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Defaults["s3.endpoint"] != "http://127.0.0.1:9000" {
		t.Fatalf("defaults = %v", cfg.Defaults)
	}
	want := "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}"
	found := false
	for _, e := range cfg.Endpoints {
		found = found || e == want
	}
	if !found {
		t.Fatalf("endpoints %v lack %q", cfg.Endpoints, want)
	}
}

func TestNamespaceGetsALocationAndPagesList(t *testing.T) {
	hs := newServer(t)
	for _, ns := range []string{"a", "b", "c"} {
		resp, err := http.Post(hs.URL+"/v1/namespaces", "application/json", strings.NewReader(`{"namespace":["`+ns+`"]}`))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Properties map[string]string `json:"properties"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("create %s: %d %v", ns, resp.StatusCode, err)
		}
		if body.Properties["location"] != "s3://b/"+ns {
			t.Fatalf("namespace %s location = %q", ns, body.Properties["location"])
		}
	}
	var names []string
	token := ""
	for page := 0; page < 10; page++ {
		resp, err := http.Get(hs.URL + "/v1/namespaces?pageSize=3&pageToken=" + token)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Namespaces [][]string `json:"namespaces"`
			Next       *string    `json:"next-page-token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range body.Namespaces {
			names = append(names, n[0])
		}
		if body.Next == nil {
			break
		}
		token = *body.Next
	}
	if strings.Join(names, ",") != "a,b,c,raw" {
		t.Fatalf("paged namespaces = %v", names)
	}
}

func TestDefaultLocationsAreSafePathSegments(t *testing.T) {
	hs := newServer(t)
	for _, c := range []struct{ ns, want string }{
		{"plain_name-1.x", "s3://b/plain_name-1.x"},
		{"a#b", "s3://b/a_b-"},
		{"a?b", "s3://b/a_b-"},
		{"..", "s3://b/..-"},
	} {
		resp, err := http.Post(hs.URL+"/v1/namespaces", "application/json", strings.NewReader(`{"namespace":["`+c.ns+`"]}`))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Properties map[string]string `json:"properties"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if loc := body.Properties["location"]; !strings.HasPrefix(loc, c.want) || (c.want != "s3://b/"+c.ns && len(loc) != len(c.want)+8) {
			t.Errorf("namespace %q got location %q, want %q…", c.ns, loc, c.want)
		}
	}
}
