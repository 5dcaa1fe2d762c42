package catalogrest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
)

// countingListener counts the writes its connections make.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestALargeLoadResponseLeavesInOneWriteAndTheConnectionStaysUsable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}); err != nil {
		t.Fatal(err)
	}
	// 40 KiB of properties: ten times net/http's write buffer.
	big := strings.Replace(minimalMetadata, `"properties":{}`, `"properties":{"comment":"`+strings.Repeat("x", 40<<10)+`"}`, 1)
	if err := st.CreateEntry(ctx, store.Entry{Kind: store.KindTable, Namespace: []string{"raw"}, Name: "orders",
		MetadataLocation: "s3://b/raw/orders/metadata/00000-x.metadata.json", Metadata: []byte(big)}); err != nil {
		t.Fatal(err)
	}
	srv, err := catalogrest.New(slog.New(slog.DiscardHandler), nil, st, catalogrest.Config{Warehouse: "s3://b"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, countingListener{Listener: ln, writes: &writes}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	url := "http://" + ln.Addr().String() + "/v1/namespaces/raw/tables/orders"
	for i := range 3 {
		before := writes.Load()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("load %d: HTTP %d, %v", i, resp.StatusCode, err)
		}
		var got struct {
			Metadata struct {
				Properties map[string]string `json:"properties"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &got); err != nil || len(got.Metadata.Properties["comment"]) != 40<<10 {
			t.Fatalf("load %d: body of %d bytes does not hold the table's metadata: %v", i, len(body), err)
		}
		if n := writes.Load() - before; n != 1 {
			t.Fatalf("load %d: the response of %d bytes took %d writes, want 1", i, len(body), n)
		}
	}
}
