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
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

const ingestUsage = `usage: lakehouse ingest files --table <zone>.<table> [flags] PATH...

Lands CSV (.csv, .tsv), NDJSON (.ndjson, .jsonl), JSON (.json) and Parquet
(.parquet) files in a zone table, creating it when missing. Each file is
committed once: running the same command again lands nothing new. Records
that do not parse go to <zone>.<table>__quarantine with the reason.

flags:
`

func runIngest(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "files" {
		fmt.Fprint(os.Stderr, ingestUsage)
		fmt.Fprintln(os.Stderr, "  (run 'lakehouse ingest files -h')")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	fs := flag.NewFlagSet("ingest files", flag.ContinueOnError)
	tableName := fs.String("table", "", "target table <zone>.<table> (required)")
	catalogURI := fs.String("catalog", envOr("LAKEHOUSE_CATALOG_URI", "http://127.0.0.1:8181"), "REST catalog URI (env LAKEHOUSE_CATALOG_URI)")
	sample := fs.Int("sample-rows", 10000, "records of a CSV or JSON file inspected to infer its column types")
	fs.Usage = func() {
		io.WriteString(fs.Output(), ingestUsage) //nolint:errcheck
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args[1:])
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
