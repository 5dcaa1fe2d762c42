// Package bench measures bulk and streaming ingestion end to end on the
// embedded stack: ours (Sink.Stage + CommitOnce through the REST catalog
// into the embedded S3), pyiceberg's table.append of the same Arrow data,
// and bare Parquet encoding of the same batches as the limit; and, for
// streaming, the time from producing a Kafka record to seeing it in the
// lake. `go tool task bench:ingest` runs it (cmd/ingestbench).
package bench

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

// Dataset is Arrow data held in memory, loaded once and handed to every
// contender.
type Dataset struct {
	Name    string
	Source  string // where it came from, in words
	Schema  *arrow.Schema
	Records []arrow.RecordBatch
	Rows    int64
	// Bytes is the Arrow in-memory size of Records (their buffers), the MB
	// of every MB/s figure.
	Bytes int64
}

// Release releases the records.
func (d *Dataset) Release() {
	for _, r := range d.Records {
		r.Release()
	}
	d.Records = nil
}

func newDataset(name, source string, sc *arrow.Schema, recs []arrow.RecordBatch) *Dataset {
	d := &Dataset{Name: name, Source: source, Schema: sc, Records: recs}
	for _, r := range recs {
		d.Rows += r.NumRows()
		d.Bytes += recordSize(r)
	}
	return d
}

// LoadParquet reads a Parquet file into memory with pqarrow, in batches of
// batchRows.
func LoadParquet(ctx context.Context, name, path string, batchRows int64) (*Dataset, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	for rr.Next() {
		r := rr.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	if err := rr.Err(); err != nil {
		for _, r := range recs {
			r.Release()
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return newDataset(name, path, rr.Schema(), recs), nil
}

// GenerateEvents returns exactly rows clickstream events from the
// generator (its events table, sized through Spec.Orders at the default 8
// events per order), in batches of batchRows.
func GenerateEvents(rows int, batchRows int) (*Dataset, error) {
	spec := generator.Spec{
		Customers: 200_000,
		Products:  5_000,
		// Events average EventsPerOrder (8) per order; 4 % spare so that
		// at least rows come out, the rest is cut.
		Orders:    rows/8 + rows/200 + 1,
		BatchRows: batchRows,
	}
	tables, err := generator.Generate(memory.DefaultAllocator, spec)
	if err != nil {
		return nil, fmt.Errorf("generating events: %w", err)
	}
	var events *generator.Table
	for _, t := range tables {
		if t.Name == "events" {
			events = t
			continue
		}
		t.Release()
	}
	if events == nil {
		return nil, fmt.Errorf("generating events: the generator made no events table")
	}
	if events.NumRows() < int64(rows) {
		n := events.NumRows()
		events.Release()
		return nil, fmt.Errorf("generating events: got %d, fewer than %d", n, rows)
	}
	var recs []arrow.RecordBatch
	left := int64(rows)
	for _, r := range events.Records {
		switch {
		case left == 0:
		case r.NumRows() <= left:
			r.Retain()
			recs = append(recs, r)
			left -= r.NumRows()
		default:
			recs = append(recs, r.NewSlice(0, left))
			left = 0
		}
	}
	events.Release()
	src := fmt.Sprintf("generator events table, seed 42, %d orders", spec.Orders)
	return newDataset("clickstream events", src, events.Schema, recs), nil
}

// WriteIPC writes the dataset as an Arrow IPC file for pyiceberg.
func WriteIPC(d *Dataset, path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", path, cerr)
		}
	}()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(d.Schema))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for _, r := range d.Records {
		if err := w.Write(r); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// recordSize is the size of the buffers behind r's columns (as arrow-go's
// util.TotalRecordSize counts them: whole buffers, also of sliced arrays).
func recordSize(r arrow.RecordBatch) int64 {
	var n int64
	for _, c := range r.Columns() {
		n += dataSize(c.Data())
	}
	return n
}

func dataSize(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataSize(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		n += dataSize(d.Dictionary())
	}
	return n
}
