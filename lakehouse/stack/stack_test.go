package stack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// Clients that reach the gateway through a proxy are told the proxy's
// endpoint, by the catalog and in Trino's catalog properties.
func TestClientsAreToldTheS3ClientEndpoint(t *testing.T) {
	ctx := context.Background()
	const proxy = "http://s3-proxy.internal:9999"
	s3Addr, err := stacktest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	catAddr, err := stacktest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	lake, err := stack.Start(ctx, stacktest.Logger(), stack.Config{StateDir: t.TempDir(), S3Addr: s3Addr, CatalogAddr: catAddr, S3ClientEndpoint: proxy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lake.Close(); err != nil {
			t.Error(err)
		}
	})
	if got := lake.TrinoCatalog().S3Endpoint; got != proxy {
		t.Errorf("Trino's S3 endpoint is %q, want %q", got, proxy)
	}
	resp, err := http.Get(lake.CatalogURL() + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Defaults map[string]string `json:"defaults"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Defaults["s3.endpoint"]; got != proxy {
		t.Errorf("the catalog hands clients s3.endpoint %q, want %q", got, proxy)
	}
}
