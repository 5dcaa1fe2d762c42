package compaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// deleteRange deletes ids [lo, hi] with iceberg-go, as a Go writer does
// (Trino's deletes are covered by TestConcurrentDeleteIsNeverUndoneByARewrite).
func deleteRange(ident table.Identifier, lo, hi int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tbl, err := e.sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		return err
	}
	txn := tbl.NewTransaction()
	filter := iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("id"), lo), iceberg.LessThanEqual(iceberg.Reference("id"), hi))
	if err := txn.Delete(ctx, filter, nil); err != nil {
		return err
	}
	_, err = txn.Commit(ctx)
	return err
}

// counter sums a counter family of reg across its labels.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestStressWritersAndTwoWorkersNeverLoseOrResurrectARow runs an appender
// and a deleter (iceberg-go merge-on-read) against one table while two compaction
// workers, sharing the catalog's leases, maintain it with a short
// retention. Afterwards every appended row that was not deleted is there
// once, no deleted row is back, and no rewrite left a file behind.
func TestStressWritersAndTwoWorkersNeverLoseOrResurrectARow(t *testing.T) {
	requireLake(t)
	d := *stressFor
	if d == 0 {
		d = 20 * time.Second
		if os.Getenv("CI") == "true" {
			d = 60 * time.Second
		}
	}
	ident := table.Identifier{"raw", "stress"}
	tbl := land(t, ident, 4, 100, "day(ts)")
	// Writers replay lost commits (iceberg-go validates the replay), as a
	// streaming table's writers would be configured; compaction then does
	// not carry the Kafka ledger and relies on expiry's chain rule.
	txn := tbl.NewTransaction()
	if err := txn.SetProperties(map[string]string{table.CommitNumRetriesKey: "5", table.CommitMinRetryWaitMsKey: "20", table.CommitMaxRetryWaitMsKey: "500", table.WriteDeleteModeKey: table.WriteModeMergeOnRead}); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	const perAppend = 150
	next := int64(4 * 100)

	set, err := policy.Parse([]byte(`
defaults: {min-input-files: 3, target-file-size: 8MiB, snapshots: {max-age: 10s, min-kept: 5, dedupe-horizon: 10s}}
scheduler: {poll: 300ms, debounce: 1s, max-wait: 4s, interval: 5s, lease-ttl: 5s, zones: [raw]}`))
	if err != nil {
		t.Fatal(err)
	}
	var (
		outMu           sync.Mutex
		uncommitted     []string
		committedGroups int
	)
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	leaser := NewCatalogLeaser(e.lake.CatalogURL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i, reg := range regs {
		if *stressNoCompaction {
			break
		}
		s, err := New(stacktest.Logger(), reg, e.sink.Catalog(), Config{Policies: set, Leaser: leaser, Holder: fmt.Sprintf("worker-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		s.observeRewrite = func(gr table.CompactionGroupResult, committed bool) {
			outMu.Lock()
			defer outMu.Unlock()
			if committed {
				committedGroups++
				return
			}
			for _, df := range gr.NewDataFiles {
				uncommitted = append(uncommitted, df.FilePath())
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(ctx); err != nil {
				t.Errorf("serve: %v", err)
			}
		}()
	}

	var (
		mu               sync.Mutex
		deleted          [][2]int64 // inclusive id ranges
		appends, deletes atomic.Int64
		deleteFailures   atomic.Int64
		deleteTime       atomic.Int64
		writersDone      = make(chan struct{})
		deadline         = time.Now().Add(d)
		writers          sync.WaitGroup
		appendedThrough  atomic.Int64
	)
	appendedThrough.Store(next - 1)
	writers.Add(2)
	go func() { // appender
		defer writers.Done()
		for i := 0; time.Now().Before(deadline); i++ {
			rec := rows(next, perAppend)
			_, err := e.sink.AppendOnce(context.Background(), ident, testSchema, []arrow.RecordBatch{rec}, fmt.Sprintf("stress/%d", i))
			rec.Release()
			if err != nil {
				t.Errorf("append %d: %v", i, err)
				return
			}
			next += perAppend
			appendedThrough.Store(next - 1)
			appends.Add(1)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	go func() { // deleter: a random-ish slice of what has landed
		defer writers.Done()
		for i := int64(0); time.Now().Before(deadline); i++ {
			began := time.Now()
			top := appendedThrough.Load()
			lo := (i * 7919) % max(1, top-20)
			// One id a delete: iceberg-go's merge-on-read delete of rows in several
			// partitions lost some of them under concurrent appends even without
			// compaction (-stress-no-compaction), which is not what this tests.
			hi := lo
			var err error
			for time.Now().Before(deadline) {
				if err = deleteRange(ident, lo, hi); err == nil {
					break
				}
				// A delete losing to another commit (a compaction's
				// included) is retried until it lands.
				if deleteFailures.Add(1) < 3 {
					t.Logf("delete %d-%d: %v", lo, hi, err)
				}
			}
			if err != nil {
				break
			}
			mu.Lock()
			deleted = append(deleted, [2]int64{lo, hi})
			mu.Unlock()
			deletes.Add(1)
			deleteTime.Add(int64(time.Since(began)))
			time.Sleep(200 * time.Millisecond)
		}
	}()
	writers.Wait()
	close(writersDone)
	// Let the workers catch up with the last commits, then stop them.
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()

	rewritten := counter(t, regs[0], "lakehouse_compaction_files_rewritten_total") + counter(t, regs[1], "lakehouse_compaction_files_rewritten_total")
	t.Logf("%s: %d appends, %d deletes (%s each on average; %d lost to a concurrent commit and retried), %.0f files rewritten",
		d, appends.Load(), deletes.Load(), time.Duration(deleteTime.Load()/max(1, deletes.Load())).Round(time.Millisecond), deleteFailures.Load(), rewritten)
	if appends.Load() < 10 || deletes.Load() < 2 || (rewritten == 0 && !*stressNoCompaction) {
		t.Fatalf("no progress on one side: %d appends, %d deletes, %.0f files rewritten", appends.Load(), deletes.Load(), rewritten)
	}
	var conds []string
	want := map[int64]bool{}
	for id := range next {
		want[id] = true
	}
	for _, r := range deleted {
		conds = append(conds, fmt.Sprintf("id BETWEEN %d AND %d", r[0], r[1]))
		for id := r[0]; id <= r[1]; id++ {
			delete(want, id)
		}
	}
	if n := sql(t, "SELECT count(*) FROM lakehouse.raw.stress WHERE "+strings.Join(conds, " OR ")).Rows[0][0].(int64); n != 0 {
		back := sql(t, "SELECT id, \"$path\" FROM lakehouse.raw.stress WHERE "+strings.Join(conds, " OR "))
		hist := sql(t, "SELECT snapshot_id, parent_id, operation, summary FROM lakehouse.raw.\"stress$snapshots\" ORDER BY committed_at")
		for _, r := range hist.Rows {
			t.Logf("snapshot %v", r)
		}
		t.Fatalf("%d deleted rows are back: %v", n, back.Rows)
	}
	res := sql(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM lakehouse.raw.stress")
	if got := res.Rows[0]; got[0].(int64) != int64(len(want)) || got[1].(int64) != int64(len(want)) || got[3].(int64) != next-1 {
		t.Fatalf("count, distinct ids, min, max = %v; want %d rows up to id %d", got, len(want), next-1)
	}
	tbl = load(t, ident)
	fs, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	var left []string
	for _, path := range uncommitted {
		if f, err := fs.Open(path); err == nil {
			f.Close()
			left = append(left, path)
		}
	}
	t.Logf("%d rewrite groups committed, %d files of failed or conflicted rewrites", committedGroups, len(uncommitted))
	if len(left) > 0 {
		t.Fatalf("failed or conflicted rewrites left %d files: %v", len(left), left)
	}
}

func TestCatalogLeasesKeepTwoWorkersOffOneTable(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	l := NewCatalogLeaser(e.lake.CatalogURL(), nil)
	a, err := l.Acquire(ctx, "compaction/raw.leased", "worker-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "compaction/raw.leased", "worker-b", time.Minute); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second worker: %v, want ErrLeaseHeld", err)
	}
	if err := l.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	b, err := l.Acquire(ctx, "compaction/raw.leased", "worker-b", time.Minute)
	if err != nil || b.Token <= a.Token {
		t.Fatalf("after release: %+v, %v; want worker-b with a newer token", b, err)
	}
}
