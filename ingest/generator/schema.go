package generator

import "github.com/apache/arrow-go/v18/arrow"

// Table names, in the order Generate returns them.
const (
	tableCustomers  = "customers"
	tableProducts   = "products"
	tableOrders     = "orders"
	tableOrderItems = "order_items"
	tableEvents     = "events"
)

// Every type below has a direct Iceberg counterpart (see iceberg-go
// table.ArrowSchemaToIcebergWithFreshIDs): string, int, double, boolean,
// decimal(10,2) and timestamptz. Microsecond timestamps with zone "UTC" are
// Iceberg's timestamptz; nanoseconds would need format v3. Fields carry no
// field-id metadata: ids are assigned when a table is created.
//
// Keys and foreign keys that are always present are non-nullable, which
// becomes "required" in Iceberg; every other column is optional so later
// schema evolution and partial upstream data stay possible.

func tsType() arrow.DataType {
	return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
}

// priceType is decimal(10,2): exact cents, up to 99,999,999.99.
func priceType() arrow.DataType {
	return &arrow.Decimal128Type{Precision: 10, Scale: 2}
}

func customersSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "first_name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "last_name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "signup_at", Type: tsType(), Nullable: true},
		{Name: "is_vip", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
}

func productsSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "sku", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "brand", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: priceType(), Nullable: true},
		{Name: "weight_grams", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "created_at", Type: tsType(), Nullable: true},
	}, nil)
}

func ordersSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String},
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "order_ts", Type: tsType(), Nullable: true},
		{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "total_amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "shipping_amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "payment_method", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
}

func orderItemsSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "order_id", Type: arrow.BinaryTypes.String},
		{Name: "line_no", Type: arrow.PrimitiveTypes.Int32},
		{Name: "product_id", Type: arrow.BinaryTypes.String},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "unit_price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
}

func eventsSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "event_id", Type: arrow.BinaryTypes.String},
		{Name: "event_ts", Type: tsType(), Nullable: true},
		{Name: "event_type", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "session_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "product_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "user_agent", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
}
