package bench

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"an empty sample has no percentile", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"the median of an odd sample is its middle value", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"the p99 of 1..100 is 99 by nearest rank", ms(hundred...), 99, 99 * time.Millisecond},
		{"the p50 of 1..100 is 50 by nearest rank", ms(hundred...), 50, 50 * time.Millisecond},
		{"the p100 is the maximum", ms(1, 2, 9), 100, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMeasureCountsSuccessesAndErrorsSeparately(t *testing.T) {
	fail := errors.New("boom")
	res := measure(t.Context(), 4, 50*time.Millisecond, func(_ context.Context, w, seq int) error {
		time.Sleep(time.Millisecond)
		if w == 0 {
			return fail
		}
		return nil
	})
	if res.OK == 0 || res.Errors == 0 {
		t.Fatalf("OK %d, errors %d; want both above zero", res.OK, res.Errors)
	}
	if res.FirstError != "boom" {
		t.Errorf("first error %q, want boom", res.FirstError)
	}
	if res.P50 < time.Millisecond || res.P99 < res.P50 {
		t.Errorf("p50 %v, p99 %v; want p99 ≥ p50 ≥ 1ms", res.P50, res.P99)
	}
	if res.Elapsed < 50*time.Millisecond {
		t.Errorf("elapsed %v, want at least the 50ms asked for", res.Elapsed)
	}
}

// TestWorkloadRunsAgainstOurCatalog sets the tables up on our catalog (in
// process, SQLite, file:// warehouse) and runs every operation briefly: the
// requests the benchmark sends are ones a catalog accepts.
func TestWorkloadRunsAgainstOurCatalog(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	srv, err := catalogrest.New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, st,
		catalogrest.Config{Warehouse: "file://" + filepath.ToSlash(filepath.Join(dir, "warehouse"))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	c := &catalogClient{base: hs.URL, http: newHTTPClient(4, false)}
	wl, err := setup(ctx, c, 4, 3)
	if err != nil {
		t.Fatalf("setting up: %v", err)
	}
	fp, err := wl.fingerprint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fp.Columns != 20 || fp.Snapshots != 3 || fp.PartitionFields != 2 {
		t.Errorf("table has %d columns, %d snapshots, %d partition fields; want 20, 3, 2", fp.Columns, fp.Snapshots, fp.PartitionFields)
	}
	for _, op := range []string{OpLoadTable, OpCommit, OpCommitShared} {
		f, err := wl.op(op)
		if err != nil {
			t.Fatal(err)
		}
		res := measure(ctx, 4, 100*time.Millisecond, f)
		if res.Errors > 0 || res.OK == 0 {
			t.Errorf("%s: %d ok, %d errors (first: %s)", op, res.OK, res.Errors, res.FirstError)
		}
	}
	if _, err := wl.op("drop-table"); !errors.Is(err, ErrUnknownOp) {
		t.Errorf("an unknown operation gave %v, want ErrUnknownOp", err)
	}
}

func TestReportRatiosAndGoals(t *testing.T) {
	rep := &Report{
		Config:  Config{Clients: []int{1, 64}, Ops: []string{OpLoadTable}},
		Targets: []TargetInfo{{Key: TargetSQLite, Name: "ours (SQLite)"}, {Key: TargetReference, Name: "reference"}},
		Results: []Result{
			{Target: TargetSQLite, Op: OpLoadTable, Clients: 1, OK: 4000, Elapsed: time.Second, P50: 200 * time.Microsecond, P99: time.Millisecond},
			{Target: TargetReference, Op: OpLoadTable, Clients: 1, OK: 1000, Elapsed: time.Second, P50: time.Millisecond, P99: 2 * time.Millisecond},
			{Target: TargetSQLite, Op: OpLoadTable, Clients: 64, OK: 5000, Elapsed: time.Second, P50: 5 * time.Millisecond, P99: 12 * time.Millisecond},
			{Target: TargetReference, Op: OpLoadTable, Clients: 64, OK: 2000, Elapsed: time.Second, P50: 20 * time.Millisecond, P99: 60 * time.Millisecond},
		},
	}
	ratios := rep.Ratios()
	if len(ratios) != 2 || ratios[0].Throughput != 4 || ratios[1].Throughput != 2.5 {
		t.Fatalf("ratios %+v; want throughput 4× at 1 client and 2.5× at 64", ratios)
	}
	goals := rep.Goals()
	if len(goals) != 2 {
		t.Fatalf("goals %+v; want two", goals)
	}
	if goals[0].Met || !strings.Contains(goals[0].Detail, "2.50× at 64 clients") {
		t.Errorf("throughput goal %+v; want not met, lowest 2.50× at 64 clients", goals[0])
	}
	if goals[1].Met || !strings.Contains(goals[1].Detail, "12.0") {
		t.Errorf("p99 goal %+v; want not met with p99 12.0 ms", goals[1])
	}
	var b strings.Builder
	if err := rep.Text(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Markdown(), "| load-table | 64 | ours (SQLite) | 5000 | 5.00 | 12.0 | 0 | – | – | – |") {
		t.Errorf("markdown lacks the 64-client row:\n%s", rep.Markdown())
	}
}
