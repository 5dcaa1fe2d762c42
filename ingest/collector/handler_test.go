package collector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// fakeLake stands in for the catalog in the HTTP tests; the crash test
// uses the real one.
type fakeLake struct {
	mu       sync.Mutex
	sc       *arrow.Schema
	schemaOK bool
	landErr  error
	gate     chan struct{} // when set, land waits for it to close
	landed   map[string]ingest.Report
	rows     int64
	rejects  []ingest.Reject
}

func newFakeLake() *fakeLake { return &fakeLake{schemaOK: true, landed: map[string]ingest.Report{}} }

func (f *fakeLake) tableSchema(_ context.Context, _ table.Identifier, create *arrow.Schema) (*arrow.Schema, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.schemaOK {
		return nil, errors.New("catalog unreachable")
	}
	if create != nil && f.sc == nil {
		f.sc = create
	}
	return f.sc, nil
}

func (f *fakeLake) land(ctx context.Context, open ingest.Opener, t ingest.Target) (ingest.Report, error) {
	f.mu.Lock()
	gate, err := f.gate, f.landErr
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ingest.Report{}, ctx.Err()
		}
	}
	if err != nil {
		return ingest.Report{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rep, ok := f.landed[t.BatchID]; ok {
		rep.Skipped = rep.Received
		return rep, nil
	}
	src, err := open(ctx, f.sc)
	if err != nil {
		return ingest.Report{}, err
	}
	defer func() { _ = src.Close() }()
	var rep ingest.Report
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ingest.Report{}, err
		}
		rep.Received += b.Received()
		rep.Quarantined += int64(len(b.Rejects))
		f.rejects = append(f.rejects, b.Rejects...)
		if b.Records != nil {
			rep.Accepted += b.Records.NumRows()
			f.rows += b.Records.NumRows()
			b.Records.Release()
		}
	}
	f.landed[t.BatchID] = rep
	return rep, nil
}

func (f *fakeLake) set(fn func(f *fakeLake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// serving runs a collector over l until the test ends, and waits until it
// answers (with ready, until it is ready); stop shuts it down, draining the
// spool, earlier.
func serving(t *testing.T, l lake, cfg Config, ready bool) (url string, stop func() error) {
	t.Helper()
	cfg.Table = table.Identifier{"raw", "clicks"}
	cfg.SpoolDir = t.TempDir()
	c, err := newCollector(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	var once sync.Once
	var serr error
	stop = func() error {
		once.Do(func() { cancel(); serr = <-done })
		return serr
	}
	t.Cleanup(func() { _ = stop() })
	url = "http://" + ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if !ready || resp.StatusCode == http.StatusOK {
				return url, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("collector not ready after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type answer struct {
	status     int
	retryAfter string
	body       map[string]any
}

func post(t *testing.T, url, contentType, body string) answer {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("answer is %s, want JSON", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("decoding answer: %v", err)
	}
	return a
}

const okEvent = `{"event_id":"1","type":"view","ts":"2026-05-01T10:00:00Z"}`

func TestRequestsGetClearAnswers(t *testing.T) {
	url, _ := serving(t, newFakeLake(), Config{Schema: clickSchema(), Required: clickRequired, MaxBodyBytes: 1024}, true)
	for _, tc := range []struct {
		name, method, path, contentType, body string
		status                                int
		counts                                [3]float64 // received, accepted, quarantined
		errorPart                             string
	}{
		{"an object is acknowledged", "POST", "/v1/events", "application/json", okEvent, 202, [3]float64{1, 1, 0}, ""},
		{"the table may be named in the path", "POST", "/v1/events/raw/clicks", "application/json", okEvent, 202, [3]float64{1, 1, 0}, ""},
		{"an array splits into accepted and quarantined", "POST", "/v1/events", "application/json",
			`[` + okEvent + `,{"event_id":"2"},` + okEvent + `]`, 202, [3]float64{3, 2, 1}, ""},
		{"NDJSON with a bad line quarantines that line", "POST", "/v1/events", "application/x-ndjson",
			okEvent + "\n{oops\n", 202, [3]float64{2, 1, 1}, ""},
		{"an empty array is acknowledged with nothing", "POST", "/v1/events", "application/json", `[]`, 202, [3]float64{0, 0, 0}, ""},
		{"another table is not found", "POST", "/v1/events/raw/orders", "application/json", okEvent, 404, [3]float64{}, "serves raw.clicks"},
		{"GET is not allowed", "GET", "/v1/events", "", "", 405, [3]float64{}, "POST"},
		{"text is an unsupported media type", "POST", "/v1/events", "text/plain", okEvent, 415, [3]float64{}, "application/x-ndjson"},
		{"a missing content type is unsupported", "POST", "/v1/events", "", okEvent, 415, [3]float64{}, "application/json"},
		{"an empty body is a bad request", "POST", "/v1/events", "application/json", "  ", 400, [3]float64{}, "empty body"},
		{"a body over the limit is too large", "POST", "/v1/events", "application/json", "[" + strings.Repeat(okEvent+",", 30) + okEvent + "]", 413, [3]float64{}, "over 1024 bytes"},
		{"an unknown path is not found", "POST", "/v2/things", "application/json", okEvent, 404, [3]float64{}, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("answer is no JSON: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tc.status)
			}
			if id, _ := body["request_id"].(string); id == "" && strings.HasPrefix(tc.path, "/v1/events") {
				t.Errorf("answer %v has no request id", body)
			}
			if tc.status != 202 {
				if msg, _ := body["error"].(string); !strings.Contains(msg, tc.errorPart) {
					t.Errorf("error %q does not mention %q", msg, tc.errorPart)
				}
				return
			}
			got := [3]float64{body["received"].(float64), body["accepted"].(float64), body["quarantined"].(float64)}
			if got != tc.counts {
				t.Errorf("received, accepted, quarantined = %v, want %v", got, tc.counts)
			}
		})
	}
}

func TestAcknowledgedEventsReachTheTableAtShutdown(t *testing.T) {
	l := newFakeLake()
	url, stop := serving(t, l, Config{Schema: clickSchema(), Required: clickRequired, FlushInterval: time.Hour}, true)
	a := post(t, url+"/v1/events", "application/x-ndjson", okEvent+"\n"+okEvent+"\n{\"event_id\":\"x\"}\n")
	if a.status != 202 {
		t.Fatalf("status %d: %v", a.status, a.body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if l.rows != 2 || len(l.rejects) != 1 || len(l.landed) != 1 {
		t.Fatalf("landed %d rows, %d rejects in %d batches; want 2, 1 in 1", l.rows, len(l.rejects), len(l.landed))
	}
	rid := a.body["request_id"].(string)
	if pos := l.rejects[0].Position; !strings.Contains(pos, "request "+rid+" index 2") || !strings.HasPrefix(pos, "seg-") {
		t.Errorf("reject position %q does not name the segment, request %s and index 2", pos, rid)
	}
	for id := range l.landed {
		if !strings.HasPrefix(id, "collector/seg-") || !strings.Contains(id, "/0-") {
			t.Errorf("batch id %q does not name a segment and byte range", id)
		}
	}
}

func TestBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		lake   func(*fakeLake)
		status int
		part   string
	}{
		{"a full spool answers 429", Config{MaxSpoolBytes: 600, MaxBodyBytes: 500, FlushInterval: time.Millisecond},
			func(f *fakeLake) { f.gate = make(chan struct{}) }, 429, "spool full"},
		{"a lagging flush answers 429", Config{MaxLag: 50 * time.Millisecond, FlushInterval: time.Millisecond},
			func(f *fakeLake) { f.gate = make(chan struct{}) }, 429, "flush lags"},
		{"a full spool while the table cannot be written answers 503", Config{MaxSpoolBytes: 600, MaxBodyBytes: 500, FlushInterval: time.Millisecond},
			func(f *fakeLake) { f.landErr = errors.New("catalog down") }, 503, "catalog down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newFakeLake()
			l.set(tc.lake)
			tc.cfg.Schema, tc.cfg.Required = clickSchema(), clickRequired
			url, _ := serving(t, l, tc.cfg, true)
			var a answer
			deadline := time.Now().Add(5 * time.Second)
			for a = post(t, url+"/v1/events", "application/json", okEvent); a.status == 202; a = post(t, url+"/v1/events", "application/json", okEvent) {
				if time.Now().After(deadline) {
					t.Fatal("never refused")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if a.status != tc.status || a.retryAfter == "" {
				t.Fatalf("status %d with Retry-After %q (%v), want %d with Retry-After", a.status, a.retryAfter, a.body, tc.status)
			}
			if msg, _ := a.body["error"].(string); !strings.Contains(msg, tc.part) {
				t.Fatalf("error %q does not mention %q", msg, tc.part)
			}
			l.set(func(f *fakeLake) {
				if f.gate != nil {
					close(f.gate)
				}
				f.landErr = nil
			})
			for a.status != 202 { // once the flusher catches up, requests are taken again
				if time.Now().After(deadline.Add(5 * time.Second)) {
					t.Fatalf("still refused after the flusher recovered: %d %v", a.status, a.body)
				}
				time.Sleep(50 * time.Millisecond)
				a = post(t, url+"/v1/events", "application/json", okEvent)
			}
		})
	}
}

func TestUnreachableCatalogAnswers503UntilTheSchemaIsKnown(t *testing.T) {
	l := newFakeLake()
	l.schemaOK = false
	url, _ := serving(t, l, Config{Schema: clickSchema()}, false)
	a := post(t, url+"/v1/events", "application/json", okEvent)
	if a.status != 503 || a.retryAfter == "" {
		t.Fatalf("status %d, Retry-After %q: %v", a.status, a.retryAfter, a.body)
	}
	l.set(func(f *fakeLake) { f.schemaOK = true })
	deadline := time.Now().Add(5 * time.Second)
	for a.status != 202 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d after the catalog came back: %v", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
		a = post(t, url+"/v1/events", "application/json", okEvent)
	}
}

func TestTheFirstEventsDecideAnUndeclaredSchema(t *testing.T) {
	l := newFakeLake()
	url, stop := serving(t, l, Config{FlushInterval: time.Hour}, true)
	a := post(t, url+"/v1/events", "application/json", `[{"sku":"A1","n":2},{"sku":"A2"}]`)
	if a.status != 202 || a.body["accepted"] != 2.0 {
		t.Fatalf("first request: status %d: %v", a.status, a.body)
	}
	a = post(t, url+"/v1/events", "application/json", `[{"sku":"B1","n":"many"},{"sku":"B2","n":3}]`)
	if a.status != 202 || a.body["accepted"] != 1.0 || a.body["quarantined"] != 1.0 {
		t.Fatalf("second request: status %d: %v", a.status, a.body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if l.sc == nil || l.sc.NumFields() != 2 || l.rows != 3 {
		t.Fatalf("table schema %v with %d rows, want sku and n with 3 rows", l.sc, l.rows)
	}
}

func TestTooManyRequestsInFlightAnswers429(t *testing.T) {
	url, _ := serving(t, newFakeLake(), Config{Schema: clickSchema(), MaxInFlight: 1}, true)
	pr, pw := io.Pipe()
	defer func() { _ = pw.Close() }()
	slow, err := http.NewRequest(http.MethodPost, url+"/v1/events", pr)
	if err != nil {
		t.Fatal(err)
	}
	slow.Header.Set("Content-Type", "application/json")
	slowDone := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(slow)
		if err != nil {
			slowDone <- 0
			return
		}
		_ = resp.Body.Close()
		slowDone <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte("[")); err != nil { // the handler now holds the one slot
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	a := post(t, url+"/v1/events", "application/json", okEvent)
	for a.status == 202 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		a = post(t, url+"/v1/events", "application/json", okEvent)
	}
	if a.status != 429 || a.retryAfter == "" {
		t.Fatalf("status %d with Retry-After %q: %v", a.status, a.retryAfter, a.body)
	}
	if _, err := pw.Write([]byte(okEvent + "]")); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if code := <-slowDone; code != 202 {
		t.Fatalf("the slow request got %d, want 202", code)
	}
}
