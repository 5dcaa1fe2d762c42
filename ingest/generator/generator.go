// Package generator produces deterministic, realistic synthetic e-commerce
// data as Arrow record batches: customers, products, orders, order items and
// a clickstream of events. `lakehouse up` loads it into the raw zone, and tests
// and benchmarks use it as a known dataset whose figures ([Summarize]) can be
// compared with what a query engine reads back.
//
// The same [Spec] always yields byte-identical data: every table draws from
// its own PCG stream seeded from Spec.Seed, and BatchRows changes only where
// batches split.
package generator

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Table is one generated table.
type Table struct {
	// Name is one of customers, products, orders, order_items, events.
	Name   string
	Schema *arrow.Schema
	// Records hold at most Spec.BatchRows rows each; the Table owns them.
	Records []arrow.RecordBatch
}

// Release releases every record batch. It is safe to call more than once.
func (t *Table) Release() {
	for _, r := range t.Records {
		r.Release()
	}
	t.Records = nil
}

// NumRows is the total number of rows across the table's record batches.
func (t *Table) NumRows() int64 {
	var n int64
	for _, r := range t.Records {
		n += r.NumRows()
	}
	return n
}

// Salts give each table its own random stream, so changing one table's size
// (say EventsPerOrder) leaves the rows of the tables it does not feed alone.
const (
	saltCustomers uint64 = iota + 1
	saltProducts
	saltOrders
	saltEvents
)

const (
	microsPerSecond = int64(1_000_000)
	microsPerHour   = 3600 * microsPerSecond
	microsPerDay    = 24 * microsPerHour
)

// Generate builds all five tables in dependency order (customers, products,
// orders, order_items, events) from spec after applying its defaults. A nil
// mem means memory.DefaultAllocator. The caller releases the tables.
func Generate(mem memory.Allocator, spec Spec) ([]*Table, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("validating spec: %w", err)
	}
	spec = spec.WithDefaults()
	if mem == nil {
		mem = memory.DefaultAllocator
	}

	v := newVocab()
	w := window{start: spec.Start.UnixMicro()}
	w.end = w.start + int64(spec.Days)*microsPerDay

	custs := genCustomers(stream(spec.Seed, saltCustomers), v, spec.Customers, w)
	prods := genProducts(stream(spec.Seed, saltProducts), v, spec.Products, w)
	orders, items := genOrders(stream(spec.Seed, saltOrders), spec, w, custs, prods)
	events := genEvents(stream(spec.Seed, saltEvents), v, spec, w, custs, prods, orders, items)

	return []*Table{
		buildCustomers(mem, spec.BatchRows, custs),
		buildProducts(mem, spec.BatchRows, prods, v),
		buildOrders(mem, spec.BatchRows, custs, orders),
		buildOrderItems(mem, spec.BatchRows, prods, orders, items),
		buildEvents(mem, spec.BatchRows, custs, prods, events),
	}, nil
}

func stream(seed int64, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), salt))
}

// window is the half-open order time range [start, end) in Unix microseconds.
type window struct {
	start, end int64
}

// batchWriter appends rows to a RecordBuilder and cuts a record batch every
// maxRows rows.
type batchWriter struct {
	b       *array.RecordBuilder
	maxRows int
	inBatch int // rows in the batch being built
	left    int // rows not yet appended
	recs    []arrow.RecordBatch
	// strBytes estimates the bytes per row of each string column (by field
	// index; 0 for other columns) so data buffers are sized once per batch
	// instead of doubling their way up.
	strBytes []int
}

func newBatchWriter(mem memory.Allocator, sc *arrow.Schema, maxRows, totalRows int, strBytes ...int) *batchWriter {
	w := &batchWriter{b: array.NewRecordBuilder(mem, sc), maxRows: maxRows, left: totalRows, strBytes: strBytes}
	w.reserve()
	return w
}

func (w *batchWriter) reserve() {
	n := min(w.maxRows, w.left)
	w.b.Reserve(n)
	for i, per := range w.strBytes {
		if sb, ok := w.b.Field(i).(*array.StringBuilder); ok && per > 0 {
			sb.ReserveData(per * n)
		}
	}
}

// endRow marks the current row complete; every column must have had exactly
// one value appended since the previous call.
func (w *batchWriter) endRow() {
	w.inBatch++
	w.left--
	if w.inBatch == w.maxRows {
		w.flush()
		if w.left > 0 {
			w.reserve()
		}
	}
}

func (w *batchWriter) flush() {
	if w.inBatch > 0 {
		w.recs = append(w.recs, w.b.NewRecordBatch())
		w.inBatch = 0
	}
}

func (w *batchWriter) table(name string) *Table {
	w.flush()
	sc := w.b.Schema()
	w.b.Release()
	return &Table{Name: name, Schema: sc, Records: w.recs}
}

// formatID renders prefix followed by n zero-padded to width digits, the
// shape of every generated key ("c-000001"). Wider numbers are not cut.
func formatID(prefix string, n, width int) string {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(n), 10)
	var buf [48]byte
	b := append(buf[:0], prefix...)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return string(append(b, d...))
}

// money converts cents to the float64 amounts stored in orders, order items
// and events. Division by 100 gives the double nearest to the decimal value,
// which is what a query engine parsing "12.34" would hold too.
func money(cents int64) float64 {
	return float64(cents) / 100
}
