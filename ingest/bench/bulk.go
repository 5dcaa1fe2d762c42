package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// Timing is one contender's repeated measurement of one dataset.
type Timing struct {
	Runs   []time.Duration // measured runs, warm-up excluded
	Output int64           // bytes written by the last run (Parquet files), 0 if unknown
}

// Median is the median of the runs.
func (t Timing) Median() time.Duration {
	if len(t.Runs) == 0 {
		return 0
	}
	s := slices.Clone(t.Runs)
	slices.Sort(s)
	return s[len(s)/2]
}

// records yields the dataset's batches retained: the Iceberg writer
// releases what it consumes, the dataset keeps its own.
func records(d *Dataset) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range d.Records {
			r.Retain()
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Ours lands the dataset into a fresh table per run (created before the
// clock starts) with Sink.Stage and CommitOnce in one commit, the path of
// the files source. runs counts the measured runs after one warm-up.
func Ours(ctx context.Context, sink *ingest.Sink, ns string, d *Dataset, prefix string, runs int, profile string) (Timing, error) {
	var t Timing
	for i := 0; i <= runs; i++ {
		ident := table.Identifier{ns, fmt.Sprintf("%s_ours_%d", prefix, i)}
		if _, err := sink.EnsureTable(ctx, ident, d.Schema); err != nil {
			return t, err
		}
		start := time.Now()
		if err := landOnce(ctx, sink, ident, d); err != nil {
			return t, err
		}
		if i > 0 {
			t.Runs = append(t.Runs, time.Since(start))
		}
	}
	if profile == "" {
		return t, nil
	}
	return t, profileOurs(ctx, sink, table.Identifier{ns, prefix + "_ours_profile"}, d, profile)
}

func landOnce(ctx context.Context, sink *ingest.Sink, ident table.Identifier, d *Dataset) error {
	batch := strconv.FormatInt(time.Now().UnixNano(), 36)
	st, err := sink.Stage(ctx, ident, d.Schema, records(d), batch, nil)
	if err != nil {
		return fmt.Errorf("staging %v: %w", ident, err)
	}
	res, err := sink.CommitOnce(ctx, st)
	if err != nil {
		return fmt.Errorf("committing %v: %w", ident, err)
	}
	if res[0].Rows != d.Rows {
		return fmt.Errorf("landing %v: committed %d rows, want %d", ident, res[0].Rows, d.Rows)
	}
	return nil
}

// profileOurs lands once more, outside the measured runs, under a CPU
// profile.
func profileOurs(ctx context.Context, sink *ingest.Sink, ident table.Identifier, d *Dataset, path string) (err error) {
	if _, err := sink.EnsureTable(ctx, ident, d.Schema); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating profile: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing profile: %w", cerr)
		}
	}()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("starting CPU profile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return landOnce(ctx, sink, ident, d)
}

// ParquetProps are the writer properties iceberg-go v0.7 uses for a table
// without write properties (table/internal GetWriteProperties with its
// defaults: zstd at the codec's default level, data page v2, 1 MiB pages,
// 20,000-row page batches, 2 MiB dictionary pages, dictionaries on with the
// cost-based fallback per leaf column, 1,048,576-row and 128 MiB row groups).
func ParquetProps(sc *arrow.Schema) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithMaxRowGroupLength(table.ParquetRowGroupLimitDefault),
		parquet.WithDataPageSize(table.ParquetPageSizeBytesDefault),
		parquet.WithDataPageVersion(parquet.DataPageV2),
		parquet.WithBatchSize(table.ParquetPageRowLimitDefault),
		parquet.WithDictionaryPageSizeLimit(table.ParquetDictSizeBytesDefault),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(table.ParquetCompressionLevelDefault),
		parquet.WithMaxBloomFilterBytes(table.ParquetBloomFilterMaxBytesDefault),
		parquet.WithDictionaryDefault(true),
	}
	for _, f := range sc.Fields() {
		props = append(props, parquet.WithDictionaryCostFallbackFor(f.Name, true))
	}
	return parquet.NewWriterProperties(props...)
}

// countingDiscard counts what the Parquet writer would have written.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// Bare encodes the dataset's batches to Parquet in memory (to a counting
// io.Discard) with ParquetProps, cutting row groups as iceberg-go does:
// the limit of any writer that has to produce these files.
func Bare(d *Dataset, runs, encoders int) (Timing, error) {
	if table.ParquetCompressionDefault != "zstd" {
		return Timing{}, fmt.Errorf("encoding Parquet: iceberg-go's default codec is %s, ParquetProps assumes zstd", table.ParquetCompressionDefault)
	}
	var t Timing
	for i := 0; i <= runs; i++ {
		start := time.Now()
		n, err := encodeDealt(d, encoders)
		if err != nil {
			return t, err
		}
		if i > 0 {
			t.Runs = append(t.Runs, time.Since(start))
			t.Output = n
		}
	}
	return t, nil
}

// encodeDealt encodes d's batches into n Parquet files at once, the
// batches dealt round robin as ingest's writers deal them, and returns the
// bytes encoded.
func encodeDealt(d *Dataset, n int) (int64, error) {
	if n <= 1 || len(d.Records) <= 1 {
		return encode(d.Schema, d.Records, io.Discard)
	}
	parts := make([][]arrow.RecordBatch, min(n, len(d.Records)))
	for i, r := range d.Records {
		parts[i%len(parts)] = append(parts[i%len(parts)], r)
	}
	sizes := make([]int64, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, recs := range parts {
		wg.Go(func() { sizes[i], errs[i] = encode(d.Schema, recs, io.Discard) })
	}
	wg.Wait()
	var total int64
	for _, s := range sizes {
		total += s
	}
	return total, errors.Join(errs...)
}

func encode(sc *arrow.Schema, recs []arrow.RecordBatch, dst io.Writer) (int64, error) {
	c := &countingDiscard{}
	w, err := pqarrow.NewFileWriter(sc, io.MultiWriter(dst, c), ParquetProps(sc),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.DefaultAllocator), pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, fmt.Errorf("encoding Parquet: %w", err)
	}
	for _, r := range recs {
		if r.NumRows() > 0 && w.RowGroupTotalBytesWritten() >= table.ParquetRowGroupSizeBytesDefault {
			if err := w.NewBufferedRowGroupChecked(); err != nil {
				return 0, fmt.Errorf("encoding Parquet: %w", err)
			}
		}
		if err := w.WriteBuffered(r); err != nil {
			return 0, fmt.Errorf("encoding Parquet: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("encoding Parquet: %w", err)
	}
	return c.n, nil
}

// PyResult is what testdata/pyappend.py prints.
type PyResult struct {
	Runs      []float64 `json:"runs"` // seconds, warm-up excluded
	Pyiceberg string    `json:"pyiceberg"`
	Pyarrow   string    `json:"pyarrow"`
	Python    string    `json:"python"`
}

// Pyiceberg writes the dataset to an Arrow IPC file (not timed), then runs
// script with python: it loads the catalog from its URI only, reads the
// file and times table.append into a fresh table per run, after one
// warm-up.
func Pyiceberg(ctx context.Context, python, script, catalogURI, ns, prefix, ipcPath string, d *Dataset, runs int) (Timing, PyResult, error) {
	var res PyResult
	if err := WriteIPC(d, ipcPath); err != nil {
		return Timing{}, res, err
	}
	defer os.Remove(ipcPath)
	cmd := exec.CommandContext(ctx, python, script, catalogURI, ipcPath, ns, prefix+"_py", strconv.Itoa(runs))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return Timing{}, res, fmt.Errorf("running pyiceberg append: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return Timing{}, res, fmt.Errorf("reading pyiceberg result %q: %w", out.String(), err)
	}
	var t Timing
	for _, s := range res.Runs {
		t.Runs = append(t.Runs, time.Duration(s*float64(time.Second)))
	}
	return t, res, nil
}
