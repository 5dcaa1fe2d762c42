// Package files is the ingest source for files: CSV (and tab-separated),
// NDJSON, JSON arrays and Parquet, the format told by the file's extension.
// Text formats are typed by a sample of their records unless the schema is
// declared; records that do not fit become rejects with their reason and
// position. Land lands whole files exactly once, each under a batch id
// derived from its path, size and content.
package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// Format is a file format.
type Format string

// The formats Open reads.
const (
	CSV     Format = "csv"     // .csv; .tsv is the same with tabs
	NDJSON  Format = "ndjson"  // .ndjson, .jsonl: one JSON object per line
	JSON    Format = "json"    // .json: an array of objects, or objects one per line
	Parquet Format = "parquet" // .parquet, .parq
)

// ErrUnknownFormat is returned for a file whose extension names no format.
var ErrUnknownFormat = errors.New("unknown file format")

// FormatOf tells a file's format from its extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv":
		return CSV, nil
	case ".ndjson", ".jsonl":
		return NDJSON, nil
	case ".json":
		return JSON, nil
	case ".parquet", ".parq":
		return Parquet, nil
	}
	return "", fmt.Errorf("%w: %s (want .csv, .tsv, .ndjson, .jsonl, .json or .parquet)", ErrUnknownFormat, path)
}

// Options tune how files are read. The zero value is ready to use.
type Options struct {
	// SampleRows is how many records of a CSV or JSON file are inspected to
	// infer its schema. Default 10000.
	SampleRows int
	// BatchRows is the most records per batch. Default 65536.
	BatchRows int
	// Extend reads, besides a declared schema's columns, the file's other
	// columns (typed by inference; Parquet's as the file has them, its
	// declared columns too), so that a landing can evolve the table or
	// quarantine the file. Without it a declared schema is strict: a CSV
	// or Parquet column outside it fails the open, a JSON field outside it
	// rejects its record.
	Extend bool
}

func (o Options) sampleRows() int {
	if o.SampleRows > 0 {
		return o.SampleRows
	}
	return 10000
}

func (o Options) batchRows() int {
	if o.BatchRows > 0 {
		return o.BatchRows
	}
	return 65536
}

// Source is an ingest.Source over one file.
type Source interface {
	ingest.Source
	// Progress is the share of the file read so far, from 0 to 1.
	Progress() float64
}

// Open opens path as a source of the format its extension names. declared,
// when not nil, is the schema the records must have (columns matched by
// name); otherwise CSV and JSON are typed by inference over a sample and
// Parquet keeps its own types. resume, when not empty, is a Batch.Position
// of an earlier source over the same file: reading continues after it.
func Open(ctx context.Context, path string, declared *arrow.Schema, resume json.RawMessage, opts Options) (Source, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	var src Source
	switch format {
	case CSV:
		comma := byte(',')
		if strings.EqualFold(filepath.Ext(path), ".tsv") {
			comma = '\t'
		}
		src, err = openCSV(path, comma, declared, resume, opts)
	case NDJSON, JSON:
		src, err = openJSON(path, format, declared, resume, opts)
	case Parquet:
		src, err = openParquet(ctx, path, declared, resume, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return src, nil
}

// ID names one file's content for landing it exactly once.
type ID struct {
	Path   string // absolute
	Size   int64
	SHA256 string // of the content, hex
}

// Identify reads path to the end to hash it.
func Identify(path string) (ID, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ID{}, fmt.Errorf("resolving %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return ID{}, err
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	info, err := f.Stat()
	if err != nil {
		return ID{}, err
	}
	if info.IsDir() {
		return ID{}, fmt.Errorf("%s is a directory", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return ID{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return ID{Path: abs, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// BatchID is the batch id the file's data commit records: derived from its
// path, size and content hash, so the same file lands once and a changed
// file lands again.
func (id ID) BatchID() string {
	h := sha256.Sum256([]byte(id.Path + "\x00" + strconv.FormatInt(id.Size, 10) + "\x00" + id.SHA256))
	return "file/" + hex.EncodeToString(h[:16])
}
