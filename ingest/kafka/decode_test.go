package kafka

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

func clickSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "mobile", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: arrowfill.TimestampTZ.ArrowType(), Nullable: true},
		{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
}

func TestDecodeAcceptsWhatFitsTheColumnsAndSaysWhyNot(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   string // the row as Arrow prints it, when accepted
		reason string // a substring of the reason, when rejected
	}{
		{name: "a record with every column fills the row",
			value: `{"id":1,"user":"ann","qty":2,"price":9.5,"mobile":true,"day":"2026-03-01","ts":"2026-03-01T10:00:00.5+01:00","local":"2026-03-01 10:00:00"}`,
			want:  `1 ann 2 9.5 true 2026-03-01 2026-03-01T09:00:00.5Z 2026-03-01T10:00:00`},
		{name: "missing and null fields are nulls", value: `{"id":2,"user":null}`, want: `2 (null) (null) (null) (null) (null) (null) (null)`},
		{name: "a string column keeps nested objects as compact JSON text", value: `{"id":3,"user":{"a": [1, 2]}}`, want: `3 {"a":[1,2]} (null) (null) (null) (null) (null) (null)`},
		{name: "a string column takes numbers and booleans as their text", value: `{"id":4,"user":12.50}`, want: `4 12.50 (null) (null) (null) (null) (null) (null)`},
		{name: "an integer column takes integers only", value: `{"id":1.5}`, reason: `field "id": 1.5 is not a valid int64`},
		{name: "an int32 column refuses what overflows it", value: `{"id":1,"qty":3000000000}`, reason: `field "qty": 3000000000 is not a valid int32`},
		{name: "a quoted number does not fill a number column", value: `{"id":"7"}`, reason: `field "id": "7" is not a valid int64`},
		{name: "a zoned timestamp column refuses a timestamp without zone", value: `{"id":1,"ts":"2026-03-01T10:00:00"}`, reason: "has no zone"},
		{name: "a timestamp column without zone refuses a zoned one", value: `{"id":1,"local":"2026-03-01T10:00:00Z"}`, reason: "carries a zone"},
		{name: "a field that is no column rejects the record", value: `{"id":1,"color":"red"}`, reason: `field "color" is not a column of the table`},
		{name: "a required column must be there", value: `{"user":"bob"}`, reason: `field "id" is missing or null`},
		{name: "broken JSON is rejected", value: `{"id":1,`, reason: "invalid JSON"},
		{name: "JSON that is not an object is rejected", value: `[1,2]`, reason: "not a JSON object"},
		{name: "data after the object is rejected", value: `{"id":1} {"id":2}`, reason: "data after the object"},
		{name: "a field given twice is rejected", value: `{"id":1,"id":2}`, reason: `field "id" appears twice`},
		{name: "an empty value (a tombstone) is rejected", value: ``, reason: "empty value"},
		{name: "bytes that are not UTF-8 are rejected", value: "{\"id\":1,\"user\":\"\xff\"}", reason: "not valid UTF-8"},
	}
	dec, err := newDecoder(clickSchema())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason := dec.decode([]byte(tt.value))
			if tt.reason != "" {
				if !strings.Contains(reason, tt.reason) {
					t.Fatalf("reason %q, want it to contain %q", reason, tt.reason)
				}
				return
			}
			if reason != "" {
				t.Fatalf("rejected: %s", reason)
			}
			rb := array.NewRecordBuilder(memory.DefaultAllocator, dec.schema)
			defer rb.Release()
			dec.append(rb)
			rec := rb.NewRecordBatch()
			defer rec.Release()
			var got []string
			for _, c := range rec.Columns() {
				got = append(got, c.ValueStr(0))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("row %q, want %q", s, tt.want)
			}
		})
	}
}

func TestInferTypesEachFieldByEverySampledValue(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string // name:type, in order
	}{
		{name: "fields come in the order they first appear",
			values: []string{`{"b":true,"i":1}`, `{"f":1.5,"s":"x","i":2}`},
			want:   "b:bool i:int64 f:float64 s:utf8"},
		{name: "integers mixed with decimals are float64", values: []string{`{"n":1}`, `{"n":2.5}`}, want: "n:float64"},
		{name: "zoned RFC 3339 strings are timestamps with zone", values: []string{`{"t":"2026-01-01T00:00:00Z"}`, `{"t":null}`}, want: "t:timestamp[us, tz=UTC]"},
		{name: "a timestamp mixed with other text is a string", values: []string{`{"t":"2026-01-01T00:00:00Z"}`, `{"t":"soon"}`}, want: "t:utf8"},
		{name: "a field that is only ever null is a string", values: []string{`{"x":null}`}, want: "x:utf8"},
		{name: "objects, arrays and mixed kinds are strings", values: []string{`{"o":{},"a":[1],"m":1}`, `{"m":"one"}`}, want: "o:utf8 a:utf8 m:utf8"},
		{name: "records that are not objects do not count", values: []string{`nope`, `[1]`, `{"k":1}`}, want: "k:int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vals [][]byte
			for _, v := range tt.values {
				vals = append(vals, []byte(v))
			}
			sc, err := infer(vals)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range sc.Fields() {
				got = append(got, f.Name+":"+f.Type.String())
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Fatalf("schema %q, want %q", s, tt.want)
			}
		})
	}
	if _, err := infer([][]byte{[]byte("garbage"), []byte("{}")}); err == nil {
		t.Fatal("inferring from records without fields succeeded")
	}
}

func TestEscapeInvalidUTF8KeepsValidTextAndShowsBadBytes(t *testing.T) {
	if got := escapeInvalidUTF8([]byte("ok\xffé\x00")); got != "ok\\xffé\x00" {
		t.Fatalf("got %q", got)
	}
}
