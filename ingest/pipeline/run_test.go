package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/pipeline"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// running is pipeline.Run in a goroutine the test owns.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startRun(t *testing.T, reg prometheus.Registerer, sink *ingest.Sink, pls []pipeline.Pipeline) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- pipeline.Run(ctx, stacktest.Logger(), reg, sink, pls) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it; safe to call twice.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not stop within 30s of its context ending")
	}
	r.done = nil
}

func parse(t *testing.T, doc string) []pipeline.Pipeline {
	t.Helper()
	pls, err := pipeline.Parse([]byte(doc), env.Dir, filepath.Join(env.Dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	return pls
}

// incoming makes a folder under env.Dir for a files pipeline to watch.
func incoming(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(env.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// drop writes a file the way writers should: under a hidden name, then
// renamed into place.
func drop(t *testing.T, dir, name, content string) string {
	t.Helper()
	hidden := filepath.Join(dir, "."+name+".part")
	if err := os.WriteFile(hidden, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(hidden, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func statusOf(t *testing.T, sink *ingest.Sink, pls []pipeline.Pipeline, name string) pipeline.StatusReport {
	t.Helper()
	sts, err := pipeline.Status(context.Background(), sink, pls)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no status for %s", name)
	return pipeline.StatusReport{}
}

func TestAFilesPipelineLandsEachNewFileOnce(t *testing.T) {
	sink := env.Sink(t)
	in := incoming(t, "incoming-orders")
	pls := parse(t, fmt.Sprintf(`
- name: orders
  table: raw.pl_orders
  source:
    files: {paths: [%q], poll_interval: 200ms, settle: 50ms}
  schema:
    - {name: order_id, type: string}
    - {name: amount, type: double}
    - {name: placed_at, type: timestamptz}
    - {name: due, type: date}
    - {name: n, type: int}
  partition: [day(_ingested_at)]
  rules: {required: [order_id]}
`, filepath.Join(in, "*.csv")))
	ident := table.Identifier{"raw", "pl_orders"}
	reg := prometheus.NewRegistry()
	run := startRun(t, reg, sink, pls)

	first := drop(t, in, "a.csv", "order_id,amount\no1,10.5\n,3\no2,7\n")
	eventually(t, 20*time.Second, func() (bool, string) {
		st := statusOf(t, sink, pls, "orders")
		return st.Files != nil && st.Files.Landed == 1, fmt.Sprintf("status %+v files %+v", st, st.Files)
	})
	if got := tableRows(t, sink, ident); got != 2 {
		t.Errorf("after a.csv the table holds %d rows, want 2", got)
	}
	if got := tableRows(t, sink, ingest.QuarantineTable(ident)); got != 1 {
		t.Errorf("after a.csv the quarantine holds %d rows, want 1 (the row without order_id)", got)
	}

	second := drop(t, in, "b.csv", "order_id,amount\no3,1\no4,2\no5,3\n")
	eventually(t, 20*time.Second, func() (bool, string) {
		st := statusOf(t, sink, pls, "orders")
		return st.Files.Landed == 2, fmt.Sprintf("files %+v", st.Files)
	})
	time.Sleep(time.Second) // five more scans: nothing may land twice
	run.stop(t)

	if n := commitsOf(t, sink, ident, first); n != 1 {
		t.Errorf("a.csv is in %d commits, want 1", n)
	}
	if n := commitsOf(t, sink, ident, second); n != 1 {
		t.Errorf("b.csv is in %d commits, want 1", n)
	}
	if got := tableRows(t, sink, ident); got != 5 {
		t.Errorf("the table holds %d rows, want 5", got)
	}
	st := statusOf(t, sink, pls, "orders")
	if st.Files.Seen != 2 || st.Files.Landed != 2 || len(st.Files.Pending) != 0 {
		t.Errorf("files status %+v, want 2 seen, 2 landed", st.Files)
	}
	if st.LastRows != 3 || st.TotalRows != 5 || st.Quarantined != 1 || st.LastCommit.IsZero() || st.Err != nil {
		t.Errorf("status %+v, want the last commit to add b.csv's 3 rows of 5", st)
	}
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	if spec := tbl.Metadata().PartitionSpec(); spec.NumFields() != 1 || spec.Field(0).Transform.String() != "day" {
		t.Errorf("partition spec %v, want day(_ingested_at)", spec)
	}
	if got := counterValue(t, reg, "lakehouse_pipeline_files_total", "outcome", "landed"); got != 2 {
		t.Errorf("files_total{outcome=landed} = %v, want 2", got)
	}
}

// counterValue reads the counter of the registry with name and a label
// of that value.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// windowServer answers each window with two records, counting requests.
type windowServer struct {
	mu       sync.Mutex
	requests map[string]int
}

func (s *windowServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	s.mu.Lock()
	s.requests[from]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode([]map[string]any{
		{"window": from, "until": to, "price": 1.5},
		{"window": from, "until": to, "price": 2.5},
	})
}

func (s *windowServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// pricesPipeline serves windows of prices (a windowServer) and parses a
// pipeline, name, that polls it hourly into raw.pl_<name> from hours ago
// on the hour; it returns the pipelines, the server and that start.
func pricesPipeline(t *testing.T, name string, hours int) ([]pipeline.Pipeline, *windowServer, time.Time) {
	t.Helper()
	srv := &windowServer{requests: map[string]int{}}
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(hours) * time.Hour)
	pls := parse(t, fmt.Sprintf(`
- name: %[1]s
  table: raw.pl_%[1]s
  source:
    poll:
      every: 1h
      start: %[2]s
      http: {url: "%[3]s/prices?from={start}&to={end}"}
`, name, start.Format(time.RFC3339), api.URL))
	return pls, srv, start
}

func TestAPollPipelineLandsItsClosedWindows(t *testing.T) {
	sink := env.Sink(t)
	pls, srv, start := pricesPipeline(t, "prices", 3)
	run := startRun(t, nil, sink, pls)
	eventually(t, 20*time.Second, func() (bool, string) {
		st := statusOf(t, sink, pls, "prices")
		if st.Windows == nil {
			return false, fmt.Sprintf("status %+v", st)
		}
		return len(st.Windows.Landed) == 3 && len(st.Windows.Missing) == 0, fmt.Sprintf("landed %d, missing %d", len(st.Windows.Landed), len(st.Windows.Missing))
	})
	run.stop(t)
	if got := tableRows(t, sink, table.Identifier{"raw", "pl_prices"}); got != 6 {
		t.Errorf("the table holds %d rows, want 6 (two per window)", got)
	}
	st := statusOf(t, sink, pls, "prices")
	if !st.Windows.Landed[0].Start.Equal(start) || st.LastRows != 2 {
		t.Errorf("status: first window %v, last rows %d; want %v and 2", st.Windows.Landed[0].Window, st.LastRows, start)
	}

	// A backfill of the landed range fetches nothing.
	before := srv.total()
	reps, err := pipeline.Backfill(context.Background(), stacktest.Logger(), sink, pls, "prices", start, start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 || srv.total() != before {
		t.Errorf("backfill: %d windows, %d requests; want 3 windows, no request", len(reps), srv.total()-before)
	}
	for _, r := range reps {
		if r.Skipped != r.Received || r.Received != 2 {
			t.Errorf("window %v: %+v, want its 2 records skipped", r.Window, r.Report)
		}
	}
}

func TestAnHTTPPipelineLandsPostedEvents(t *testing.T) {
	sink := env.Sink(t)
	addr, err := stacktest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	pls := parse(t, fmt.Sprintf(`
- name: clicks
  table: raw.pl_clicks
  source: {http: {addr: %q}}
  flush: {interval: 200ms}
  rules: {required: [user_id]}
`, addr))
	run := startRun(t, prometheus.NewRegistry(), sink, pls)
	body := `{"user_id": "u1", "event_type": "view"}` + "\n" + `{"event_type": "view"}` + "\n"
	eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Post("http://"+addr+"/v1/events", "application/x-ndjson", bytes.NewBufferString(body))
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted, resp.Status
	})
	ident := table.Identifier{"raw", "pl_clicks"}
	eventually(t, 20*time.Second, func() (bool, string) {
		rows, rejects := tableRows(t, sink, ident), tableRows(t, sink, ingest.QuarantineTable(ident))
		return rows == 1 && rejects == 1, fmt.Sprintf("%d rows, %d rejects", rows, rejects)
	})
	run.stop(t)
}

func TestBackfillNeedsAPolledPipeline(t *testing.T) {
	pls := parse(t, "- {name: orders, table: raw.orders, source: {files: {paths: [in]}}}\n")
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, pipeline string
		want           error
	}{
		{"a files pipeline cannot be backfilled", "orders", pipeline.ErrNotPolled},
		{"an unknown pipeline is named as such", "prices", pipeline.ErrUnknownPipeline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.Backfill(context.Background(), stacktest.Logger(), nil, pls, tc.pipeline, day, day.Add(time.Hour))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.pipeline) {
				t.Errorf("Backfill: %v, want %v naming %s", err, tc.want, tc.pipeline)
			}
		})
	}
}

func TestAFailedPipelineIsRestartedWhileTheOthersRunOn(t *testing.T) {
	sink := env.Sink(t)
	// The collector's address is taken: it fails until it is freed.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()
	in := incoming(t, "incoming-restart")
	pls := parse(t, fmt.Sprintf(`
- name: events
  table: raw.pl_restart_events
  source: {http: {addr: %q}}
  flush: {interval: 200ms}
- name: lines
  table: raw.pl_restart_lines
  source: {files: {paths: [%q], poll_interval: 200ms, settle: 50ms}}
`, addr, in))
	reg := prometheus.NewRegistry()
	run := startRun(t, reg, sink, pls)
	drop(t, in, "one.ndjson", `{"n": 1}`+"\n")
	eventually(t, 20*time.Second, func() (bool, string) {
		rows := tableRows(t, sink, table.Identifier{"raw", "pl_restart_lines"})
		return rows == 1, fmt.Sprintf("the files pipeline landed %d rows", rows)
	})
	eventually(t, 20*time.Second, func() (bool, string) {
		n := counterValue(t, reg, "lakehouse_pipeline_restarts_total", "pipeline", "events")
		return n >= 1, fmt.Sprintf("%v restarts of the collector", n)
	})
	if err := taken.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Post("http://"+addr+"/v1/events", "application/json", strings.NewReader(`{"n": 2}`))
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted, resp.Status
	})
	run.stop(t)
	if rows := tableRows(t, sink, table.Identifier{"raw", "pl_restart_events"}); rows != 1 {
		t.Errorf("the restarted collector landed %d rows, want 1", rows)
	}
}

func TestAKafkaPipelineLandsItsTopic(t *testing.T) {
	sink := env.Sink(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var recs []*kgo.Record
	for i := range 3 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"id": %d, "status": "paid"}`, i)})
	}
	if err := producer.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pls := parse(t, fmt.Sprintf(`
- name: orders-stream
  table: raw.pl_orders_stream
  source: {kafka: {brokers: [%q], topics: [orders]}}
  schema: [{name: id, type: long}, {name: status, type: string}]
  flush: {interval: 200ms}
`, cluster.ListenAddrs()[0]))
	run := startRun(t, prometheus.NewRegistry(), sink, pls)
	eventually(t, 30*time.Second, func() (bool, string) {
		rows := tableRows(t, sink, table.Identifier{"raw", "pl_orders_stream"})
		return rows == 3, fmt.Sprintf("%d rows", rows)
	})
	run.stop(t)
}
