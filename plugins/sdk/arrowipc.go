package sdk

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// EncodeSchema writes sc as an Arrow IPC stream without batches.
func EncodeSchema(sc *arrow.Schema) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding Arrow schema: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeSchema reads what EncodeSchema writes.
func DecodeSchema(b []byte) (*arrow.Schema, error) {
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decoding Arrow schema: %w", err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// EncodeRecord writes rec as an Arrow IPC stream of one batch, appending to
// dst (which may be nil).
func EncodeRecord(dst []byte, rec arrow.RecordBatch) ([]byte, error) {
	buf := bytes.NewBuffer(dst[:0])
	w := ipc.NewWriter(buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("encoding Arrow record batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding Arrow record batch: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeRecord reads the one batch of an IPC stream that EncodeRecord
// wrote. The caller releases it.
func DecodeRecord(mem memory.Allocator, b []byte) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("decoding Arrow record batch: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("decoding Arrow record batch: %w", err)
		}
		return nil, fmt.Errorf("decoding Arrow record batch: the IPC stream holds no batch")
	}
	rec := r.RecordBatch()
	rec.Retain()
	return rec, nil
}
