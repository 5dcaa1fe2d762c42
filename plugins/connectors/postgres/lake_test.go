package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/host"
	"github.com/lakehouse-go/lakehouse/plugins/internal/laketest"
)

// installed returns a host with the built plugin installed, and a sink.
func installed(t *testing.T) (*host.Host, *ingest.Sink) {
	t.Helper()
	needPostgres(t)
	sink := env.Sink(t)
	h := host.New(stacktest.Logger(), t.TempDir(), host.DefaultConfig())
	if _, err := h.Install(context.Background(), plugin); err != nil {
		t.Fatal(err)
	}
	return h, sink
}

// sourceRat runs a query returning one number as text.
func sourceRat(t *testing.T, sql string) *big.Rat {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("%s gave %q", sql, s)
	}
	return r
}

func execSQL(t *testing.T, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// aggregate is one figure compared between the lake and PostgreSQL.
type aggregate struct {
	table, column string
	lake          func(t *testing.T, values []any) *big.Rat
	sql           string
}

func count(_ *testing.T, v []any) *big.Rat { return big.NewRat(int64(len(v)), 1) }
func distinct(_ *testing.T, v []any) *big.Rat {
	return big.NewRat(int64(laketest.Distinct(v)), 1)
}
func sum(t *testing.T, v []any) *big.Rat { return laketest.Sum(t, v) }

func TestOlistLandsInRawWithCountsAndSumsEqualToPostgres(t *testing.T) {
	h, sink := installed(t)
	streams := []string{"orders", "order_items", "order_payments", "order_reviews", "customers", "order_facts"}
	rep, err := h.Run(context.Background(), sink, host.RunConfig{Plugin: "postgres", Config: config(t, 4000, streams...), TablePrefix: "olist_"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != len(streams) {
		t.Fatalf("report %+v, want %d streams", rep, len(streams))
	}
	for _, a := range []aggregate{
		{"orders", "order_id", count, "SELECT count(*)::text FROM orders"},
		{"orders", "order_id", distinct, "SELECT count(DISTINCT order_id)::text FROM orders"},
		{"order_items", "price", sum, "SELECT sum(price)::text FROM order_items"},
		{"order_items", "freight_value", sum, "SELECT sum(freight_value)::text FROM order_items"},
		{"order_items", "order_item_id", sum, "SELECT sum(order_item_id)::text FROM order_items"},
		{"order_payments", "payment_value", sum, "SELECT sum(payment_value)::text FROM order_payments"},
		{"order_reviews", "review_id", count, "SELECT count(*)::text FROM order_reviews"},
		{"order_reviews", "review_score", sum, "SELECT sum(review_score)::text FROM order_reviews"},
		{"customers", "customer_id", distinct, "SELECT count(DISTINCT customer_id)::text FROM customers"},
		{"order_facts", "item_count", sum, "SELECT sum(item_count)::text FROM order_facts"},
		{"order_facts", "total", sum, "SELECT sum(total)::text FROM order_facts"},
	} {
		got := a.lake(t, laketest.Column(t, sink, table.Identifier{"raw", "olist_" + a.table}, a.column))
		want := sourceRat(t, a.sql)
		if got.Cmp(want) != 0 {
			t.Errorf("%s.%s: lake has %s, PostgreSQL %s (%s)", a.table, a.column, got.RatString(), want.RatString(), a.sql)
		}
	}
}

func TestAnIncrementalRunLandsOnlyRowsPastTheCommittedCursor(t *testing.T) {
	h, sink := installed(t)
	execSQL(t, `CREATE TABLE orders_inc AS SELECT * FROM orders WHERE order_purchase_timestamp < '2018-01-01';
		ALTER TABLE orders_inc ADD PRIMARY KEY (order_id)`)
	raw := json.RawMessage(`{"dsn":` + quote(dsn) + `,"tables":["orders_inc"],"batch_size":1000,"incremental":{"orders_inc":"order_purchase_timestamp"}}`)
	cfg := host.RunConfig{Plugin: "postgres", Config: raw, TablePrefix: "inc_"}
	first, err := h.Run(context.Background(), sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, `INSERT INTO orders_inc SELECT * FROM orders WHERE order_purchase_timestamp >= '2018-01-01'`)
	second, err := h.Run(context.Background(), sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	late := sourceRat(t, "SELECT count(*)::text FROM orders WHERE order_purchase_timestamp >= '2018-01-01'")
	if second[0].Rows != late.Num().Int64() {
		t.Errorf("second run landed %d rows, want the %s added after the first (first landed %d)", second[0].Rows, late.RatString(), first[0].Rows)
	}
	ids := laketest.Column(t, sink, table.Identifier{"raw", "inc_orders_inc"}, "order_id")
	want := sourceRat(t, "SELECT count(*)::text FROM orders").Num().Int64()
	if int64(len(ids)) != want || int64(laketest.Distinct(ids)) != want {
		t.Fatalf("lake holds %d order ids, %d distinct; PostgreSQL %d", len(ids), laketest.Distinct(ids), want)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestKillingThePluginMidReadNeitherLosesNorDoublesRows(t *testing.T) {
	h, sink := installed(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "kill_order_items"}
	var (
		mu     sync.Mutex
		pids   []int
		killed = make(chan error, 1)
	)
	cfg := host.RunConfig{
		Plugin: "postgres", Config: config(t, 500, "order_items"), TablePrefix: "kill_", Backoff: 100 * time.Millisecond,
		Launched: func(p *host.Plugin) {
			mu.Lock()
			defer mu.Unlock()
			if pids = append(pids, p.Pid()); len(pids) == 1 {
				go func() { killed <- killAfter(ctx, sink, ident, p.Pid(), 1500) }()
			}
		},
	}
	rep, err := h.Run(ctx, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	if rep[0].Attempts < 2 {
		t.Fatalf("report %+v: the kill did not cost an attempt", rep)
	}
	items := laketest.Column(t, sink, ident, "order_id")
	nums := laketest.Column(t, sink, ident, "order_item_id")
	keys := make([]any, len(items))
	for i := range items {
		keys[i] = items[i].(string) + "/" + big.NewInt(nums[i].(int64)).String()
	}
	want := sourceRat(t, "SELECT count(*)::text FROM order_items").Num().Int64()
	if int64(len(keys)) != want || int64(laketest.Distinct(keys)) != want {
		t.Fatalf("lake holds %d items, %d distinct; PostgreSQL %d", len(keys), laketest.Distinct(keys), want)
	}
	if got, want := laketest.Sum(t, laketest.Column(t, sink, ident, "price")), sourceRat(t, "SELECT sum(price)::text FROM order_items"); got.Cmp(want) != 0 {
		t.Fatalf("sum(price): lake %s, PostgreSQL %s", got.RatString(), want.RatString())
	}
	t.Logf("plugin %d killed after 1500+ rows were committed; relaunched as %d; %d attempts", pids[0], pids[len(pids)-1], rep[0].Attempts)
}

// killAfter SIGKILLs pid once ident holds at least rows rows.
func killAfter(ctx context.Context, sink *ingest.Sink, ident table.Identifier, pid int, rows int64) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		tbl, err := sink.Catalog().LoadTable(ctx, ident)
		if err == nil {
			if snap := tbl.CurrentSnapshot(); snap != nil && snap.Summary != nil {
				if n, ok := snap.Summary.Properties["total-records"]; ok && atoi(n) >= rows {
					return syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("the run never reached the row count to kill at")
}

func atoi(s string) int64 {
	r, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return 0
	}
	return r.Int64()
}
