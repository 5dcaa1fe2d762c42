package files

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// parquetState is the resumable position of a Parquet source.
type parquetState struct {
	Rows int64 `json:"rows"`
}

// parquetSource reads a Parquet file with its own column types. Parquet is
// typed, so it has no rejects.
type parquetSource struct {
	pf     *file.Reader
	rr     pqarrow.RecordReader
	schema *arrow.Schema
	proj   []int // schema column → file column, -1 when the file lacks it
	total  int64
	state  parquetState
}

func openParquet(ctx context.Context, path string, declared *arrow.Schema, resume json.RawMessage, opts Options) (_ *parquetSource, err error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = pf.Close()
		}
	}()
	mem := memory.DefaultAllocator
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.batchRows())}, mem)
	if err != nil {
		return nil, fmt.Errorf("reading Parquet schema: %w", err)
	}
	fsc, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("reading Parquet schema: %w", err)
	}
	s := &parquetSource{pf: pf, total: pf.NumRows()}
	if s.schema, s.proj, err = project(fsc, declared, opts.Extend); err != nil {
		return nil, err
	}
	if len(resume) > 0 {
		if err := json.Unmarshal(resume, &s.state); err != nil {
			return nil, fmt.Errorf("reading resume position: %w", err)
		}
	}
	if s.rr, err = fr.GetRecordReader(ctx, nil, nil); err != nil {
		return nil, fmt.Errorf("reading Parquet row groups: %w", err)
	}
	if s.state.Rows > 0 {
		if err := s.rr.SeekToRow(s.state.Rows); err != nil {
			s.rr.Release()
			return nil, fmt.Errorf("seeking to row %d: %w", s.state.Rows, err)
		}
	}
	return s, nil
}

// project lines the file's columns up with the declared schema by name;
// declared columns the file lacks read as null. Without a
// declared schema it is the file's own, without Parquet field-id metadata
// (Iceberg assigns its own ids) and every column nullable.
func project(fsc, declared *arrow.Schema, extend bool) (*arrow.Schema, []int, error) {
	fields := make([]arrow.Field, fsc.NumFields())
	for i, f := range fsc.Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: stripMetadata(f.Type), Nullable: true}
	}
	if declared == nil {
		proj := make([]int, len(fields))
		for i := range proj {
			proj[i] = i
		}
		return arrow.NewSchema(fields, nil), proj, nil
	}
	if !extend {
		for _, f := range fields {
			idx := declared.FieldIndices(f.Name)
			if len(idx) == 0 {
				return nil, nil, fmt.Errorf("column %q of the file is not in the table's schema %v", f.Name, fieldNames(declared))
			}
			if want := declared.Field(idx[0]).Type; !arrow.TypeEqual(want, f.Type) {
				return nil, nil, fmt.Errorf("column %q is %s in the file but %s in the table", f.Name, f.Type, want)
			}
		}
	}
	// The table's columns come first, with the file's type where the file
	// has them (the landing widens the table or quarantines the file); the
	// file's other columns follow.
	out := declared.Fields()
	for i, f := range out {
		if idx := fsc.FieldIndices(f.Name); len(idx) > 0 {
			out[i].Type = fields[idx[0]].Type
		}
	}
	for _, f := range fields {
		if len(declared.FieldIndices(f.Name)) == 0 {
			out = append(out, f)
		}
	}
	proj := make([]int, len(out))
	for i, f := range out {
		proj[i] = -1
		if idx := fsc.FieldIndices(f.Name); len(idx) > 0 {
			proj[i] = idx[0]
		}
	}
	return arrow.NewSchema(out, nil), proj, nil
}

// stripMetadata rebuilds nested types without their children's metadata.
func stripMetadata(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.StructType:
		fields := make([]arrow.Field, t.NumFields())
		for i, f := range t.Fields() {
			fields[i] = arrow.Field{Name: f.Name, Type: stripMetadata(f.Type), Nullable: f.Nullable}
		}
		return arrow.StructOf(fields...)
	case *arrow.ListType:
		e := t.ElemField()
		return arrow.ListOfField(arrow.Field{Name: e.Name, Type: stripMetadata(e.Type), Nullable: e.Nullable})
	case *arrow.MapType:
		m := arrow.MapOf(stripMetadata(t.KeyType()), stripMetadata(t.ItemType()))
		m.KeysSorted = t.KeysSorted
		return m
	}
	return t
}

func (s *parquetSource) Schema() *arrow.Schema { return s.schema }

func (s *parquetSource) Progress() float64 {
	if s.total == 0 {
		return 1
	}
	return float64(s.state.Rows) / float64(s.total)
}

func (s *parquetSource) Close() error {
	s.rr.Release()
	return s.pf.Close()
}

func (s *parquetSource) Next(ctx context.Context) (ingest.Batch, error) {
	if err := ctx.Err(); err != nil {
		return ingest.Batch{}, err
	}
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil {
			return ingest.Batch{}, fmt.Errorf("reading Parquet rows after row %d: %w", s.state.Rows, err)
		}
		return ingest.Batch{}, io.EOF
	}
	rec := s.rr.RecordBatch()
	n := rec.NumRows()
	cols := make([]arrow.Array, len(s.proj))
	for i, p := range s.proj {
		if p < 0 {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, s.schema.Field(i).Type, int(n))
			defer cols[i].Release()
		} else {
			cols[i] = rec.Column(p)
		}
	}
	out := array.NewRecordBatch(s.schema, cols, n)
	positions := make([]string, n)
	for i := range positions {
		positions[i] = "row " + strconv.FormatInt(s.state.Rows+int64(i)+1, 10)
	}
	s.state.Rows += n
	pos, err := json.Marshal(s.state)
	if err != nil {
		out.Release()
		return ingest.Batch{}, err
	}
	return ingest.Batch{Records: out, Positions: positions, Position: pos}, nil
}
