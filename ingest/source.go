package ingest

import (
	"context"
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow"
)

// Source yields the records of one input as Arrow record batches, together
// with the records it could not accept. Implementations: files (CSV, JSON,
// Parquet); streams and plugins follow the same contract.
type Source interface {
	// Schema is the schema of every batch's Records, declared by the caller
	// or inferred by the source before the first batch.
	Schema() *arrow.Schema
	// Next returns the next step of the input, or io.EOF after the last one.
	Next(ctx context.Context) (Batch, error)
	// Close releases what the source holds.
	Close() error
}

// Batch is one step of a source: the records it accepted, the ones it
// rejected, and where the source stands afterwards.
type Batch struct {
	// Records holds the accepted records; nil when the step accepted none.
	// The receiver releases it.
	Records arrow.RecordBatch
	// Positions holds each accepted record's place in the input ("line 12",
	// "row 7"), row for row with Records.
	Positions []string
	// Rejects are the records of this step that failed to parse or validate.
	Rejects []Reject
	// Position is the source's state after this step: opaque JSON that the
	// source's constructor takes back to resume right after it.
	Position json.RawMessage
}

// Received is how many input records the step covered: accepted plus rejected.
func (b Batch) Received() int64 {
	n := int64(len(b.Rejects))
	if b.Records != nil {
		n += b.Records.NumRows()
	}
	return n
}

// Reject is an input record that a source could not accept.
type Reject struct {
	Position string // where the record starts in the input, e.g. "line 14596"
	Reason   string // why, in words a data engineer can act on
	Raw      []byte // the record's bytes as received
}
