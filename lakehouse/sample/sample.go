// Package sample lands the built-in e-commerce dataset in the raw zone:
// generated Arrow batches → Parquet → one Iceberg append per table through
// the REST catalog, each commit tagged so that it happens once.
package sample

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

// Zone is where the sample lands.
const Zone = "raw"

// batchPrefix starts the batch id of every generator commit.
const batchPrefix = "generator/"

// Result says what Land did with one table.
type Result struct {
	Table   string
	Rows    int64
	Skipped bool // the table already held generated data
}

// Land generates spec's dataset and appends each table to raw.<name> unless
// the table already holds generated data (from any earlier run), so a second
// `lakehouse up` reuses what is there. It returns the dataset's figures.
func Land(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, spec generator.Spec) (generator.Stats, []Result, error) {
	spec = spec.WithDefaults()
	tables, err := generator.Generate(memory.DefaultAllocator, spec)
	if err != nil {
		return generator.Stats{}, nil, fmt.Errorf("generating sample data: %w", err)
	}
	defer func() {
		for _, t := range tables {
			t.Release()
		}
	}()
	stats := generator.Summarize(tables)
	batch := fmt.Sprintf("%sseed=%d/orders=%d", batchPrefix, spec.Seed, spec.Orders)
	var results []Result
	for _, t := range tables {
		ident := table.Identifier{Zone, t.Name}
		tbl, err := sink.EnsureTable(ctx, ident, t.Schema)
		if err != nil {
			return stats, results, err
		}
		if prev := generatedBatch(tbl); prev != "" {
			if prev != batch {
				logger.Warn("keeping sample data generated with another spec", "table", ident, "batch", prev)
			}
			results = append(results, Result{Table: t.Name, Rows: t.NumRows(), Skipped: true})
			continue
		}
		res, err := sink.AppendOnce(ctx, ident, t.Schema, t.Records, batch)
		if err != nil {
			return stats, results, err
		}
		logger.Info("landed sample table", "table", strings.Join(ident, "."), "rows", res.Rows, "duration", res.Duration.Round(1e6))
		results = append(results, Result{Table: t.Name, Rows: res.Rows, Skipped: res.Skipped})
	}
	return stats, results, nil
}

// generatedBatch returns the batch id of the generator commit in tbl, or "".
func generatedBatch(tbl *table.Table) string {
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary == nil {
			continue
		}
		if id := snap.Summary.Properties[ingest.BatchIDProperty]; strings.HasPrefix(id, batchPrefix) {
			return id
		}
	}
	return ""
}
