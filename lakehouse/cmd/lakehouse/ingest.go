package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
	"github.com/lakehouse-go/lakehouse/ingest/pipeline"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
)

const ingestUsage = `usage: lakehouse ingest files --table <zone>.<table> [flags] PATH...

Lands CSV (.csv, .tsv), NDJSON (.ndjson, .jsonl), JSON (.json) and Parquet
(.parquet) files in a zone table, creating it when missing. Each file is
committed once: running the same command again lands nothing new. Records
that do not parse go to <zone>.<table>__quarantine with the reason.

flags:
`

const ingestCommandsUsage = `usage: lakehouse ingest <command> [flags]

commands:
  files     land files in a zone table once (ingest files --table <zone>.<table> PATH...)
  run       run the pipelines of a pipelines file until Ctrl-C (ingest run --pipelines FILE)
  status    show what each pipeline has landed (ingest status --pipelines FILE)
  backfill  land a range of a poll pipeline's windows (ingest backfill --pipelines FILE --pipeline NAME --from T --to T)

Run 'lakehouse ingest <command> -h' for its flags. The pipelines file format:
deploy/pipelines.example.yaml.
`

func runIngest(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "files":
		return runIngestFiles(ctx, logger, args[1:], stdout)
	case "run":
		return runIngestRun(ctx, logger, args[1:], stdout)
	case "status":
		return runIngestStatus(ctx, logger, args[1:], stdout)
	case "backfill":
		return runIngestBackfill(ctx, logger, args[1:], stdout)
	}
	fmt.Fprint(os.Stderr, ingestCommandsUsage)
	if sub == "-h" || sub == "--help" || sub == "help" {
		return flag.ErrHelp
	}
	return errUsage
}

func runIngestFiles(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ingest files", flag.ContinueOnError)
	tableName := fs.String("table", "", "target table <zone>.<table> (required)")
	catalogURI := fs.String("catalog", envOr("LAKEHOUSE_CATALOG_URI", "http://127.0.0.1:8181"), "REST catalog URI (env LAKEHOUSE_CATALOG_URI)")
	sample := fs.Int("sample-rows", 10000, "records of a CSV or JSON file inspected to infer its column types")
	fs.Usage = func() {
		io.WriteString(fs.Output(), ingestUsage) //nolint:errcheck
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	ident, err := parseTable(*tableName)
	if err != nil || len(paths) == 0 {
		if err == nil {
			err = errors.New("no files given")
		}
		fmt.Fprintf(fs.Output(), "lakehouse ingest files: %v\n\n", err)
		fs.Usage()
		return errUsage
	}

	sink, err := ingest.Open(ctx, logger, *catalogURI)
	if err != nil {
		return err
	}
	p := &progress{w: os.Stderr}
	cfg := files.Config{Table: ident, Options: files.Options{SampleRows: *sample}, Progress: p.report}
	reports, err := files.Land(ctx, logger, sink, cfg, paths...)
	printReports(stdout, ident, reports)
	return err
}

// parseInterleaved parses flags that may come before, between or after the
// paths, and returns the paths.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return paths, nil
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func parseTable(s string) (table.Identifier, error) {
	if s == "" {
		return nil, errors.New("--table is required")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("--table %q: want <zone>.<table>, e.g. raw.orders", s)
	}
	return table.Identifier{parts[0], parts[1]}, nil
}

// progress tells about files that take a while, at most once a second.
type progress struct {
	w           io.Writer
	path        string
	start, last time.Time
}

func (p *progress) report(path string, received int64, done float64) {
	now := time.Now()
	if path != p.path {
		p.path, p.start, p.last = path, now, now
	}
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "  %s: %d records read, %.0f%% of the file, %s\n", path, received, 100*done, now.Sub(p.start).Round(time.Second))
}

func printReports(w io.Writer, ident table.Identifier, reports []files.Report) {
	if len(reports) == 0 {
		return
	}
	width := len("total (100 files)")
	for _, r := range reports {
		width = max(width, len(r.Path))
	}
	row := func(name string, rec, acc, quar, skip any, took string) {
		fmt.Fprintf(w, "%-*s  %9v  %9v  %11v  %9v  %8s\n", width, name, rec, acc, quar, skip, took)
	}
	fmt.Fprintf(w, "table %s (rejects in %s)\n\n", strings.Join(ident, "."), strings.Join(ingest.QuarantineTable(ident), "."))
	row("FILE", "RECEIVED", "ACCEPTED", "QUARANTINED", "SKIPPED", "TIME")
	var total ingest.Report
	for _, r := range reports {
		row(r.Path, r.Received, r.Accepted, r.Quarantined, r.Skipped, seconds(r.Duration))
		total.Received += r.Received
		total.Accepted += r.Accepted
		total.Quarantined += r.Quarantined
		total.Skipped += r.Skipped
		total.Duration += r.Duration
	}
	plural := "s"
	if len(reports) == 1 {
		plural = ""
	}
	row(fmt.Sprintf("total (%d file%s)", len(reports), plural), total.Received, total.Accepted, total.Quarantined, total.Skipped, seconds(total.Duration))
	if total.Skipped > 0 {
		fmt.Fprintln(w, "\nSKIPPED: records an earlier run had already landed; they were not written again.")
	}
	if total.Quarantined > 0 {
		fmt.Fprintf(w, "\nQUARANTINED records are in %s with their reason and raw payload.\n", strings.Join(ingest.QuarantineTable(ident), "."))
	}
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// pipelineFlags are the flags the pipeline commands share.
type pipelineFlags struct {
	file, catalog, stateDir, metricsAddr string
}

func (f *pipelineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "pipelines", "", "pipelines file, YAML (required; see deploy/pipelines.example.yaml)")
	fs.StringVar(&f.catalog, "catalog", envOr("LAKEHOUSE_CATALOG_URI", "http://127.0.0.1:8181"), "REST catalog URI (env LAKEHOUSE_CATALOG_URI)")
	fs.StringVar(&f.stateDir, "state-dir", envOr("LAKEHOUSE_STATE_DIR", ".lakehouse"), "folder for local state the file does not place, e.g. collector spools (env LAKEHOUSE_STATE_DIR)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", defaultMetricsAddr, "serve the pipelines' Prometheus metrics at http://ADDR/metrics (run only; \"\" turns it off)")
}

// open loads the pipelines and connects to the catalog.
func (f *pipelineFlags) open(ctx context.Context, logger *slog.Logger, fs *flag.FlagSet) ([]pipeline.Pipeline, *ingest.Sink, error) {
	if f.file == "" {
		fmt.Fprintf(fs.Output(), "lakehouse %s: --pipelines is required\n\n", fs.Name())
		fs.Usage()
		return nil, nil, errUsage
	}
	pls, err := pipeline.Load(f.file, f.stateDir)
	if err != nil {
		return nil, nil, err
	}
	sink, err := ingest.Open(ctx, logger, f.catalog)
	if err != nil {
		return nil, nil, err
	}
	return pls, sink, nil
}

func runIngestRun(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pipelineFlags
	fs := flag.NewFlagSet("ingest run", flag.ContinueOnError)
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pls, sink, err := f.open(ctx, logger, fs)
	if err != nil {
		return err
	}
	reg, err := serveMetrics(ctx, logger, f.metricsAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "running %d pipeline(s) against %s; Ctrl-C stops them\n\n", len(pls), f.catalog)
	printPipelines(stdout, "  ", pls)
	fmt.Fprintln(stdout)
	return pipeline.Run(ctx, logger, reg, sink, pls)
}

func runIngestStatus(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pipelineFlags
	fs := flag.NewFlagSet("ingest status", flag.ContinueOnError)
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pls, sink, err := f.open(ctx, logger, fs)
	if err != nil {
		return err
	}
	sts, err := pipeline.Status(ctx, sink, pls)
	if err != nil {
		return err
	}
	printStatus(stdout, sts, time.Now())
	var failed []string
	for _, st := range sts {
		if st.Err != nil {
			failed = append(failed, st.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("reading the status of %s failed", strings.Join(failed, ", "))
	}
	return nil
}

func runIngestBackfill(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pipelineFlags
	fs := flag.NewFlagSet("ingest backfill", flag.ContinueOnError)
	f.register(fs)
	name := fs.String("pipeline", "", "the poll pipeline to backfill (required)")
	fromFlag := fs.String("from", "", "start of the range, RFC 3339 or 2006-01-02 (UTC) (required)")
	toFlag := fs.String("to", "", "end of the range, exclusive, as --from (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, ferr := parseTime(*fromFlag)
	to, terr := parseTime(*toFlag)
	if err := errors.Join(ferr, terr); err != nil || *name == "" {
		if err == nil {
			err = errors.New("--pipeline is required")
		}
		fmt.Fprintf(fs.Output(), "lakehouse ingest backfill: %v\n\n", err)
		fs.Usage()
		return errUsage
	}
	pls, sink, err := f.open(ctx, logger, fs)
	if err != nil {
		return err
	}
	reps, err := pipeline.Backfill(ctx, logger, sink, pls, *name, from, to)
	if err == nil || len(reps) > 0 {
		printWindows(stdout, reps)
	}
	return err
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("--from and --to are required")
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2025-01-01T00:00:00Z) or a date (2025-01-01, UTC)", s)
}

// printPipelines writes one line per pipeline: name, table and source.
func printPipelines(w io.Writer, indent string, pls []pipeline.Pipeline) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pls {
		fmt.Fprintf(tw, "%s%s\t→ %s\t%s\n", indent, p.Name, p.Table, p.Source)
	}
	tw.Flush() //nolint:errcheck // w is the terminal
}

func printStatus(w io.Writer, sts []pipeline.StatusReport, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tTABLE\tSOURCE\tLAST COMMIT\tLAST ROWS\tTOTAL ROWS\tQUARANTINED\tLANDED")
	for _, st := range sts {
		last, rows, total, quarantined := "-", "-", "-", "-"
		switch {
		case !st.Exists:
			last = "no table yet"
		case !st.LastCommit.IsZero():
			last = fmt.Sprintf("%s (%s ago)", st.LastCommit.Format(time.RFC3339), now.Sub(st.LastCommit).Round(time.Second))
			rows, total, quarantined = fmt.Sprint(st.LastRows), fmt.Sprint(st.TotalRows), fmt.Sprint(st.Quarantined)
		default:
			last = "no commit yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, st.Table, st.Source, last, rows, total, quarantined, landedSummary(st))
	}
	tw.Flush() //nolint:errcheck // w is the terminal
	for _, st := range sts {
		switch {
		case st.Err != nil:
			fmt.Fprintf(w, "\n%s: %v\n", st.Name, st.Err)
		case st.Files != nil && len(st.Files.Pending) > 0:
			fmt.Fprintf(w, "\n%s: not landed yet:\n", st.Name)
			for _, p := range firstN(st.Files.Pending, 10) {
				fmt.Fprintf(w, "  %s\n", p)
			}
		case st.Windows != nil && len(st.Windows.Missing)+len(st.Windows.Overlapping) > 0:
			fmt.Fprintf(w, "\n%s: missing windows (run `lakehouse ingest backfill` or wait for the runner):\n", st.Name)
			for _, win := range firstN(st.Windows.Missing, 10) {
				fmt.Fprintf(w, "  %s\n", win)
			}
			if n := len(st.Windows.Overlapping); n > 0 {
				fmt.Fprintf(w, "  and %d window(s) overlapping windows landed under another every/start: not landed\n", n)
			}
		}
	}
}

// landedSummary is the LANDED column: what the source says it has landed.
func landedSummary(st pipeline.StatusReport) string {
	switch {
	case st.Files != nil:
		return fmt.Sprintf("%d of %d files", st.Files.Landed, st.Files.Seen)
	case st.Windows != nil:
		s := fmt.Sprintf("%d windows, %d missing", len(st.Windows.Landed), len(st.Windows.Missing))
		if !st.Windows.NextDue.IsZero() {
			s += ", next due " + st.Windows.NextDue.Format(time.RFC3339)
		}
		return s
	}
	return "-"
}

func firstN[T any](xs []T, n int) []T {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

func printWindows(w io.Writer, reps []poll.WindowReport) {
	if len(reps) == 0 {
		fmt.Fprintln(w, "no closed window in that range")
		return
	}
	row := func(window string, rec, acc, quar, skip, tries any, result string) {
		fmt.Fprintf(w, "%-46s  %8v  %8v  %11v  %8v  %8v  %s\n", window, rec, acc, quar, skip, tries, result)
	}
	row("WINDOW", "RECEIVED", "ACCEPTED", "QUARANTINED", "SKIPPED", "ATTEMPTS", "RESULT")
	for _, r := range reps {
		result := "landed"
		switch {
		case r.Err != nil:
			result = "failed: " + r.Err.Error()
		case r.Received > 0 && r.Skipped == r.Received, r.Attempts == 0:
			result = "landed before"
		}
		row(r.Window.String(), r.Received, r.Accepted, r.Quarantined, r.Skipped, r.Attempts, result)
	}
}

// loadPipelines loads the pipelines `up` runs; none when path is empty.
// Call it before the stack starts: paths resolve against the working
// directory, which the embedded S3 backend changes.
func loadPipelines(path, stateDir string) ([]pipeline.Pipeline, error) {
	if path == "" {
		return nil, nil
	}
	return pipeline.Load(path, stateDir)
}

// startPipelines runs pls against the catalog at uri in a goroutine; stop
// ends them and waits until they have flushed what they hold.
func startPipelines(ctx context.Context, logger *slog.Logger, uri string, reg prometheus.Registerer, pls []pipeline.Pipeline) (stop func(), err error) {
	if len(pls) == 0 {
		return func() {}, nil
	}
	sink, err := ingest.Open(ctx, logger, uri)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := pipeline.Run(ctx, logger, reg, sink, pls); err != nil {
			logger.Error("running pipelines", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
