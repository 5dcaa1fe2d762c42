package e2e_test

import (
	"context"
	"maps"
	"testing"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
)

type tableState struct {
	metadata string
	rows     int64
}

// snapshotCatalog reads every table of every zone through the REST catalog
// and counts its rows by scanning the data files.
func snapshotCatalog(t *testing.T) map[string]tableState {
	t.Helper()
	ctx := context.Background()
	sink := e.Sink(t)
	cat := sink.Catalog()
	out := map[string]tableState{}
	for _, zone := range stack.Zones {
		for ident, err := range cat.ListTables(ctx, table.Identifier{zone}) {
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := cat.LoadTable(ctx, ident)
			if err != nil {
				t.Fatal(err)
			}
			arr, err := tbl.Scan().ToArrowTable(ctx)
			if err != nil {
				t.Fatalf("scanning %v: %v", ident, err)
			}
			out[zone+"."+ident[len(ident)-1]] = tableState{metadata: tbl.MetadataLocation(), rows: arr.NumRows()}
			arr.Release()
		}
	}
	return out
}

func TestCatalogRestartKeepsEveryTableAndRow(t *testing.T) {
	e.Require(t)
	before := snapshotCatalog(t)
	if before["raw.orders"].rows != e.stats.Orders {
		t.Fatalf("before restart raw.orders has %d rows, want %d", before["raw.orders"].rows, e.stats.Orders)
	}
	if err := e.Lake.StopCatalog(); err != nil {
		t.Fatal(err)
	}
	if err := e.Lake.StartCatalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := snapshotCatalog(t)
	if !maps.Equal(before, after) {
		t.Fatalf("catalog changed across restart:\nbefore %v\nafter  %v", before, after)
	}
	if n := asInt(t, scalar(t, "SELECT count(*) FROM lakehouse.raw.orders")); n != e.stats.Orders {
		t.Fatalf("Trino counts %d orders after the catalog restart, want %d", n, e.stats.Orders)
	}
}
