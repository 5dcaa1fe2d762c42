package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/plugins/connectors/postgres"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
	"github.com/lakehouse-go/lakehouse/plugins/sdk/plugintest"
)

func config(t *testing.T, batch int, tables ...string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"dsn": dsn, "tables": tables, "batch_size": batch,
		"incremental": map[string]string{"orders": "order_purchase_timestamp", "order_facts": "updated_at"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheConnectorConformsInProcess(t *testing.T) {
	needPostgres(t)
	plugintest.Run(t, postgres.Connector{}, plugintest.Options{Config: config(t, 1500, "orders", "order_items", "order_reviews", "order_facts")})
}

func TestTheExecutableConformsOverTheProtocol(t *testing.T) {
	needPostgres(t)
	plugintest.Run(t, plugintest.Launch(t, plugin), plugintest.Options{Config: config(t, 3000, "order_items", "order_facts", "geolocation")})
}

func TestColumnTypesMapToArrowFaithfully(t *testing.T) {
	needPostgres(t)
	streams, err := postgres.Connector{}.Discover(context.Background(), config(t, 100, "order_facts", "orders", "order_items"))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, st := range streams {
		for _, f := range st.Schema.Fields() {
			types[st.Name+"."+f.Name] = f.Type.String()
		}
	}
	for _, tc := range []struct{ column, want string }{
		{"order_items.price", "decimal(10, 2)"},
		{"order_items.order_item_id", "int32"},
		{"order_items.shipping_limit_date", "timestamp[us]"},
		{"orders.order_purchase_timestamp", "timestamp[us, tz=UTC]"},
		{"order_facts.order_uuid", "utf8"},
		{"order_facts.attrs", "utf8"},
		{"order_facts.raw", "utf8"},
		{"order_facts.item_prices", "list<item: decimal(10, 2), nullable>"},
		{"order_facts.product_ids", "list<item: utf8, nullable>"},
		{"order_facts.item_numbers", "list<item: int32, nullable>"},
		{"order_facts.item_count", "int64"},
		{"order_facts.total", "utf8"},
		{"order_facts.purchase_date", "date32"},
		{"order_facts.delivered", "bool"},
		{"order_facts.digest", "binary"},
	} {
		t.Run(tc.column+" is "+tc.want, func(t *testing.T) {
			if got := types[tc.column]; got != tc.want {
				t.Errorf("%s maps to %q, want %q", tc.column, got, tc.want)
			}
		})
	}
}

// collect is an sdk.Writer that keeps every value as its Arrow text.
type collect struct {
	rows        []map[string]string
	checkpoints int
}

func (c *collect) Records(_ string, rec arrow.RecordBatch) error {
	for i := range int(rec.NumRows()) {
		row := map[string]string{}
		for j, f := range rec.Schema().Fields() {
			row[f.Name] = rec.Column(j).ValueStr(i)
		}
		c.rows = append(c.rows, row)
	}
	return nil
}
func (c *collect) Reject(string, sdk.Reject) error                      { return errors.New("unexpected reject") }
func (c *collect) Checkpoint(string, json.RawMessage) error             { c.checkpoints++; return nil }
func (c *collect) Log(level slog.Level, msg string, attrs ...slog.Attr) {}

// readFull reads stream in full, batch rows a batch, into a collect.
func readFull(t *testing.T, stream string, batch int) *collect {
	t.Helper()
	var w collect
	sr := []sdk.StreamRead{{Name: stream, Mode: sdk.FullRefresh}}
	if err := (postgres.Connector{}).Read(context.Background(), config(t, batch, stream), sr, &w); err != nil {
		t.Fatal(err)
	}
	return &w
}

// sourceCount is the count(*) of from (a table, and a WHERE clause) in
// PostgreSQL.
func sourceCount(t *testing.T, from string) int {
	t.Helper()
	return int(sourceRat(t, "SELECT count(*)::text FROM "+from).Num().Int64())
}

func TestValuesReadEqualWhatPostgreSQLHolds(t *testing.T) {
	needPostgres(t)
	w := readFull(t, "order_facts", 5000)
	count := sourceCount(t, "order_facts")
	if len(w.rows) != count || w.checkpoints != (count+4999)/5000 {
		t.Fatalf("read %d rows with %d checkpoints, want %d rows, one checkpoint per 5000", len(w.rows), w.checkpoints, count)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const id = "a4591c265e18cb1dcee52889e2d8acc3"
	var want struct{ uuid, attrs, total, date, prices, ts string }
	err = conn.QueryRow(ctx, `SELECT order_uuid::text, attrs::text, total::text, purchase_date::text, item_prices::text,
		to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') FROM order_facts WHERE order_id = $1`, id).
		Scan(&want.uuid, &want.attrs, &want.total, &want.date, &want.prices, &want.ts)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	for _, r := range w.rows {
		if r["order_id"] == id {
			got = r
		}
	}
	for _, tc := range []struct{ column, got, want string }{
		{"order_uuid", got["order_uuid"], want.uuid},
		{"attrs", got["attrs"], want.attrs},
		{"total", got["total"], want.total},
		{"purchase_date", got["purchase_date"], want.date},
		{"item_prices", decimals(t, got["item_prices"]), trimBraces(want.prices)},
		{"updated_at", got["updated_at"], want.ts + "Z"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s of order %s: read %q, PostgreSQL holds %q", tc.column, id, tc.got, tc.want)
		}
	}
}

func trimBraces(s string) string { return s[1 : len(s)-1] }

// decimals turns Arrow's text of a list of decimals, ["147.9","8"], into
// PostgreSQL's at scale 2: 147.90,8.00.
func decimals(t *testing.T, list string) string {
	t.Helper()
	var items []string
	if err := json.Unmarshal([]byte(list), &items); err != nil {
		t.Fatalf("parsing %s: %v", list, err)
	}
	var out []string
	for _, it := range items {
		r, ok := new(big.Rat).SetString(it)
		if !ok {
			t.Fatalf("%q is not a decimal", it)
		}
		out = append(out, r.FloatString(2))
	}
	return strings.Join(out, ",")
}

func TestAViewIsReadInOneGoAndEndsWithACheckpoint(t *testing.T) {
	needPostgres(t)
	w := readFull(t, "delivered_orders", 1000)
	count := sourceCount(t, "orders WHERE order_status = 'delivered'")
	if len(w.rows) != count || w.checkpoints != 1 {
		t.Fatalf("read %d rows with %d checkpoints; want %d rows and one checkpoint at the end", len(w.rows), w.checkpoints, count)
	}
}
