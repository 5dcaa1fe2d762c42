package e2e_test

import (
	"context"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
)

func TestTrinoReadsTheGeneratedTables(t *testing.T) {
	e.Require(t)
	counts := []struct {
		table string
		want  int64
	}{
		{"customers", e.stats.Customers},
		{"products", e.stats.Products},
		{"orders", e.stats.Orders},
		{"order_items", e.stats.OrderItems},
		{"events", e.stats.Events},
	}
	for _, c := range counts {
		if c.want == 0 {
			t.Fatalf("generator wrote no %s: the comparison would prove nothing", c.table)
		}
		got := asInt(t, scalar(t, "SELECT count(*) FROM lakehouse.raw."+c.table))
		if got != c.want {
			t.Errorf("count(raw.%s) = %d through Trino, generator wrote %d", c.table, got, c.want)
		}
	}
	revenue, ok := scalar(t, "SELECT sum(quantity * unit_price) FROM lakehouse.raw.order_items").(float64)
	if !ok || math.Abs(revenue-e.stats.OrderItemsRevenue) > 0.01 {
		t.Errorf("sum(quantity*unit_price) = %v through Trino, generator's figure %.2f", revenue, e.stats.OrderItemsRevenue)
	}
	delivered := asInt(t, scalar(t, "SELECT count(*) FROM lakehouse.raw.orders WHERE status = 'delivered'"))
	if delivered != e.stats.DeliveredOrders {
		t.Errorf("delivered orders = %d through Trino, generator wrote %d", delivered, e.stats.DeliveredOrders)
	}
	orphans := asInt(t, scalar(t, `SELECT count(*) FROM lakehouse.raw.order_items i
		LEFT JOIN lakehouse.raw.orders o ON i.order_id = o.order_id WHERE o.order_id IS NULL`))
	if orphans != 0 {
		t.Errorf("%d order items have no order", orphans)
	}
}

func TestTrinoCreatesACuratedTableThatGoReads(t *testing.T) {
	e.Require(t)
	e.SQL(t, `CREATE TABLE lakehouse.curated.order_status_summary AS
		SELECT status, count(*) AS orders, round(sum(total_amount), 2) AS revenue
		FROM lakehouse.raw.orders GROUP BY status`)
	total := asInt(t, scalar(t, "SELECT sum(orders) FROM lakehouse.curated.order_status_summary"))
	if total != e.stats.Orders {
		t.Fatalf("curated summary counts %d orders, raw has %d", total, e.stats.Orders)
	}

	// The table Trino wrote is an Iceberg table Go reads through the same catalog.
	ctx := context.Background()
	sink := e.Sink(t)
	tbl, err := sink.Catalog().LoadTable(ctx, table.Identifier{"curated", "order_status_summary"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan(table.WithSelectedFields("orders")).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	var sum int64
	rdr := array.NewTableReader(got, 1024)
	defer rdr.Release()
	for rdr.Next() {
		col := rdr.RecordBatch().Column(0).(*array.Int64)
		for i := range col.Len() {
			sum += col.Value(i)
		}
	}
	if sum != e.stats.Orders {
		t.Fatalf("Go reads %d orders from Trino's curated table, want %d", sum, e.stats.Orders)
	}
}

func TestTrinoReportsAFailingStatement(t *testing.T) {
	e.Require(t)
	_, err := queryErr("SELECT * FROM lakehouse.raw.no_such_table")
	if err == nil {
		t.Fatal("query of a missing table succeeded")
	}
	if want := "no_such_table"; !contains(err.Error(), want) {
		t.Fatalf("error %q does not carry Trino's message about %s", err, want)
	}
}
