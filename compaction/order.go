package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	goslices "slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// writeBatchRows is how many rows each batch handed to the writer holds.
const writeBatchRows = 64 * 1024

// writeOrdered reads a group's rows with deletes applied, orders them as
// the policy says (sort, z-order, or as read), and writes them with the
// table's current spec, so it also serves partition evolution. The
// group's rows are held in memory: a group is about one target file.
func writeOrdered(ctx context.Context, tbl *table.Table, g group, p policy.Policy, scanConcurrency, writers int) (table.CompactionGroupResult, error) {
	res := table.CompactionGroupResult{PartitionKey: g.key, BytesBefore: g.bytes}
	var scanOpts []table.ScanOption
	if scanConcurrency > 0 {
		scanOpts = append(scanOpts, table.WithMaxConcurrency(scanConcurrency))
	}
	sc, recs, err := tbl.Scan(scanOpts...).ReadTasks(ctx, g.tasks)
	if err != nil {
		return res, fmt.Errorf("reading group %s: %w", g.key, err)
	}
	rec, err := collect(sc, recs)
	if err != nil {
		return res, fmt.Errorf("reading group %s: %w", g.key, err)
	}
	defer rec.Release()
	perm, err := permutation(rec, p)
	if err != nil {
		return res, err
	}
	wtbl := tbl
	if perm != nil {
		wtbl = writtenInOrder(tbl)
	}
	// A Parquet writer encodes on one core: a large group is written as
	// consecutive runs of its ordered rows, one file per core at once,
	// each gathering its rows a batch at a time.
	parts := max(1, min(writers, int(g.bytes/minSplitBytes)))
	per := (rec.NumRows() + int64(parts) - 1) / int64(parts)
	files := make([][]iceberg.DataFile, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := min(int64(i)*per, rec.NumRows()), min(int64(i+1)*per, rec.NumRows())
		wg.Go(func() {
			batches := chunks(rec, lo, hi)
			if perm != nil {
				batches = gathered(ctx, rec, perm[lo:hi])
			}
			for df, err := range table.WriteRecords(ctx, wtbl, sc, batches, table.WithTargetFileSize(int64(p.TargetFileSize))) {
				if err != nil {
					errs[i] = err
					return
				}
				files[i] = append(files[i], df)
			}
		})
	}
	wg.Wait()
	for _, fs := range files {
		for _, df := range fs {
			res.NewDataFiles = append(res.NewDataFiles, df)
			res.BytesAfter += df.FileSizeBytes()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("writing group %s: %w", g.key, err)
	}
	for _, t := range g.tasks {
		res.OldDataFiles = append(res.OldDataFiles, t.File)
	}
	res.SafeDeletionVectors = table.CollectSafeDeletionVectors(g.tasks)
	return res, nil
}

// collect concatenates a record stream into one record.
func collect(sc *arrow.Schema, recs iter.Seq2[arrow.RecordBatch, error]) (arrow.RecordBatch, error) {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for r, err := range recs {
		if err != nil {
			return nil, err
		}
		batches = append(batches, r)
	}
	if len(batches) == 0 {
		return array.NewRecordBatch(sc, emptyColumns(sc), 0), nil
	}
	cols := make([]arrow.Array, sc.NumFields())
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(batches))
		for j, b := range batches {
			parts[j] = b.Column(i)
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			for _, done := range cols[:i] {
				done.Release()
			}
			return nil, fmt.Errorf("concatenating column %s: %w", sc.Field(i).Name, err)
		}
		cols[i] = c
	}
	rec := array.NewRecordBatch(sc, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func emptyColumns(sc *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, sc.NumFields())
	for i, f := range sc.Fields() {
		cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
	}
	return cols
}

// take gathers rec's rows at perm, in that order (a permutation of them,
// or of a part).
func take(ctx context.Context, rec arrow.RecordBatch, perm []int) (arrow.RecordBatch, error) {
	var idx arrow.Array // for Arrow's take kernel, built once if needed
	defer func() {
		if idx != nil {
			idx.Release()
		}
	}()
	cols := make([]arrow.Array, rec.NumCols())
	release := func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}
	for i := range cols {
		if c, ok := gatherVarBinary(rec.Column(i), perm); ok {
			cols[i] = c
			continue
		}
		if idx == nil {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			b.Reserve(len(perm))
			for _, row := range perm {
				b.UnsafeAppend(int64(row))
			}
			idx = b.NewInt64Array()
			b.Release()
		}
		c, err := compute.TakeArray(ctx, rec.Column(i), idx)
		if err != nil {
			release()
			return nil, err
		}
		cols[i] = c
	}
	out := array.NewRecordBatch(rec.Schema(), cols, int64(len(perm)))
	release()
	return out, nil
}

// gatherVarBinary gathers a string or binary column's rows at perm into
// buffers sized once; ok is false for other types. Arrow's take kernel
// grows its buffers by doubling as it goes, which on wide text columns
// costs more than the copying itself.
func gatherVarBinary(a arrow.Array, perm []int) (_ arrow.Array, ok bool) {
	d := a.Data()
	var bufs []*memory.Buffer
	switch a.(type) {
	case *array.String, *array.Binary:
		offs, vals := gatherBytes(arrow.Int32Traits.CastFromBytes(d.Buffers()[1].Bytes()), d, perm)
		bufs = []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(vals)}
	case *array.LargeString, *array.LargeBinary:
		offs, vals := gatherBytes(arrow.Int64Traits.CastFromBytes(d.Buffers()[1].Bytes()), d, perm)
		bufs = []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(offs)), memory.NewBufferBytes(vals)}
	default:
		return nil, false
	}
	nulls := 0
	if a.NullN() > 0 {
		valid := make([]byte, bitutil.BytesForBits(int64(len(perm))))
		for k, row := range perm {
			if a.IsValid(row) {
				bitutil.SetBit(valid, k)
			} else {
				nulls++
			}
		}
		bufs[0] = memory.NewBufferBytes(valid)
	}
	out := array.NewData(a.DataType(), len(perm), bufs, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out), true
}

// gatherBytes copies the values of d's rows at perm, given d's offsets
// buffer, into new offsets and values sized once.
func gatherBytes[O int32 | int64](offsets []O, d arrow.ArrayData, perm []int) ([]O, []byte) {
	offsets = offsets[d.Offset():]
	values := d.Buffers()[2].Bytes()
	var size O
	for _, row := range perm {
		size += offsets[row+1] - offsets[row]
	}
	outOffs := make([]O, len(perm)+1)
	outVals := make([]byte, size)
	var at O
	for k, row := range perm {
		at += O(copy(outVals[at:], values[offsets[row]:offsets[row+1]]))
		outOffs[k+1] = at
	}
	return outOffs, outVals
}

// chunks yields rec's rows lo to hi in batches the writer takes
// ownership of.
func chunks(rec arrow.RecordBatch, lo, hi int64) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for ; lo < hi; lo += writeBatchRows {
			if !yield(rec.NewSlice(lo, min(lo+writeBatchRows, hi)), nil) {
				return
			}
		}
	}
}

// gathered yields rec's rows at perm, in that order, in batches the
// writer takes ownership of. Gathering a batch at a time keeps the copy
// in memory the heap reuses, instead of a second copy of the group.
func gathered(ctx context.Context, rec arrow.RecordBatch, perm []int) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for lo := 0; lo < len(perm); lo += writeBatchRows {
			b, err := take(ctx, rec, perm[lo:min(lo+writeBatchRows, len(perm))])
			if err != nil {
				yield(nil, fmt.Errorf("ordering rows: %w", err))
				return
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// writtenInOrder is tbl for writing rows compaction has ordered already:
// iceberg-go's writer sorts every batch by the table's declared sort
// order on its own, which on ordered rows changes nothing and costs a
// sort and a copy of each batch. Its files are committed through tbl; a
// table without the unsorted order (id 0) is returned as it is.
func writtenInOrder(tbl *table.Table) *table.Table {
	if tbl.SortOrder().IsUnsorted() {
		return tbl
	}
	b, err := table.MetadataBuilderFromBase(tbl.Metadata(), tbl.MetadataLocation())
	if err != nil {
		return tbl
	}
	if err := b.SetDefaultSortOrderID(table.UnsortedSortOrderID); err != nil {
		return tbl
	}
	meta, err := b.Build()
	if err != nil {
		return tbl
	}
	return table.New(tbl.Identifier(), meta, tbl.MetadataLocation(), tbl.FS, nil)
}

// permutation is the row order the policy asks for; nil keeps rec's order.
func permutation(rec arrow.RecordBatch, p policy.Policy) ([]int, error) {
	cols, zorder := p.Sort, false
	if len(p.ZOrder) > 0 {
		cols, zorder = p.ZOrder, true
	}
	if len(cols) == 0 || rec.NumRows() < 2 {
		return nil, nil
	}
	cmps := make([]func(i, j int) int, len(cols))
	for k, name := range cols {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: %q", ErrUnknownColumn, name)
		}
		c, err := comparator(rec.Column(idx[0]))
		if err != nil {
			return nil, fmt.Errorf("ordering by %q: %w", name, err)
		}
		cmps[k] = c
	}
	n := int(rec.NumRows())
	if zorder {
		return zOrder(n, cmps), nil
	}
	perm := identity(n)
	sortStable(perm, func(i, j int) int {
		for _, c := range cmps {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	})
	return perm, nil
}

func identity(n int) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	return perm
}

func sortStable(perm []int, c func(i, j int) int) {
	goslices.SortStableFunc(perm, c)
}

// zOrder orders rows along a Z curve: each column's value is replaced by
// its rank among the rows (so any comparable type works and skewed
// values spread evenly), scaled to the bits one column gets of a 64-bit
// key, and the bits of all columns are interleaved, most significant
// first.
func zOrder(n int, cmps []func(i, j int) int) []int {
	bits := 64 / len(cmps)
	scaled := make([][]uint64, len(cmps))
	for k, c := range cmps {
		perm := identity(n)
		goslices.SortStableFunc(perm, c)
		ranks := make([]uint64, n)
		var rank uint64
		for i, row := range perm {
			if i > 0 && c(perm[i-1], row) != 0 {
				rank++
			}
			ranks[row] = rank
		}
		maxScaled := uint64(1)<<bits - 1
		for row := range ranks {
			if rank > 0 {
				ranks[row] = uint64(float64(ranks[row]) / float64(rank) * float64(maxScaled))
			}
		}
		scaled[k] = ranks
	}
	keys := make([]uint64, n)
	for row := range keys {
		var key uint64
		for b := bits - 1; b >= 0; b-- {
			for k := range scaled {
				key = key<<1 | (scaled[k][row]>>b)&1
			}
		}
		keys[row] = key
	}
	perm := identity(n)
	goslices.SortStableFunc(perm, func(i, j int) int { return cmp.Compare(keys[i], keys[j]) })
	return perm
}

var errUnorderable = errors.New("column type cannot be ordered")

// comparator compares two rows of a column, nulls first.
func comparator(a arrow.Array) (func(i, j int) int, error) {
	switch a := a.(type) {
	case *array.Int8:
		return ordered(a, a.Value), nil
	case *array.Int16:
		return ordered(a, a.Value), nil
	case *array.Int32:
		return ordered(a, a.Value), nil
	case *array.Int64:
		return ordered(a, a.Value), nil
	case *array.Uint8:
		return ordered(a, a.Value), nil
	case *array.Uint16:
		return ordered(a, a.Value), nil
	case *array.Uint32:
		return ordered(a, a.Value), nil
	case *array.Uint64:
		return ordered(a, a.Value), nil
	case *array.Float32:
		return ordered(a, a.Value), nil
	case *array.Float64:
		return ordered(a, a.Value), nil
	case *array.String:
		return ordered(a, a.Value), nil
	case *array.LargeString:
		return ordered(a, a.Value), nil
	case *array.Binary:
		return ordered(a, func(i int) string { return string(a.Value(i)) }), nil
	case *array.Date32:
		return ordered(a, func(i int) int32 { return int32(a.Value(i)) }), nil
	case *array.Date64:
		return ordered(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Timestamp:
		return ordered(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Time64:
		return ordered(a, func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Boolean:
		return ordered(a, func(i int) int {
			if a.Value(i) {
				return 1
			}
			return 0
		}), nil
	case *array.Decimal128:
		return func(i, j int) int {
			if r, done := nullsFirst(a, i, j); done {
				return r
			}
			return a.Value(i).Cmp(a.Value(j))
		}, nil
	}
	return nil, fmt.Errorf("%w: %s", errUnorderable, a.DataType())
}

func ordered[T cmp.Ordered](a arrow.Array, v func(int) T) func(i, j int) int {
	return func(i, j int) int {
		if r, done := nullsFirst(a, i, j); done {
			return r
		}
		return cmp.Compare(v(i), v(j))
	}
}

func nullsFirst(a arrow.Array, i, j int) (int, bool) {
	ni, nj := a.IsNull(i), a.IsNull(j)
	switch {
	case ni && nj:
		return 0, true
	case ni:
		return -1, true
	case nj:
		return 1, true
	}
	return 0, false
}

// sortOrderOf is the Iceberg sort order of p's sort columns (ascending,
// nulls first); ok is false when p does not sort.
func sortOrderOf(sc *iceberg.Schema, p policy.Policy) (table.SortOrder, bool, error) {
	if len(p.Sort) == 0 {
		return table.SortOrder{}, false, nil
	}
	fields := make([]table.SortField, 0, len(p.Sort))
	for _, name := range p.Sort {
		f, ok := sc.FindFieldByName(name)
		if !ok {
			return table.SortOrder{}, false, fmt.Errorf("%w: %q", ErrUnknownColumn, name)
		}
		fields = append(fields, table.SortField{SourceIDs: []int{f.ID}, Transform: iceberg.IdentityTransform{}, Direction: table.SortASC, NullOrder: table.NullsFirst})
	}
	order, err := table.NewSortOrder(1, fields)
	if err != nil {
		return table.SortOrder{}, false, fmt.Errorf("building sort order: %w", err)
	}
	return order, true, nil
}

// withDeclaredSort fills in the table's own sort order when the policy
// names neither sort nor z-order columns, so that compaction writes files
// in the order the table declares, as the engines that honour it do. It
// takes the orders compaction can write (identity transforms, ascending,
// nulls first); for any other it returns p unchanged and why.
func withDeclaredSort(tbl *table.Table, p policy.Policy) (policy.Policy, string) {
	order := tbl.SortOrder()
	if len(p.Sort) > 0 || len(p.ZOrder) > 0 || order.IsUnsorted() {
		return p, ""
	}
	var cols []string
	for _, f := range order.Fields() {
		_, identity := f.Transform.(iceberg.IdentityTransform)
		if len(f.SourceIDs) != 1 || !identity || f.Direction != table.SortASC || f.NullOrder != table.NullsFirst {
			return p, fmt.Sprintf("the table's sort order %s has a field compaction cannot write (only identity, ascending, nulls first); files are bin-packed unsorted", order)
		}
		name, ok := tbl.Schema().FindColumnName(f.SourceIDs[0])
		if !ok {
			return p, fmt.Sprintf("the table's sort order %s names column id %d, which the schema lacks; files are bin-packed unsorted", order, f.SourceIDs[0])
		}
		cols = append(cols, name)
	}
	p.Sort = cols
	return p, ""
}
