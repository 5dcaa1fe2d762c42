package compaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// wholeReadLimit is the largest object a rewrite reads in one request.
const wholeReadLimit = 64 << 20

// wholeReads returns tbl reading every data file of at most
// wholeReadLimit bytes with one GET. The object-store IO answers each
// ReadAt with a ranged GET of its own, so a Parquet reader, which reads
// the footer and then every column chunk, costs a small file a dozen
// round trips and the object store a dozen requests; a rewrite reads
// every byte of its input anyway.
func wholeReads(tbl *table.Table) *table.Table {
	// Rewrites only read and write files through it; commits go through
	// the original table, so it needs no catalog.
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(),
		func(ctx context.Context) (iceio.IO, error) {
			fs, err := tbl.FS(ctx)
			if err != nil {
				return nil, err
			}
			w, ok := fs.(iceio.WriteFileIO)
			if !ok {
				return fs, nil
			}
			return wholeReadIO{WriteFileIO: w, limit: wholeReadLimit}, nil
		}, nil)
}

// wholeReadIO is a WriteFileIO whose Open reads small objects whole.
type wholeReadIO struct {
	iceio.WriteFileIO
	limit int64
}

func (w wholeReadIO) Open(name string) (iceio.File, error) {
	f, err := w.WriteFileIO.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || st.Size() > w.limit || st.Size() < 0 {
		return f, nil
	}
	buf := make([]byte, st.Size())
	_, err = io.ReadFull(f, buf)
	if cerr := f.Close(); err == nil && cerr != nil && !errors.Is(cerr, iofs.ErrClosed) {
		err = cerr
	}
	if err != nil {
		return nil, &iofs.PathError{Op: "read", Path: name, Err: fmt.Errorf("reading the object whole: %w", err)}
	}
	return memFile{Reader: bytes.NewReader(buf), info: st}, nil
}

// memFile is an object read into memory.
type memFile struct {
	*bytes.Reader
	info iofs.FileInfo
}

func (m memFile) Stat() (iofs.FileInfo, error) { return m.info, nil }
func (m memFile) Close() error                 { return nil }
