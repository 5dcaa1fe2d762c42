package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
)

// StatusReport is what the lake says of one pipeline.
type StatusReport struct {
	Name   string
	Table  string
	Source string // Source.Kind
	// Exists: the table has been created.
	Exists bool
	// LastCommit is when the table's current snapshot was committed; zero
	// before the first commit.
	LastCommit time.Time
	// LastRows is how many rows that commit added to the table.
	LastRows int64
	// TotalRows is how many rows the table holds.
	TotalRows int64
	// Quarantined is how many rows the quarantine table holds.
	Quarantined int64
	// Files is set for files pipelines.
	Files *FilesStatus
	// Windows is set for poll pipelines.
	Windows *poll.StatusReport
	// Err, when set, is why the status could not be read; the other
	// pipelines are reported all the same.
	Err error
}

// FilesStatus compares the files under a pipeline's paths with the table.
type FilesStatus struct {
	// Seen is how many files the paths name now.
	Seen int
	// Landed is how many of them are in the table, as they are now.
	Landed int
	// Pending are the others.
	Pending []string
}

// Status reads, for each pipeline, its table's last commit and what it has
// landed: files pipelines compare the files under their paths with the
// table's history (hashing each file), poll pipelines list landed and
// missing windows. Nothing is fetched from the sources. Only invalid
// pipelines are an error; a pipeline whose status cannot be read has Err.
func Status(ctx context.Context, sink *ingest.Sink, pipelines []Pipeline) ([]StatusReport, error) {
	if err := Validate(pipelines); err != nil {
		return nil, err
	}
	out := make([]StatusReport, len(pipelines))
	for i, p := range pipelines {
		out[i] = status(ctx, sink, p)
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

func status(ctx context.Context, sink *ingest.Sink, p Pipeline) StatusReport {
	st := StatusReport{Name: p.Name, Table: p.Table, Source: p.Source.Kind()}
	ident, _ := parseTable(p.Table)
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable):
	case err != nil:
		st.Err = fmt.Errorf("loading table %s: %w", p.Table, err)
		return st
	default:
		st.Exists = true
		if snap := tbl.CurrentSnapshot(); snap != nil {
			st.LastCommit = time.UnixMilli(snap.TimestampMs).UTC()
			if snap.Summary != nil {
				st.LastRows = summaryInt(snap.Summary, "added-records")
				st.TotalRows = summaryInt(snap.Summary, "total-records")
			}
		}
	}
	if q, err := sink.Catalog().LoadTable(ctx, ingest.QuarantineTable(ident)); err == nil {
		if snap := q.CurrentSnapshot(); snap != nil && snap.Summary != nil {
			st.Quarantined = summaryInt(snap.Summary, "total-records")
		}
	} else if !errors.Is(err, catalog.ErrNoSuchTable) {
		st.Err = fmt.Errorf("loading table %v: %w", ingest.QuarantineTable(ident), err)
		return st
	}
	switch {
	case p.Source.Files != nil:
		fs, err := filesStatus(ctx, sink, ident, tbl, p.Source.Files)
		st.Files, st.Err = &fs, err
	case p.Source.Poll != nil:
		ws, err := poll.Status(ctx, sink, p.pollConfig(nil), nil)
		if err != nil {
			st.Err = err
		} else {
			st.Windows = &ws
		}
	}
	return st
}

func summaryInt(s *table.Summary, key string) int64 {
	n, _ := strconv.ParseInt(s.Properties[key], 10, 64)
	return n
}

// filesStatus hashes the files the paths name and looks their batch ids
// up in the table and its quarantine table (a file whose records were all
// rejected has only a quarantine part).
func filesStatus(ctx context.Context, sink *ingest.Sink, ident table.Identifier, tbl *table.Table, cfg *Files) (FilesStatus, error) {
	found, err := listFiles(cfg.Paths)
	if err != nil {
		return FilesStatus{}, err
	}
	batches := map[string]bool{}
	addBatches := func(t *table.Table) {
		for _, snap := range t.Metadata().Snapshots() {
			if snap.Summary != nil {
				batches[snap.Summary.Properties[ingest.BatchIDProperty]] = true
			}
		}
	}
	if tbl != nil {
		addBatches(tbl)
	}
	q, err := sink.Catalog().LoadTable(ctx, ingest.QuarantineTable(ident))
	switch {
	case err == nil:
		addBatches(q)
	case !errors.Is(err, catalog.ErrNoSuchTable):
		return FilesStatus{}, fmt.Errorf("loading table %v: %w", ingest.QuarantineTable(ident), err)
	}
	st := FilesStatus{Seen: len(found)}
	for _, c := range found {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		id, err := files.Identify(c.path)
		if err != nil {
			return st, fmt.Errorf("reading status of %s: %w", c.path, err)
		}
		if b := id.BatchID(); batches[b] || batches[ingest.QuarantineBatchID(b)] {
			st.Landed++
		} else {
			st.Pending = append(st.Pending, c.path)
		}
	}
	return st, nil
}

// Backfill lands the windows of the poll pipeline named name that overlap
// [from, to), oldest first (see poll.Backfill): windows already landed are
// reported as skipped without being fetched; a window that fails does not
// stop the others, and the error lists each one. It errors with
// ErrUnknownPipeline or ErrNotPolled for a name it cannot backfill.
func Backfill(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, pipelines []Pipeline, name string, from, to time.Time) ([]poll.WindowReport, error) {
	if err := Validate(pipelines); err != nil {
		return nil, err
	}
	for _, p := range pipelines {
		if p.Name != name {
			continue
		}
		if p.Source.Poll == nil {
			return nil, fmt.Errorf("backfilling %s: %w: its source is %s", name, ErrNotPolled, p.Source.Kind())
		}
		if !from.Before(to) {
			return nil, fmt.Errorf("backfilling %s: from %s is not before to %s", name, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		if err := prepareTables(ctx, logger, sink, p); err != nil {
			return nil, fmt.Errorf("backfilling %s: %w", name, err)
		}
		return poll.Backfill(ctx, logger.With("pipeline", name), sink, p.pollConfig(nil), nil, from, to)
	}
	return nil, fmt.Errorf("backfilling %s: %w", name, ErrUnknownPipeline)
}
