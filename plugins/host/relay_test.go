package host

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// captured keeps the records a slog logger handles.
type captured struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *captured) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captured) WithGroup(string) slog.Handler      { return c }

func (c *captured) find(msg string) (slog.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recs {
		if r.Message == msg {
			return r, true
		}
	}
	return slog.Record{}, false
}

func TestAPluginsStderrLogReachesTheHostsLogger(t *testing.T) {
	var logs captured
	h := New(slog.New(&logs), t.TempDir(), DefaultConfig())
	if _, err := h.Install(context.Background(), bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	p, err := h.Launch(context.Background(), "minimal")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, ok := logs.find("serving connector")
		if ok {
			attrs := map[string]string{}
			rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if rec.Level != slog.LevelInfo || attrs["version"] != "1.0.0" || attrs["module"] == "" {
				t.Fatalf("relayed record %q level %s attrs %v, want INFO with version 1.0.0 and the module", rec.Message, rec.Level, attrs)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin's start-up log line never reached the host's logger")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type rowCounter struct{ rows, batches int64 }

func (c *rowCounter) Records(_ string, rec arrow.RecordBatch) error {
	c.rows += rec.NumRows()
	c.batches++
	return nil
}
func (c *rowCounter) Reject(string, sdk.Reject) error          { return nil }
func (c *rowCounter) Checkpoint(string, json.RawMessage) error { return nil }
func (c *rowCounter) Log(slog.Level, string, ...slog.Attr)     {}

func TestABatchAboveGRPCsDefaultMessageLimitCrossesTheBoundary(t *testing.T) {
	h := newHost(t)
	if _, err := h.Install(context.Background(), bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	p, err := h.Launch(context.Background(), "minimal")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// 500,000 rows of two int64 columns: 8 MB in one message, twice gRPC's
	// default 4 MiB.
	var c rowCounter
	err = p.Connector().Read(context.Background(), json.RawMessage(`{"rows":500000,"batch":500000}`),
		[]sdk.StreamRead{{Name: "numbers", Mode: sdk.FullRefresh}}, &c)
	if err != nil || c.rows != 500000 || c.batches != 1 {
		t.Fatalf("read %d rows in %d batches, err %v; want 500000 in one batch", c.rows, c.batches, err)
	}
}
