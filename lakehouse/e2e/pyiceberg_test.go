package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/trino"
)

// clientPy is the small pyiceberg client the tests drive.
const clientPy = "pyiceberg_client.py"

func TestPyIcebergWithOnlyTheURI(t *testing.T) {
	requirePython(t)
	uri := e.Lake.CatalogURL()

	// Reads what Go wrote.
	var inspect struct {
		Namespaces []string `json:"namespaces"`
		Orders     int64    `json:"orders"`
	}
	py(t, &inspect, clientPy, "inspect", uri)
	for _, zone := range []string{"raw", "cleansed", "curated", "exploration"} {
		if !slices.Contains(inspect.Namespaces, zone) {
			t.Errorf("pyiceberg lists %v, zone %s missing", inspect.Namespaces, zone)
		}
	}
	trinoOrders := asInt(t, scalar(t, "SELECT count(*) FROM lakehouse.raw.orders"))
	if inspect.Orders != e.stats.Orders || inspect.Orders != trinoOrders {
		t.Fatalf("raw.orders: pyiceberg %d rows, Trino %d, generator %d", inspect.Orders, trinoOrders, e.stats.Orders)
	}

	// Writes what Go and Trino then read.
	const name = "exploration.notebook_notes"
	var created struct {
		Rows int64 `json:"rows"`
	}
	py(t, &created, clientPy, "create-append", uri, name)
	if created.Rows != 3 {
		t.Fatalf("pyiceberg appended and reads back %d rows, want 3", created.Rows)
	}
	notes := goReadNotes(t)
	if want := map[int64]string{1: "written by pyiceberg", 2: "<null>", 3: "ünïcödé"}; !mapsEqual(notes, want) {
		t.Fatalf("Go reads %v, want %v", notes, want)
	}
	if n := asInt(t, scalar(t, "SELECT count(*) FROM lakehouse."+name)); n != 3 {
		t.Fatalf("Trino counts %d rows in %s, want 3", n, name)
	}
	if v := scalar(t, "SELECT note FROM lakehouse."+name+" WHERE id = 3"); v != "ünïcödé" {
		t.Fatalf("Trino reads note %v for id 3", v)
	}

	// A row Trino inserts is visible to pyiceberg.
	e.SQL(t, "INSERT INTO lakehouse."+name+" VALUES (4, 'written by Trino', 4.0)")
	var read struct {
		Rows []struct {
			ID   int64   `json:"id"`
			Note *string `json:"note"`
		} `json:"rows"`
	}
	py(t, &read, clientPy, "read", uri, name)
	if len(read.Rows) != 4 || read.Rows[3].ID != 4 || read.Rows[3].Note == nil || *read.Rows[3].Note != "written by Trino" {
		t.Fatalf("pyiceberg reads %+v after Trino's insert", read.Rows)
	}
}

func goReadNotes(t *testing.T) map[int64]string {
	t.Helper()
	ctx := context.Background()
	sink := e.Sink(t)
	tbl, err := sink.Catalog().LoadTable(ctx, table.Identifier{"exploration", "notebook_notes"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan(table.WithSelectedFields("id", "note")).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	out := map[int64]string{}
	rdr := array.NewTableReader(got, 1024)
	defer rdr.Release()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		ids := rec.Column(0).(*array.Int64)
		notes := rec.Column(1).(*array.String)
		for i := range ids.Len() {
			v := "<null>"
			if notes.IsValid(i) {
				v = notes.Value(i)
			}
			out[ids.Value(i)] = v
		}
	}
	return out
}

func mapsEqual(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func queryErr(stmt string) (*trino.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return trino.Query(ctx, e.Trino.URL(), "e2e", stmt)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestPyIcebergCatalogOperationsThenTrinoThenGo(t *testing.T) {
	requirePython(t)
	const name = "exploration.py_suite"
	var got struct {
		AfterAppend     int64     `json:"after_append"`
		AfterOverwrite  int64     `json:"after_overwrite"`
		OverwriteIDs    []int64   `json:"overwrite_ids"`
		AfterDelete     int64     `json:"after_delete"`
		Columns         []string  `json:"columns"`
		DiscountOf20    []float64 `json:"discount_of_20"`
		SpecFields      []string  `json:"spec_fields"`
		AfterPartEvol   int64     `json:"after_partition_evolution"`
		TimeTravelFirst int64     `json:"time_travel_first"`
		Snapshots       int       `json:"snapshots"`
	}
	py(t, &got, "pyiceberg_catalog_suite.py", e.Lake.CatalogURL(), name)
	checks := []struct {
		what string
		ok   bool
	}{
		{"append keeps 5 rows", got.AfterAppend == 5},
		{"overwrite replaces them with 3", got.AfterOverwrite == 3 && slices.Equal(got.OverwriteIDs, []int64{10, 11, 12})},
		{"delete removes one", got.AfterDelete == 2},
		{"schema evolution adds discount", slices.Equal(got.Columns, []string{"id", "category", "region", "discount"})},
		{"the evolved column holds its value", slices.Equal(got.DiscountOf20, []float64{0.15})},
		{"partition evolution adds region", slices.Equal(got.SpecFields, []string{"category", "region"})},
		{"rows survive partition evolution", got.AfterPartEvol == 4},
		{"time travel reads the first snapshot", got.TimeTravelFirst == 5},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: pyiceberg saw %+v", c.what, got)
		}
	}

	// Trino writes into the table pyiceberg made; Go reads both writers' rows.
	e.SQL(t, "INSERT INTO lakehouse."+name+" VALUES (40, 'toys', 'eu', 0.5)")
	ctx := context.Background()
	sink := e.Sink(t)
	tbl, err := sink.Catalog().LoadTable(ctx, table.Identifier{"exploration", "py_suite"})
	if err != nil {
		t.Fatal(err)
	}
	arr, err := tbl.Scan(table.WithSelectedFields("id")).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Release()
	var ids []int64
	rdr := array.NewTableReader(arr, 1024)
	defer rdr.Release()
	for rdr.Next() {
		col := rdr.RecordBatch().Column(0).(*array.Int64)
		for i := range col.Len() {
			ids = append(ids, col.Value(i))
		}
	}
	slices.Sort(ids)
	if want := []int64{10, 12, 20, 30, 40}; !slices.Equal(ids, want) {
		t.Fatalf("Go reads ids %v after pyiceberg and Trino wrote, want %v", ids, want)
	}
}
