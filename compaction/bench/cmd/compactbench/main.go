// Command compactbench measures compaction on one embedded stack and a
// managed Trino: a clickstream table of 2,000 small files (≥ 5 M rows) is
// written twice; ours compacts one copy (compaction.Service.Run), Trino's
// ALTER TABLE … EXECUTE optimize the other; three typical queries run on
// Trino before and after on both. The figures go into BENCHMARKS.md
// between the compactbench markers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/generator"
	"github.com/lakehouse-go/lakehouse/lakehouse/benchmd"
	"github.com/lakehouse-go/lakehouse/lakehouse/gcpolicy"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/trino"
)

type config struct {
	out, cpuprofile string
	files, rows     int
	runs, warmup    int
	heapMB          int
	hold            bool
	s3Latency       time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "Markdown file whose compactbench section is replaced (\"\": print only)")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of our compaction here (the first scenario's; the next ones' beside it, named -2, -3, …)")
	flag.IntVar(&c.files, "files", 2000, "small data files in each copy")
	flag.IntVar(&c.rows, "rows", 5_000_000, "rows at least (generator events)")
	flag.IntVar(&c.runs, "runs", 5, "timed rounds of each query before and after; the median counts")
	flag.IntVar(&c.warmup, "warmup", 3, "untimed rounds of every query on every copy before and after, to warm Trino up")
	flag.IntVar(&c.heapMB, "trino-heap-mb", 4096, "Trino's JVM heap")
	flag.DurationVar(&c.s3Latency, "s3-latency", 0, "delay every S3 request by this much once the copies are written (a remote object store's first-byte latency); the figures go into their own section")
	flag.BoolVar(&c.hold, "hold", false, "keep the stack and Trino running after the run, for inspection, until interrupted")
	flag.Parse()
	gcpolicy.Apply() // the lakehouse binary's GC policy, under which `up` and `compact serve` compact
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(context.Background(), logger, c); err != nil {
		fmt.Fprintln(os.Stderr, "compactbench:", err)
		os.Exit(1)
	}
}

// copyRun is one contender's measurements.
type copyRun struct {
	name             string
	ident            table.Identifier
	filesBefore      int
	filesAfter       int
	compaction       time.Duration
	rewriteOnly      time.Duration   // ours: the rewrite without expiry, orphans and health
	before, after    []time.Duration // per query, median
	fpBefore, fpAfer string
	snapshotBefore   int64 // the copy's snapshot before compaction; "before" queries read it
}

var queries = []struct{ name, sql string }{
	{"aggregate", "SELECT count(*), count(DISTINCT user_id), sum(price) FROM %s"},
	{"filtered aggregate", "SELECT count(*), sum(price) FROM %s WHERE event_type = 'purchase' AND event_ts >= TIMESTAMP '2026-02-01 00:00:00 UTC' AND event_ts < TIMESTAMP '2026-03-01 00:00:00 UTC'"},
	{"group-by top-N", "SELECT product_id, count(*) AS n FROM %s WHERE product_id IS NOT NULL GROUP BY product_id ORDER BY n DESC, product_id LIMIT 10"},
}

func run(ctx context.Context, logger *slog.Logger, c config) error {
	// The embedded S3 changes the working directory: resolve paths first.
	for _, p := range []*string{&c.out, &c.cpuprofile} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	dir, err := os.MkdirTemp("", "compactbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lake, proxy, err := startStack(ctx, filepath.Join(dir, "state"), c.s3Latency > 0)
	if err != nil {
		return fmt.Errorf("starting stack: %w", err)
	}
	defer func() {
		if err := errors.Join(lake.Close(), proxy.Close()); err != nil {
			fmt.Fprintln(os.Stderr, "compactbench: stopping stack:", err)
		}
	}()
	sink, err := ingest.Open(ctx, logger, lake.CatalogURL())
	if err != nil {
		return err
	}
	scens := scenarios()
	var idents []table.Identifier
	for _, sc := range scens {
		for _, r := range sc.runs {
			idents = append(idents, r.ident)
		}
	}
	began := time.Now()
	rows, err := writeCopies(ctx, sink, c, idents...)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %d × %d files, %d rows each, in %s\n", len(idents), c.files, rows, time.Since(began).Round(time.Second))
	proxy.setDelay(c.s3Latency)
	tr, err := stacktest.StartTrino(ctx, lake, dir, c.heapMB)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tr.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "compactbench: stopping Trino:", err)
		}
	}()
	q := func(stmt string) (*trino.Result, error) { return trino.Query(ctx, tr.URL(), "compactbench", stmt) }
	svc, err := compaction.New(logger, nil, sink.Catalog(), compaction.Config{})
	if err != nil {
		return err
	}
	for i, sc := range scens {
		cc := c
		if i > 0 && c.cpuprofile != "" { // one profile per scenario: x.pprof, x-2.pprof, …
			ext := filepath.Ext(c.cpuprofile)
			cc.cpuprofile = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(c.cpuprofile, ext), i+1, ext)
		}
		if err := sc.measure(ctx, sink, svc, q, cc); err != nil {
			return fmt.Errorf("%s: %w", sc.title, err)
		}
	}
	md := markdown(c, rows, scens)
	fmt.Print(md)
	if c.out != "" {
		section, heading := "compactbench", "Compaction"
		if c.s3Latency > 0 {
			section, heading = "compactbench-s3latency", "Compaction with S3-like request latency"
		}
		if err := benchmd.WriteSection(c.out, section, heading, md); err != nil {
			return err
		}
	}
	if c.hold {
		hctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		fmt.Fprintf(os.Stderr, "holding until interrupted: Trino %s, catalog %s\n", tr.URL(), lake.CatalogURL())
		<-hctx.Done()
	}
	return nil
}

// startStack starts the embedded stack; withProxy sends every S3 client
// (the catalog, our compaction, Trino) through a latencyProxy, whose
// delay is 0 until set.
func startStack(ctx context.Context, dir string, withProxy bool) (*stack.Stack, *latencyProxy, error) {
	if !withProxy {
		lake, err := stacktest.Start(ctx, dir)
		return lake, nil, err
	}
	s3Addr, err := stacktest.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	catAddr, err := stacktest.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	proxy, err := startLatencyProxy("http://" + s3Addr)
	if err != nil {
		return nil, nil, err
	}
	lake, err := stack.Start(ctx, stacktest.Logger(), stack.Config{StateDir: dir, S3Addr: s3Addr, CatalogAddr: catAddr, S3ClientEndpoint: proxy.URL()})
	if err != nil {
		return nil, nil, errors.Join(err, proxy.Close())
	}
	return lake, proxy, nil
}

// scenario is one table layout, compacted by us and by Trino on two copies.
type scenario struct {
	title    string
	sortedBy []string // the sort order both copies declare (Trino's sorted_by)
	runs     []*copyRun
}

func scenarios() []*scenario {
	pair := func(suffix, ours string) []*copyRun {
		return []*copyRun{{name: "ours (compaction.Service.Run, " + ours + ")", ident: table.Identifier{"raw", "bench_ours" + suffix}},
			{name: "Trino ALTER TABLE … EXECUTE optimize", ident: table.Identifier{"raw", "bench_trino" + suffix}}}
	}
	return []*scenario{
		{title: "Unsorted table: bin-pack", runs: pair("", "bin-pack")},
		{title: "Table declaring sorted_by = ARRAY['event_type', 'event_ts']: both write sorted files",
			sortedBy: []string{"event_type", "event_ts"}, runs: pair("_sorted", "sort by the table's order")},
	}
}

// measure declares the scenario's sort order, times the queries on both
// copies, compacts one with ours and one with Trino's optimize, checks
// that both still hold the same rows, and times the queries again.
func (sc *scenario) measure(ctx context.Context, sink *ingest.Sink, svc *compaction.Service, q func(string) (*trino.Result, error), c config) error {
	runs := sc.runs
	if len(sc.sortedBy) > 0 {
		for _, r := range runs {
			if _, err := q(fmt.Sprintf("ALTER TABLE %s SET PROPERTIES sorted_by = ARRAY['%s']", fqn(r.ident), strings.Join(sc.sortedBy, "', '"))); err != nil {
				return fmt.Errorf("declaring the sort order: %w", err)
			}
		}
	}
	var err error
	for _, r := range runs {
		if r.filesBefore, err = countFiles(ctx, sink, r.ident); err != nil {
			return err
		}
		if r.fpBefore, err = fingerprint(q, r.ident); err != nil {
			return err
		}
		tbl, err := sink.Catalog().LoadTable(ctx, r.ident)
		if err != nil {
			return err
		}
		r.snapshotBefore = tbl.CurrentSnapshot().SnapshotID
	}
	if err := compactOurs(ctx, svc, runs[0], c.cpuprofile); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := q(fmt.Sprintf("ALTER TABLE %s EXECUTE optimize", fqn(runs[1].ident))); err != nil {
		return fmt.Errorf("trino optimize: %w", err)
	}
	runs[1].compaction = time.Since(t0)
	for _, r := range runs {
		if r.filesAfter, err = countFiles(ctx, sink, r.ident); err != nil {
			return err
		}
		if r.fpAfer, err = fingerprint(q, r.ident); err != nil {
			return err
		}
		if r.fpAfer != r.fpBefore {
			return fmt.Errorf("%s: compaction changed the table: %s before, %s after", r.name, r.fpBefore, r.fpAfer)
		}
	}
	return timeQueries(q, runs, c)
}

func compactOurs(ctx context.Context, svc *compaction.Service, r *copyRun, cpuprofile string) error {
	if cpuprofile != "" {
		if err := os.MkdirAll(filepath.Dir(cpuprofile), 0o755); err != nil {
			return err
		}
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	rep, err := svc.Run(ctx, r.ident)
	r.compaction = time.Since(t0)
	if err != nil {
		return fmt.Errorf("our compaction: %w", err)
	}
	r.rewriteOnly = rep.Rewrite.Took
	compaction.WriteReport(os.Stderr, rep)
	return nil
}

// writeCopies generates the events and writes them as c.files files into
// each of two new tables, committing 200 files a commit.
func writeCopies(ctx context.Context, sink *ingest.Sink, c config, idents ...table.Identifier) (int64, error) {
	whole, err := generateEvents(c.rows)
	if err != nil {
		return 0, err
	}
	defer whole.Release()
	for _, ident := range idents {
		tbl, err := sink.EnsureTable(ctx, ident, whole.Schema())
		if err != nil {
			return 0, err
		}
		if err := writeSmallFiles(ctx, tbl, whole, c.files); err != nil {
			return 0, fmt.Errorf("writing %v: %w", ident, err)
		}
	}
	return whole.NumRows(), nil
}

// generateEvents returns at least rows generator events in one record,
// asking the generator for more orders while it makes too few.
func generateEvents(rows int) (arrow.RecordBatch, error) {
	spec := generator.DefaultSpec()
	spec.EventsPerOrder = 8
	spec.Orders = rows/spec.EventsPerOrder + 1
	for {
		tables, err := generator.Generate(memory.DefaultAllocator, spec)
		if err != nil {
			return nil, err
		}
		var events *generator.Table
		for _, t := range tables {
			if t.Name == "events" {
				events = t
			} else {
				t.Release()
			}
		}
		whole, err := concat(events)
		events.Release()
		if err != nil {
			return nil, err
		}
		if whole.NumRows() >= int64(rows) {
			return whole, nil
		}
		spec.Orders += (rows-int(whole.NumRows()))/spec.EventsPerOrder + 1
		whole.Release()
	}
}

func concat(t *generator.Table) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, t.Schema.NumFields())
	for i := range cols {
		parts := make([]arrow.Array, len(t.Records))
		for j, r := range t.Records {
			parts[j] = r.Column(i)
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	rec := array.NewRecordBatch(t.Schema, cols, t.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func writeSmallFiles(ctx context.Context, tbl *table.Table, whole arrow.RecordBatch, files int) error {
	per := (whole.NumRows() + int64(files) - 1) / int64(files)
	out := make([][]iceberg.DataFile, files)
	var (
		wg   sync.WaitGroup
		errs = make([]error, runtime.GOMAXPROCS(0))
	)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < files; i += len(errs) {
				lo := int64(i) * per
				hi := min(lo+per, whole.NumRows())
				chunk := whole.NewSlice(lo, hi)
				recs := func(yield func(arrow.RecordBatch, error) bool) { yield(chunk, nil) }
				for df, err := range table.WriteRecords(ctx, tbl, whole.Schema(), recs) {
					if err != nil {
						errs[w] = err
						return
					}
					out[i] = append(out[i], df)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	all := slices.Concat(out...)
	for lo := 0; lo < len(all); lo += 200 {
		txn := tbl.NewTransaction()
		if err := txn.AddDataFiles(ctx, all[lo:min(lo+200, len(all))], nil); err != nil {
			return err
		}
		next, err := txn.Commit(ctx)
		if err != nil {
			return err
		}
		tbl = next
	}
	return nil
}

func countFiles(ctx context.Context, sink *ingest.Sink, ident table.Identifier) (int, error) {
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		return 0, err
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	return len(tasks), err
}

func fqn(ident table.Identifier) string { return "lakehouse." + ident[0] + "." + ident[1] }

// fingerprint is the row count and an order-insensitive checksum of every column.
func fingerprint(q func(string) (*trino.Result, error), ident table.Identifier) (string, error) {
	cols := []string{"event_id", "event_ts", "event_type", "user_id", "session_id", "product_id", "page", "user_agent", "price"}
	sums := []string{"count(*)"}
	for _, c := range cols {
		sums = append(sums, "to_hex(checksum("+c+"))")
	}
	res, err := q("SELECT " + strings.Join(sums, ", ") + " FROM " + fqn(ident))
	if err != nil {
		return "", err
	}
	return fmt.Sprint(res.Rows[0]), nil
}

// timeQueries times every query on every copy before compaction (time
// travel to the snapshot the copy had then: the same 2,000 files) and
// after, back to back in each round, so that both sides meet a Trino
// equally warm. It keeps each side's median.
func timeQueries(q func(string) (*trino.Result, error), runs []*copyRun, c config) error {
	type side struct {
		r      *copyRun
		before bool
	}
	var sides []side
	for _, r := range runs {
		sides = append(sides, side{r, true}, side{r, false})
	}
	times := make(map[side][][]time.Duration, len(sides))
	for round := range c.warmup + c.runs {
		for qi, qu := range queries {
			for _, sd := range sides {
				from := fqn(sd.r.ident)
				if sd.before {
					from += fmt.Sprintf(" FOR VERSION AS OF %d", sd.r.snapshotBefore)
				}
				t0 := time.Now()
				if _, err := q(fmt.Sprintf(qu.sql, from)); err != nil {
					return fmt.Errorf("%s on %s: %w", qu.name, from, err)
				}
				if round < c.warmup {
					continue
				}
				if times[sd] == nil {
					times[sd] = make([][]time.Duration, len(queries))
				}
				times[sd][qi] = append(times[sd][qi], time.Since(t0))
			}
		}
	}
	for sd, perQuery := range times {
		medians := make([]time.Duration, len(perQuery))
		for i, ds := range perQuery {
			slices.Sort(ds)
			medians[i] = ds[len(ds)/2]
		}
		if sd.before {
			sd.r.before = medians
		} else {
			sd.r.after = medians
		}
	}
	return nil
}
