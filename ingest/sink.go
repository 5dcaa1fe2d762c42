// Package ingest lands Arrow record batches in zone tables: batches become
// Parquet data files and one Iceberg commit through the REST catalog, and
// each commit records the batch it carries so that a batch lands once.
// Sources (source.go) yield batches and rejects; Sink.Land stamps lineage
// on the records and commits them with the rejects' quarantine rows.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
)

// BatchIDProperty is the snapshot-summary key under which a commit records
// the batch it carried.
const BatchIDProperty = "lakehouse.batch-id"

// Sink writes into the tables of one REST catalog.
type Sink struct {
	logger *slog.Logger
	cat    *rest.Catalog
	uri    string
	cfg    Config
}

// Open connects to the REST catalog at uri. The catalog hands out the storage
// settings, so nothing else is needed. Options change DefaultConfig.
func Open(ctx context.Context, logger *slog.Logger, uri string, opts ...Option) (*Sink, error) {
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring sink: %w", err)
	}
	cat, err := rest.NewCatalog(ctx, "lakehouse", uri)
	if err != nil {
		return nil, fmt.Errorf("connecting to catalog %s: %w", uri, err)
	}
	return &Sink{logger: logger, cat: cat, uri: uri, cfg: cfg}, nil
}

// Catalog is the underlying iceberg-go REST catalog client.
func (s *Sink) Catalog() *rest.Catalog { return s.cat }

// CatalogURI is the URI the sink was opened with.
func (s *Sink) CatalogURI() string { return s.uri }

// EnsureTable loads ident, creating it with sc's columns, the sink's
// Parquet settings (see Config) and the options' partitioning when it does
// not exist. An existing table is returned as it is.
func (s *Sink) EnsureTable(ctx context.Context, ident table.Identifier, sc *arrow.Schema, opts ...TableOption) (*table.Table, error) {
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err == nil {
		return tbl, nil
	}
	if !errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, fmt.Errorf("loading table %v: %w", ident, err)
	}
	var to tableOptions
	for _, o := range opts {
		o(&to)
	}
	isc, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		return nil, fmt.Errorf("deriving Iceberg schema for %v: %w", ident, err)
	}
	spec, err := ParsePartitionSpec(isc, to.partitionBy...)
	if err != nil {
		return nil, fmt.Errorf("partitioning %v: %w", ident, err)
	}
	tbl, err = s.cat.CreateTable(ctx, ident, isc, catalog.WithProperties(s.cfg.tableProperties()), catalog.WithPartitionSpec(&spec))
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		return s.cat.LoadTable(ctx, ident)
	}
	if err != nil {
		return nil, fmt.Errorf("creating table %v: %w", ident, err)
	}
	s.logger.Info("created table", "table", ident, "partitioning", to.partitionBy)
	return tbl, nil
}

// HasBatch reports whether a snapshot of tbl carries batchID.
func HasBatch(tbl *table.Table, batchID string) bool {
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary != nil && snap.Summary.Properties[BatchIDProperty] == batchID {
			return true
		}
	}
	return false
}

// AppendResult describes one append.
type AppendResult struct {
	Rows     int64
	Skipped  bool // the batch was already in the table
	Duration time.Duration
}

// AppendOnce appends records to ident (creating the table from sc if needed)
// in one commit that records batchID, unless a snapshot already records it.
// The batch id is checked again at commit time (see CommitOnce), so two
// writers of the same batch land it once. The caller keeps ownership of
// records.
func (s *Sink) AppendOnce(ctx context.Context, ident table.Identifier, sc *arrow.Schema, records []arrow.RecordBatch, batchID string) (AppendResult, error) {
	start := time.Now()
	tbl, err := s.EnsureTable(ctx, ident, sc)
	if err != nil {
		return AppendResult{}, err
	}
	if HasBatch(tbl, batchID) {
		return AppendResult{Skipped: true, Duration: time.Since(start)}, nil
	}
	// Stage's writer releases what it consumes; these stay the caller's.
	retained := func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range records {
			r.Retain()
			if !yield(r, nil) {
				return
			}
		}
	}
	st, err := s.Stage(ctx, ident, sc, retained, batchID, nil)
	if err != nil {
		return AppendResult{}, err
	}
	if st.Rows == 0 {
		return AppendResult{Duration: time.Since(start)}, nil
	}
	res, err := s.CommitOnce(ctx, st)
	if err != nil {
		return AppendResult{}, fmt.Errorf("appending to %v: %w", ident, err)
	}
	res[0].Duration = time.Since(start)
	return res[0], nil
}
