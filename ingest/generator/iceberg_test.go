package generator_test

import (
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// The raw zone creates its Iceberg tables from these Arrow schemas, so each
// must convert, with the column types and required-ness the lakehouse expects.
func TestSchemasConvertToIceberg(t *testing.T) {
	tables := generate(t, small())
	want := map[string]map[string]struct {
		typ      iceberg.Type
		required bool
	}{
		"customers": {
			"customer_id": {iceberg.PrimitiveTypes.String, true},
			"signup_at":   {iceberg.PrimitiveTypes.TimestampTz, false},
			"is_vip":      {iceberg.PrimitiveTypes.Bool, false},
		},
		"products": {
			"product_id":   {iceberg.PrimitiveTypes.String, true},
			"price":        {iceberg.DecimalTypeOf(10, 2), false},
			"weight_grams": {iceberg.PrimitiveTypes.Int32, false},
			"created_at":   {iceberg.PrimitiveTypes.TimestampTz, false},
		},
		"orders": {
			"order_id":     {iceberg.PrimitiveTypes.String, true},
			"customer_id":  {iceberg.PrimitiveTypes.String, true},
			"order_ts":     {iceberg.PrimitiveTypes.TimestampTz, false},
			"total_amount": {iceberg.PrimitiveTypes.Float64, false},
		},
		"order_items": {
			"order_id":   {iceberg.PrimitiveTypes.String, true},
			"line_no":    {iceberg.PrimitiveTypes.Int32, true},
			"product_id": {iceberg.PrimitiveTypes.String, true},
			"unit_price": {iceberg.PrimitiveTypes.Float64, false},
		},
		"events": {
			"event_id":   {iceberg.PrimitiveTypes.String, true},
			"event_ts":   {iceberg.PrimitiveTypes.TimestampTz, false},
			"user_id":    {iceberg.PrimitiveTypes.String, false},
			"product_id": {iceberg.PrimitiveTypes.String, false},
			"price":      {iceberg.PrimitiveTypes.Float64, false},
		},
	}

	for _, tbl := range tables {
		t.Run(tbl.Name, func(t *testing.T) {
			sc, err := table.ArrowSchemaToIcebergWithFreshIDs(tbl.Schema, false)
			if err != nil {
				t.Fatalf("converting %s schema: %v", tbl.Name, err)
			}
			if got, want := sc.NumFields(), tbl.Schema.NumFields(); got != want {
				t.Fatalf("Iceberg schema has %d fields, want %d", got, want)
			}
			for name, w := range want[tbl.Name] {
				f, ok := sc.FindFieldByName(name)
				if !ok {
					t.Errorf("no field %q in %s", name, sc)
					continue
				}
				if !f.Type.Equals(w.typ) || f.Required != w.required {
					t.Errorf("%s is %s required=%t, want %s required=%t", name, f.Type, f.Required, w.typ, w.required)
				}
			}
		})
	}
}
