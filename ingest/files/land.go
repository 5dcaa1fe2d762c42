package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// ErrChanged is returned when a file changed while it was being landed.
var ErrChanged = errors.New("file changed while it was being landed")

// Config says where files land and how they are read.
type Config struct {
	Table   table.Identifier // <zone>.<table>; rejects go to <zone>.<table>__quarantine
	Options Options
	// Progress, when set, is called as a file is read, with the records
	// received so far and the share of the file read.
	Progress func(path string, received int64, done float64)
}

// Report is what became of one file.
type Report struct {
	Path    string // as given
	BatchID string
	ingest.Report
}

// Land lands the files in cfg.Table one after the other, each exactly once
// (see ingest.Sink.Land): a file already landed is skipped without being
// parsed, one landed half-way is completed. Every path is checked to be a
// readable file of a known format before anything lands. On error it
// returns the reports of the files landed before.
func Land(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, cfg Config, paths ...string) ([]Report, error) {
	for _, p := range paths {
		if err := checkReadable(p); err != nil {
			return nil, err
		}
	}
	var reports []Report
	for _, p := range paths {
		rep, err := landOne(ctx, sink, cfg, p)
		if err != nil {
			return reports, fmt.Errorf("landing %s: %w", p, err)
		}
		logger.Info("landed file", "file", p, "table", cfg.Table, "batch", rep.BatchID, "received", rep.Received,
			"accepted", rep.Accepted, "quarantined", rep.Quarantined, "skipped", rep.Skipped, "duration", rep.Duration.Round(time.Millisecond))
		reports = append(reports, rep)
	}
	return reports, nil
}

func landOne(ctx context.Context, sink *ingest.Sink, cfg Config, path string) (Report, error) {
	before, err := os.Stat(path)
	if err != nil {
		return Report{}, err
	}
	id, err := Identify(path)
	if err != nil {
		return Report{}, err
	}
	var src Source
	t := ingest.Target{Table: cfg.Table, Source: id.Path, BatchID: id.BatchID()}
	if cfg.Progress != nil {
		t.Progress = func(n int64) { cfg.Progress(path, n, src.Progress()) }
	}
	open := func(ctx context.Context, declared *arrow.Schema) (ingest.Source, error) {
		opts := cfg.Options
		opts.Extend = true // the landing evolves the table or quarantines the file
		s, err := Open(ctx, id.Path, declared, nil, opts)
		if err != nil {
			return nil, err
		}
		src = s
		return s, nil
	}
	rep, err := sink.Land(ctx, open, t)
	if err != nil {
		return Report{}, err
	}
	after, err := os.Stat(path)
	if err != nil {
		return Report{}, err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return Report{}, fmt.Errorf("%w: it landed under batch %s, which may not match its content now", ErrChanged, t.BatchID)
	}
	return Report{Path: path, BatchID: t.BatchID, Report: rep}, nil
}

// checkReadable fails early, with the path in the message, on what cannot
// be landed.
func checkReadable(path string) error {
	if _, err := FormatOf(path); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	info, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading input %s: %w", path, err)
	}
	if info.IsDir() {
		return fmt.Errorf("reading input %s: it is a directory", path)
	}
	return nil
}
