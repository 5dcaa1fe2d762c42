package files_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// readResult is everything a source yielded.
type readResult struct {
	rows      [][]string // values as Arrow prints them
	positions []string
	rejects   []ingest.Reject
	last      json.RawMessage
}

func readAll(t *testing.T, src ingest.Source, maxBatches int) readResult {
	t.Helper()
	var r readResult
	for n := 0; maxBatches == 0 || n < maxBatches; n++ {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Records != nil {
			for i := range int(b.Records.NumRows()) {
				var row []string
				for _, c := range b.Records.Columns() {
					row = append(row, c.ValueStr(i))
				}
				r.rows = append(r.rows, row)
			}
			b.Records.Release()
		}
		r.positions = append(r.positions, b.Positions...)
		r.rejects = append(r.rejects, b.Rejects...)
		r.last = b.Position
	}
	return r
}

func TestSourcesRejectWhatDoesNotFitWithReasonAndPosition(t *testing.T) {
	type reject struct{ position, reason string }
	tests := []struct {
		name     string
		file     string
		content  string
		opts     files.Options
		accepted int
		rejects  []reject // reason: a substring
	}{
		{
			name: "a CSV value that does not fit the type inferred from the sample rejects its row only",
			file: "a.csv", content: "id,amount\n1,2.5\n2,abc\n3,4\n", opts: files.Options{SampleRows: 1},
			accepted: 2, rejects: []reject{{"line 3", `column "amount": "abc" is not a valid float64 (type inferred from the first 1 records)`}},
		},
		{
			name: "a CSV row with too many fields is rejected",
			file: "a.csv", content: "a,b\n1,2\n1,2,3\n",
			accepted: 1, rejects: []reject{{"line 3", "3 fields, the header has 2"}},
		},
		{
			name: "a CSV file cut off mid-line rejects the cut record as truncated",
			file: "a.csv", content: "a,b,c\r1,2,3\r4,5",
			accepted: 1, rejects: []reject{{"line 3", "truncated last record: 2 of 3 fields"}},
		},
		{
			name: "a CSV file cut off inside quotes rejects the cut record as truncated",
			file: "a.csv", content: "a,b\n1,\"x\ny\n",
			accepted: 0, rejects: []reject{{"line 2", "truncated last record: end of file inside the quoted field 2"}},
		},
		{
			name: "NDJSON lines that do not fit are rejected one by one",
			file: "a.ndjson", content: "{\"id\":1,\"v\":\"a\"}\n{\"id\":\"x\"}\nnot json\n{\"id\":2,\"extra\":1}\n[1]\n{\"id\":3}\n", opts: files.Options{SampleRows: 1},
			accepted: 2, rejects: []reject{
				{"line 2", `column "id": "x" is not a valid int64`},
				{"line 3", "invalid JSON"},
				{"line 4", `field "extra" is not among the fields of the first 1 records`},
				{"line 5", "not a JSON object"},
			},
		},
		{
			name: "a JSON array cut off inside an element rejects that element as truncated",
			file: "a.json", content: "[{\"id\":1},\n {\"id\":2},\n {\"id\":",
			accepted: 2, rejects: []reject{{"element 3 (line 3)", "truncated last record"}},
		},
		{
			name: "a broken element of a JSON array costs that element alone",
			file: "a.json", content: `[{"id":1}, {"id":,}, {"id":3}]`,
			accepted: 2, rejects: []reject{{"element 2 (line 1)", "invalid JSON"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := files.Open(context.Background(), writeText(t, tt.file, tt.content), nil, nil, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := readAll(t, src, 0)
			if len(got.rows) != tt.accepted {
				t.Errorf("accepted %d rows %v, want %d", len(got.rows), got.rows, tt.accepted)
			}
			if len(got.rejects) != len(tt.rejects) {
				t.Fatalf("rejects %+v, want %d", got.rejects, len(tt.rejects))
			}
			for i, want := range tt.rejects {
				r := got.rejects[i]
				if r.Position != want.position || !strings.Contains(r.Reason, want.reason) {
					t.Errorf("reject %d: %s: %q, want %s: …%q…", i, r.Position, r.Reason, want.position, want.reason)
				}
				if !strings.Contains(tt.content, string(r.Raw)) || len(r.Raw) == 0 {
					t.Errorf("reject %d raw payload %q is not a piece of the input", i, r.Raw)
				}
			}
		})
	}
}

func TestJSONKeepsNestedValuesAsJSONTextAndReadsStringsAsTheirColumnsType(t *testing.T) {
	p := writeText(t, "a.json", `[{"id":1,"tags":["a","b"],"o":{"k":1},"at":"2024-01-02T03:04:05Z","zip":"01012"}]`)
	src, err := files.Open(context.Background(), p, nil, nil, files.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var types []string
	for _, f := range src.Schema().Fields() {
		types = append(types, f.Name+":"+f.Type.String())
	}
	wantTypes := []string{"id:int64", "tags:utf8", "o:utf8", "at:timestamp[us, tz=UTC]", "zip:utf8"}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Fatalf("schema %v, want %v", types, wantTypes)
	}
	got := readAll(t, src, 0)
	want := [][]string{{"1", `["a","b"]`, `{"k":1}`, "2024-01-02T03:04:05Z", "01012"}}
	if !reflect.DeepEqual(got.rows, want) {
		t.Fatalf("rows %q, want %q", got.rows, want)
	}
}

func TestResumingAtAPositionReadsExactlyTheRest(t *testing.T) {
	var csv, ndjson, arr strings.Builder
	csv.WriteString("id,name\r\n")
	arr.WriteString("[\n")
	for i := range 9 {
		n := string(rune('a' + i))
		csv.WriteString(n + "1,\"x\n" + n + "\"\r\n")
		ndjson.WriteString(`{"id":"` + n + `1","name":"x` + n + `"}` + "\n")
		if i > 0 {
			arr.WriteString(",\n")
		}
		arr.WriteString(`  {"id":"` + n + `1","name":"x` + n + `"}`)
	}
	arr.WriteString("\n]\n")
	paths := map[string]string{
		"a.csv":     writeText(t, "a.csv", csv.String()),
		"a.ndjson":  writeText(t, "a.ndjson", ndjson.String()),
		"a.json":    writeText(t, "a.json", arr.String()),
		"a.parquet": writeNumberedParquet(t, 9),
	}
	for _, name := range []string{"a.csv", "a.ndjson", "a.json", "a.parquet"} {
		for _, sample := range []int{1, 100} {
			t.Run(name+" with a sample of "+strconv.Itoa(sample), func(t *testing.T) {
				ctx := context.Background()
				opts := files.Options{SampleRows: sample, BatchRows: 4}
				open := func(resume json.RawMessage) files.Source {
					src, err := files.Open(ctx, paths[name], nil, resume, opts)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = src.Close() })
					return src
				}
				full := readAll(t, open(nil), 0)
				first := readAll(t, open(nil), 1)
				rest := readAll(t, open(first.last), 0)
				got := append(append([]string{}, first.positions...), rest.positions...)
				if !reflect.DeepEqual(got, full.positions) || len(full.positions) != 9 {
					t.Fatalf("positions %v then %v, want %v", first.positions, rest.positions, full.positions)
				}
				gotRows := append(append([][]string{}, first.rows...), rest.rows...)
				if !reflect.DeepEqual(gotRows, full.rows) {
					t.Fatalf("rows %v, want %v", gotRows, full.rows)
				}
			})
		}
	}
}

// writeNumberedParquet writes n rows of an id and a column whose name has
// a space.
func writeNumberedParquet(t *testing.T, n int) string {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "Customer ID", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return writeParquet(t, "a.parquet", sc, func(b *array.RecordBuilder) {
		for i := range n {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append("c" + strconv.Itoa(i))
		}
	})
}
