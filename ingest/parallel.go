package ingest

import (
	"context"
	"errors"
	"iter"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// writeFiles writes records as data files of tbl and returns them with the
// rows written. An unpartitioned table gets up to writers files encoded at
// once: arrow-go encodes a file on one core, so one writer per core is what
// uses the machine. The first batch goes to the first writer, the second
// to the second, and so on round robin; a writer starts with its first
// batch, so small inputs still make one file. On error every file written
// is returned too, for the caller to discard.
func writeFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], writers int) ([]iceberg.DataFile, int64, error) {
	var rows int64
	counted := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range records {
			if err == nil {
				rows += rec.NumRows()
			}
			if !yield(rec, err) {
				return
			}
		}
	}
	if writers <= 1 || !tbl.Spec().IsUnpartitioned() {
		var files []iceberg.DataFile
		for df, err := range table.WriteRecords(ctx, tbl, sc, counted) {
			if err != nil {
				return files, rows, err
			}
			files = append(files, df)
		}
		return files, rows, nil
	}
	files, err := dealt(ctx, tbl, sc, counted, writers)
	return files, rows, err
}

// fileWriter is one of dealt's writers: a WriteRecords over the batches
// sent to in.
type fileWriter struct {
	in    chan arrow.RecordBatch
	files []iceberg.DataFile
	err   error
}

func (w *fileWriter) run(ctx context.Context, cancel context.CancelFunc, tbl *table.Table, sc *arrow.Schema) {
	batches := func(yield func(arrow.RecordBatch, error) bool) {
		for rec := range w.in {
			if !yield(rec, nil) {
				return
			}
		}
	}
	for df, err := range table.WriteRecords(ctx, tbl, sc, batches) {
		if err != nil {
			w.err = err
			cancel()
			break
		}
		w.files = append(w.files, df)
	}
	for rec := range w.in { // whatever the writer did not take
		rec.Release()
	}
}

func dealt(ctx context.Context, tbl *table.Table, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], n int) ([]iceberg.DataFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ws []*fileWriter
	var feedErr error
	next := 0
	for rec, err := range records {
		if err != nil {
			feedErr = err
			break
		}
		if len(ws) < n {
			w := &fileWriter{in: make(chan arrow.RecordBatch, 1)}
			ws = append(ws, w)
			wg.Go(func() { w.run(ctx, cancel, tbl, sc) })
		}
		w := ws[next%len(ws)]
		next++
		select {
		case w.in <- rec:
			continue
		case <-ctx.Done():
			rec.Release()
			feedErr = ctx.Err()
		}
		break
	}
	for _, w := range ws {
		close(w.in)
	}
	wg.Wait()
	var files []iceberg.DataFile
	errs := []error{}
	for _, w := range ws {
		files = append(files, w.files...)
		if w.err != nil {
			errs = append(errs, w.err)
		}
	}
	if len(errs) > 0 {
		return files, errors.Join(errs...)
	}
	return files, feedErr
}
