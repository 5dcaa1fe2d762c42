package files_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// agg is one aggregate over one column, computed on an independent reading
// of the file and on the landed table.
type agg struct{ op, col string }

func TestLandingRealCSVFilesMatchesAnIndependentReading(t *testing.T) {
	sink := stackSink(t)
	tests := []struct {
		name, file, table string
		crOnly            bool // the file ends lines with a lone CR
		quarantined       int64
		aggs              []agg
	}{
		{"olist customers", "olist/sample/olist_customers_dataset.csv", "olist_customers", false, 0,
			[]agg{{"distinct", "customer_unique_id"}, {"distinct", "customer_zip_code_prefix"}}},
		{"olist geolocation", "olist/sample/olist_geolocation_dataset.csv", "olist_geolocation", false, 0,
			[]agg{{"sumFloat", "geolocation_lat"}, {"distinct", "geolocation_zip_code_prefix"}}},
		{"olist order items", "olist/sample/olist_order_items_dataset.csv", "olist_order_items", false, 0,
			[]agg{{"sumFloat", "price"}, {"sumInt", "order_item_id"}}},
		{"olist payments", "olist/sample/olist_order_payments_dataset.csv", "olist_payments", false, 0,
			[]agg{{"sumFloat", "payment_value"}, {"sumInt", "payment_installments"}}},
		{"olist reviews with CRLF and line breaks inside quotes", "olist/sample/olist_order_reviews_dataset.csv", "olist_reviews", false, 0,
			[]agg{{"sumInt", "review_score"}, {"textLen", "review_comment_message"}, {"nonEmpty", "review_comment_title"}}},
		{"olist orders", "olist/sample/olist_orders_dataset.csv", "olist_orders", false, 0,
			[]agg{{"nonEmpty", "order_delivered_customer_date"}, {"distinct", "order_status"}}},
		{"olist products", "olist/sample/olist_products_dataset.csv", "olist_products", false, 0,
			[]agg{{"sumInt", "product_weight_g"}, {"nonEmpty", "product_category_name"}}},
		{"olist sellers", "olist/sample/olist_sellers_dataset.csv", "olist_sellers", false, 0,
			[]agg{{"distinct", "seller_zip_code_prefix"}}},
		{"olist category translation", "olist/sample/product_category_name_translation.csv", "olist_category_translation", false, 0,
			[]agg{{"distinct", "product_category_name_english"}}},
		{"olist full category translation with a byte-order mark, CRLF and no final line break", "olist/full/product_category_name_translation.csv", "olist_full_category_translation", false, 0,
			[]agg{{"distinct", "product_category_name"}}},
		{"olist full sellers with quoted header names", "olist/full/olist_sellers_dataset.csv", "olist_full_sellers", false, 0,
			[]agg{{"distinct", "seller_id"}}},
		{"rees46 clickstream with zoned timestamps", "clickstream/rees46_2019-10_head.csv", "clickstream", false, 0,
			[]agg{{"sumFloat", "price"}, {"distinct", "user_session"}, {"sumInt", "user_id"}, {"nonEmpty", "brand"}}},
		{"online retail with CR endings and a truncated last line", "online_retail/online_retail_head_cr_endings.csv", "online_retail_head", true, 1,
			[]agg{{"sumInt", "Quantity"}, {"nonEmpty", "CustomerID"}, {"distinct", "InvoiceNo"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dataset(t, tt.file)
			header, records := readCSVIndependently(t, path, tt.crOnly)
			var complete [][]string
			for _, r := range records {
				if len(r) == len(header) {
					complete = append(complete, r)
				}
			}
			ident := table.Identifier{"raw", tt.table}
			rep := land(t, sink, files.Config{Table: ident}, path)[0]
			if rep.Received != int64(len(records)) || rep.Accepted+rep.Quarantined != rep.Received ||
				rep.Quarantined != tt.quarantined || rep.Accepted != int64(len(complete)) {
				t.Fatalf("report %+v; independent reading: %d records, %d complete; want %d quarantined", rep.Report, len(records), len(complete), tt.quarantined)
			}
			landed := scan(t, sink, ident)
			defer landed.Release()
			if landed.NumRows() != int64(len(complete)) {
				t.Fatalf("table holds %d rows, independent reading %d", landed.NumRows(), len(complete))
			}
			if names := sourceColumns(landed.Schema()); !reflect.DeepEqual(names, header) {
				t.Fatalf("columns %q, header %q", names, header)
			}
			for _, a := range tt.aggs {
				want := aggregateRecords(t, header, complete, a)
				got := aggregateTable(t, landed, a)
				if !near(got, want) {
					t.Errorf("%s(%s): landed %v, independent %v", a.op, a.col, got, want)
				}
			}
			checkLineage(t, landed, rep)
			q := scan(t, sink, ingest.QuarantineTable(ident))
			defer q.Release()
			if q.NumRows() != tt.quarantined {
				t.Fatalf("quarantine holds %d rows, want %d", q.NumRows(), tt.quarantined)
			}
			if tt.quarantined > 0 {
				checkTruncatedLastLine(t, q, records[len(records)-1], len(records)+1)
			}
			checkRerunLandsNothing(t, sink, ident, path, rep)
		})
	}
}

func TestLandingOnlineRetailParquetKeepsColumnsAndTypes(t *testing.T) {
	sink := stackSink(t)
	tests := []struct {
		name, file, table, price, customer string
		rows                               int64
	}{
		{"Online Retail 2010-2011", "online_retail/online_retail_2010-2011.parquet", "online_retail", "UnitPrice", "CustomerID", 541909},
		{"Online Retail II 2009-2010 with a column name with a space", "online_retail/online_retail_II_2009-2010.parquet", "online_retail_ii", "Price", "Customer ID", 525461},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dataset(t, tt.file)
			want := readParquetIndependently(t, path)
			defer want.Release()
			if want.NumRows() != tt.rows {
				t.Fatalf("pqarrow reads %d rows, the dataset README says %d", want.NumRows(), tt.rows)
			}
			ident := table.Identifier{"raw", tt.table}
			rep := land(t, sink, files.Config{Table: ident}, path)[0]
			if rep.Received != tt.rows || rep.Accepted != tt.rows || rep.Quarantined != 0 {
				t.Fatalf("report %+v, want %d rows accepted", rep.Report, tt.rows)
			}
			landed := scan(t, sink, ident)
			defer landed.Release()
			if landed.NumRows() != tt.rows {
				t.Fatalf("table holds %d rows, want %d", landed.NumRows(), tt.rows)
			}
			for i, f := range want.Schema().Fields() {
				got := landed.Schema().Field(i)
				if got.Name != f.Name || !arrow.TypeEqual(got.Type, f.Type) {
					t.Errorf("column %d is %s %s, the file's is %s %s", i, got.Name, got.Type, f.Name, f.Type)
				}
			}
			for _, a := range []agg{{"sumInt", "Quantity"}, {"sumFloat", tt.price}, {"nulls", tt.customer}, {"distinct", "StockCode"}} {
				if got, want := aggregateTable(t, landed, a), aggregateTable(t, want, a); !near(got, want) {
					t.Errorf("%s(%s): landed %v, pqarrow %v", a.op, a.col, got, want)
				}
			}
			checkLineage(t, landed, rep)
			checkRerunLandsNothing(t, sink, ident, path, rep)
		})
	}
}

// readCSVIndependently reads path with encoding/csv, told about the quirks
// it does not handle itself: a byte-order mark and lone-CR line endings.
func readCSVIndependently(t *testing.T, path string, crOnly bool) ([]string, [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if crOnly {
		b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all[0], all[1:]
}

func aggregateRecords(t *testing.T, header []string, records [][]string, a agg) float64 {
	t.Helper()
	col := -1
	for i, h := range header {
		if h == a.col {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no column %q in %q", a.col, header)
	}
	var sum float64
	seen := map[string]bool{}
	for _, r := range records {
		v := r[col]
		if v == "" {
			if a.op == "nulls" {
				sum++
			}
			continue
		}
		switch a.op {
		case "sumInt":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += float64(n)
		case "sumFloat":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += f
		case "distinct":
			seen[v] = true
		case "nonEmpty":
			sum++
		case "textLen":
			sum += float64(len(v))
		}
	}
	if a.op == "distinct" {
		return float64(len(seen))
	}
	return sum
}

// aggregateTable computes a on a table's column. Text keeps its line breaks
// as received; encoding/csv turns a quoted CRLF into LF, so textLen does too.
func aggregateTable(t *testing.T, tbl arrow.Table, a agg) float64 {
	t.Helper()
	idx := tbl.Schema().FieldIndices(a.col)
	if len(idx) == 0 {
		t.Fatalf("no column %q in %v", a.col, tbl.Schema())
	}
	var sum float64
	seen := map[string]bool{}
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for i := range chunk.Len() {
			if chunk.IsNull(i) {
				if a.op == "nulls" {
					sum++
				}
				continue
			}
			switch c := chunk.(type) {
			case *array.Int64:
				if a.op == "sumInt" {
					sum += float64(c.Value(i))
				}
			case *array.Float64:
				if a.op == "sumFloat" {
					sum += c.Value(i)
				}
			case *array.String:
				switch a.op {
				case "distinct":
					seen[c.Value(i)] = true
				case "textLen":
					sum += float64(len(strings.ReplaceAll(c.Value(i), "\r\n", "\n")))
				}
			}
			if a.op == "nonEmpty" {
				sum++
			}
		}
	}
	switch a.op {
	case "distinct":
		return float64(len(seen))
	case "nonEmpty", "nulls", "textLen", "sumInt", "sumFloat":
		return sum
	}
	t.Fatalf("aggregate %s on %s", a.op, a.col)
	return 0
}

func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func sourceColumns(sc *arrow.Schema) []string {
	var out []string
	for _, f := range sc.Fields() {
		if !strings.HasPrefix(f.Name, "_") {
			out = append(out, f.Name)
		}
	}
	return out
}

func checkLineage(t *testing.T, landed arrow.Table, rep files.Report) {
	t.Helper()
	src := distinctStrings(t, landed, ingest.ColSource)
	bid := distinctStrings(t, landed, ingest.ColBatchID)
	pos := distinctStrings(t, landed, ingest.ColSourcePosition)
	if len(src) != 1 || !strings.HasSuffix(firstKey(src), rep.Path[strings.LastIndex(rep.Path, "/"):]) {
		t.Errorf("%s: %v", ingest.ColSource, src)
	}
	if len(bid) != 1 || firstKey(bid) != rep.BatchID {
		t.Errorf("%s: %v, want %s", ingest.ColBatchID, bid, rep.BatchID)
	}
	if int64(len(pos)) != landed.NumRows() {
		t.Errorf("%d distinct source positions for %d rows", len(pos), landed.NumRows())
	}
}

func distinctStrings(t *testing.T, tbl arrow.Table, col string) map[string]bool {
	t.Helper()
	idx := tbl.Schema().FieldIndices(col)
	if len(idx) == 0 {
		t.Fatalf("no lineage column %s", col)
	}
	out := map[string]bool{}
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		s := chunk.(*array.String)
		for i := range s.Len() {
			out[s.Value(i)] = true
		}
	}
	return out
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func checkTruncatedLastLine(t *testing.T, q arrow.Table, last []string, line int) {
	t.Helper()
	row := map[string]string{}
	for i, f := range q.Schema().Fields() {
		row[f.Name] = q.Column(i).Data().Chunk(0).ValueStr(0)
	}
	if row["raw_payload"] != strings.Join(last, ",") || row["position"] != fmt.Sprintf("line %d", line) ||
		!strings.Contains(row["reason"], "truncated last record") {
		t.Fatalf("quarantined %q", row)
	}
}

// checkRerunLandsNothing lands the same file again: it must be skipped as
// a whole, and neither table may gain a snapshot.
func checkRerunLandsNothing(t *testing.T, sink *ingest.Sink, ident table.Identifier, path string, first files.Report) {
	t.Helper()
	before := snapshots(t, sink, ident)
	r := land(t, sink, files.Config{Table: ident}, path)[0]
	if r.Skipped != first.Received || r.Received != first.Received || r.Accepted != first.Accepted || r.Quarantined != first.Quarantined {
		t.Fatalf("re-run reported %+v, want all %d records skipped", r.Report, first.Received)
	}
	if after := snapshots(t, sink, ident); after != before {
		t.Fatalf("re-run added snapshots: %d before, %d after", before, after)
	}
}

func snapshots(t *testing.T, sink *ingest.Sink, ident table.Identifier) int {
	t.Helper()
	n := 0
	for _, id := range []table.Identifier{ident, ingest.QuarantineTable(ident)} {
		tbl, err := sink.Catalog().LoadTable(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		n += len(tbl.Metadata().Snapshots())
	}
	return n
}

func scan(t *testing.T, sink *ingest.Sink, ident table.Identifier) arrow.Table {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan().ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func readParquetIndependently(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestLandingJSONFilesQuarantinesWhatDoesNotFit(t *testing.T) {
	sink := stackSink(t)
	tests := []struct {
		name, file, content string
		sample              int
		accepted, rejected  int64
		reason              string
	}{
		{"NDJSON with a line whose value does not fit the type its first line set", "events.ndjson",
			"{\"id\":1,\"at\":\"2024-05-01T10:00:00Z\",\"tags\":[\"a\"]}\n{\"id\":2,\"at\":\"yesterday\"}\n{\"id\":3,\"at\":null}\n",
			1, 2, 1, `column "at": "yesterday" is not a valid timestamp with zone`},
		{"a JSON array cut off inside its last element", "orders.json",
			"[{\"order\":\"a\",\"total\":1.5},{\"order\":\"b\",\"total\":2},{\"order\":\"c\",\"tot",
			0, 2, 1, "truncated last record"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeText(t, tt.file, tt.content)
			ident := table.Identifier{"exploration", fmt.Sprintf("json_%d", i)}
			cfg := files.Config{Table: ident, Options: files.Options{SampleRows: tt.sample}}
			reps := land(t, sink, cfg, path)
			if r := reps[0]; r.Accepted != tt.accepted || r.Quarantined != tt.rejected || r.Received != tt.accepted+tt.rejected {
				t.Fatalf("report %+v", r.Report)
			}
			q := scan(t, sink, ingest.QuarantineTable(ident))
			defer q.Release()
			reason := q.Column(q.Schema().FieldIndices("reason")[0]).Data().Chunk(0).ValueStr(0)
			if q.NumRows() != tt.rejected || !strings.Contains(reason, tt.reason) {
				t.Fatalf("quarantine: %d rows, reason %q", q.NumRows(), reason)
			}
			checkRerunLandsNothing(t, sink, ident, path, reps[0])
		})
	}
}
