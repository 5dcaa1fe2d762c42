package compaction

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/trino"
)

// parts is the stack and Trino every integration test of the package
// shares (versitygw allows one gateway per process).
var parts stacktest.Env

// env is the stack (parts.Lake) and a sink on its catalog, by the names
// the tests use.
type env struct {
	lake *stack.Stack
	sink *ingest.Sink
}

var e env

var stressNoCompaction = flag.Bool("stress-no-compaction", false, "run TestStress's writers without compaction (to tell its races from the writers' own)")

var stressFor = flag.Duration("stress", 0, "how long TestStress runs (default 60s under CI, 20s otherwise)")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(stacktest.Run(m, &parts, stacktest.Options{
		Name:    "compaction",
		Short:   testing.Short(), // unit tests only; integration tests skip themselves
		Trino:   true,
		Timeout: 30 * time.Minute,
		Setup: func(ctx context.Context, env *stacktest.Env) error {
			e.lake = env.Lake
			var err error
			e.sink, err = ingest.Open(ctx, stacktest.Logger(), env.Lake.CatalogURL())
			return err
		},
	}))
}

// requireLake skips a test in -short mode or without Java (never under CI).
func requireLake(t *testing.T) {
	t.Helper()
	parts.Require(t)
}

// sql runs a statement on the test's Trino.
func sql(t *testing.T, stmt string) *trino.Result {
	t.Helper()
	return parts.SQL(t, stmt)
}

// fingerprint is the row count and an order-insensitive checksum of every
// column of zone.name, read through Trino; version 0 is the current one.
func fingerprint(t *testing.T, ident table.Identifier, version int64) string {
	t.Helper()
	cols := sql(t, fmt.Sprintf("SELECT column_name FROM lakehouse.information_schema.columns WHERE table_schema = '%s' AND table_name = '%s' ORDER BY ordinal_position", ident[0], ident[1]))
	sums := []string{"count(*)"}
	for _, r := range cols.Rows {
		sums = append(sums, fmt.Sprintf("to_hex(checksum(%q))", r[0]))
	}
	q := fmt.Sprintf("SELECT %s FROM lakehouse.%s.%s", strings.Join(sums, ", "), ident[0], ident[1])
	if version != 0 {
		q += fmt.Sprintf(" FOR VERSION AS OF %d", version)
	}
	res := sql(t, q)
	return fmt.Sprint(res.Rows[0])
}

// testSchema is the schema of the generated test tables.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "cat", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var testStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// rows builds ids [from, from+n): a category of five, a time one minute
// apart per id over a few days, an amount and a note on every third row.
func rows(from, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	for id := from; id < from+n; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append([]string{"books", "games", "garden", "music", "toys"}[(id*7)%5])
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(testStart.Add(time.Duration((id*37)%(3*24*60)) * time.Minute).UnixMicro()))
		b.Field(3).(*array.Float64Builder).Append(float64(id%1000) * 1.25)
		if id%3 == 0 {
			b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("note %d", id))
		} else {
			b.Field(4).(*array.StringBuilder).AppendNull()
		}
	}
	return b.NewRecordBatch()
}

// land appends files small files of perFile rows each to ident, one
// commit with a batch id each, and returns the table.
func land(t *testing.T, ident table.Identifier, files, perFile int, partitionBy ...string) *table.Table {
	t.Helper()
	ctx := context.Background()
	if _, err := e.sink.EnsureTable(ctx, ident, testSchema, ingest.PartitionBy(partitionBy...)); err != nil {
		t.Fatal(err)
	}
	for i := range files {
		rec := rows(int64(i*perFile), int64(perFile))
		_, err := e.sink.AppendOnce(ctx, ident, testSchema, []arrow.RecordBatch{rec}, batchID(ident, i))
		rec.Release()
		if err != nil {
			t.Fatalf("landing file %d: %v", i, err)
		}
	}
	return load(t, ident)
}

func batchID(ident table.Identifier, i int) string { return fmt.Sprintf("test/%s/%d", Name(ident), i) }

func load(t *testing.T, ident table.Identifier) *table.Table {
	t.Helper()
	tbl, err := e.sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// service returns a Service over the test catalog whose every table has
// the policy yaml sets (as defaults).
func service(t *testing.T, yaml string) *Service {
	t.Helper()
	set, err := policy.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(stacktest.Logger(), nil, e.sink.Catalog(), Config{Policies: set})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dataFiles counts the data files of the current snapshot.
func dataFiles(t *testing.T, tbl *table.Table) int {
	t.Helper()
	if tbl.CurrentSnapshot() == nil {
		return 0
	}
	tasks, err := tbl.Scan().PlanFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}

// unreferencedData lists data files under the table's location that no
// metadata references, whatever their age.
func unreferencedData(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	files, err := orphans(context.Background(), tbl, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.Contains(f.Path, "/data/") {
			out = append(out, f.Path)
		}
	}
	return out
}
