package pipeline_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest/pipeline"
)

func TestParse(t *testing.T) {
	t.Setenv("PIPELINE_TEST_TOKEN", "s3cret")
	dir, state := filepath.FromSlash("/srv/pipelines"), filepath.FromSlash("/var/lakehouse")
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings of the error; none: no error
		check   func(t *testing.T, pls []pipeline.Pipeline)
	}{
		{
			name: "a files pipeline gets its defaults and paths made absolute against the file's folder",
			yaml: `
- name: orders
  table: raw.orders
  source:
    files:
      paths: [incoming/*.csv, /data/orders.parquet]
`,
			check: func(t *testing.T, pls []pipeline.Pipeline) {
				f := pls[0].Source.Files
				want := []string{filepath.Join(dir, "incoming/*.csv"), "/data/orders.parquet"}
				if f.Paths[0] != want[0] || f.Paths[1] != want[1] {
					t.Errorf("paths %v, want %v", f.Paths, want)
				}
				if f.PollInterval != 10*time.Second || f.Settle != 2*time.Second || f.SampleRows != 10000 {
					t.Errorf("defaults: %+v", f)
				}
				if pls[0].Source.Kind() != "files" {
					t.Errorf("kind %q", pls[0].Source.Kind())
				}
			},
		},
		{
			name: "an http pipeline's spool goes under the state dir and its flush gets the collector's defaults",
			yaml: `
- name: clicks
  table: raw.events
  source: {http: {}}
  rules: {required: [event_type]}
`,
			check: func(t *testing.T, pls []pipeline.Pipeline) {
				h := pls[0].Source.HTTP
				if want := filepath.Join(state, "pipelines", "clicks", "spool"); h.SpoolDir != want {
					t.Errorf("spool %q, want %q", h.SpoolDir, want)
				}
				if h.Addr != "127.0.0.1:8088" || pls[0].Flush.Rows != 10000 || pls[0].Flush.Interval != 5*time.Second {
					t.Errorf("defaults: %+v, flush %+v", h, pls[0].Flush)
				}
			},
		},
		{
			name: "a kafka pipeline's group defaults to its name",
			yaml: `
- name: orders-stream
  table: raw.orders_stream
  source:
    kafka: {brokers: ["127.0.0.1:9092"], topics: [orders]}
  flush: {rows: 500}
`,
			check: func(t *testing.T, pls []pipeline.Pipeline) {
				if g := pls[0].Source.Kafka.Group; g != "lakehouse-orders-stream" {
					t.Errorf("group %q", g)
				}
				if f := pls[0].Flush; f.Rows != 500 || f.Interval != 10*time.Second {
					t.Errorf("flush %+v", f)
				}
			},
		},
		{
			name: "a poll pipeline decodes its start, durations and environment references",
			yaml: `
- name: fx
  table: raw.fx_rates
  schema:
    - {name: pair, type: string}
    - {name: rate, type: double}
    - {name: observed_at, type: timestamptz}
  partition: [day(observed_at), "bucket(pair, 8)"]
  source:
    poll:
      every: 1h
      start: 2025-01-01T00:00:00Z
      delay: 5m
      http:
        url: https://api.example.com/rates?from={start}&to={end}
        headers: {Authorization: "Bearer ${PIPELINE_TEST_TOKEN}"}
        items: data
`,
			check: func(t *testing.T, pls []pipeline.Pipeline) {
				pl := pls[0].Source.Poll
				if pl.Every != time.Hour || pl.Delay != 5*time.Minute || !pl.Start.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("schedule: every %s delay %s start %s", pl.Every, pl.Delay, pl.Start)
				}
				if h := pl.HTTP.Headers["Authorization"]; h != "Bearer s3cret" {
					t.Errorf("header %q", h)
				}
				if pl.Retry.Attempts != 3 || pl.HTTP.MaxPages != 1000 {
					t.Errorf("defaults: retry %+v, max pages %d", pl.Retry, pl.HTTP.MaxPages)
				}
				if s := pls[0].Source.String(); strings.Contains(s, "from=") || !strings.Contains(s, "api.example.com/rates") {
					t.Errorf("summary %q shows the query or lacks the URL", s)
				}
			},
		},
		{
			name:    "an unknown key is an error naming its line",
			yaml:    "- name: orders\n  table: raw.orders\n  source:\n    files:\n      pathz: [a.csv]\n",
			wantErr: []string{"line 5: field pathz not found in source.files (want paths, poll_interval, settle, sample_rows)"},
		},
		{
			name:    "a repeated key is an error naming its line",
			yaml:    "- name: orders\n  table: raw.orders\n  table: raw.other\n  source: {files: {paths: [a.csv]}}\n",
			wantErr: []string{"line 3", `"table" already defined`},
		},
		{
			name:    "a duration without a unit is an error naming its line",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv], poll_interval: 10}}\n",
			wantErr: []string{"line 3", "time.Duration"},
		},
		{
			name:    "a mapping where the list belongs is an error",
			yaml:    "pipelines:\n  - name: orders\n",
			wantErr: []string{"line 1", "into a list of pipelines"},
		},
		{
			name:    "an empty document is an error",
			yaml:    "# nothing yet\n",
			wantErr: []string{"empty", "want a list of pipelines"},
		},
		{
			name:    "a pipeline without a source names the pipeline and the field",
			yaml:    "- name: orders\n  table: raw.orders\n",
			wantErr: []string{`pipeline "orders": source: want exactly one of files, http, kafka and poll, found 0`},
		},
		{
			name:    "a pipeline with two sources is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}, http: {}}\n",
			wantErr: []string{`pipeline "orders": source: want exactly one`, "found 2"},
		},
		{
			name:    "a pipeline without a name is named by its place",
			yaml:    "- name: a\n  table: raw.a\n  source: {files: {paths: [a.csv]}}\n- table: raw.b\n  source: {files: {paths: [b.csv]}}\n",
			wantErr: []string{"pipeline #2: name: required"},
		},
		{
			name:    "a table without a zone is an error",
			yaml:    "- name: orders\n  table: orders\n  source: {files: {paths: [a.csv]}}\n",
			wantErr: []string{`pipeline "orders": table: "orders": want <zone>.<table>`},
		},
		{
			name:    "a quarantine table cannot be a pipeline's table",
			yaml:    "- name: orders\n  table: raw.orders__quarantine\n  source: {files: {paths: [a.csv]}}\n",
			wantErr: []string{"table:", "another table's rejects"},
		},
		{
			name: "two pipelines on one table, or one name twice, are errors",
			yaml: `
- {name: a, table: raw.t, source: {files: {paths: [a.csv]}}}
- {name: a, table: raw.t, source: {files: {paths: [b.csv]}}}
`,
			wantErr: []string{`name "a" is also pipeline "a"'s`, `table "raw.t" is also pipeline "a"'s`},
		},
		{
			name: "two collectors on one address are an error",
			yaml: `
- {name: a, table: raw.a, source: {http: {addr: "127.0.0.1:9999"}}}
- {name: b, table: raw.b, source: {http: {addr: "127.0.0.1:9999"}}}
`,
			wantErr: []string{`pipeline "b": source.http.addr "127.0.0.1:9999" is also pipeline "a"'s`},
		},
		{
			name:    "flush on a files pipeline is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  flush: {rows: 10}\n",
			wantErr: []string{`pipeline "orders": flush: applies to the http and kafka sources; files commits one file at a time`},
		},
		{
			name:    "partitioning without a schema is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  partition: [day(_ingested_at)]\n",
			wantErr: []string{`pipeline "orders": partition: needs schema`},
		},
		{
			name: "partitioning by an undeclared column or with a transform its type does not take is an error",
			yaml: `
- name: orders
  table: raw.orders
  source: {files: {paths: [a.csv]}}
  schema: [{name: id, type: string}, {name: amount, type: double}]
  partition:
    - day(created_at)
    - day(id)
    - bucket(id, 0)
    - month(_ingested_at)
    - truncate(amount, 4)
`,
			wantErr: []string{
				`partition[0]: "day(created_at)": "created_at" is neither a declared column nor a lineage column`,
				`partition[1]: "day(id)": day cannot partition a string column`,
				`partition[2]: "bucket(id, 0)": "0": want a positive whole number`,
				`partition[4]: "truncate(amount, 4)": truncate[4] cannot partition a double column`,
			},
		},
		{
			name:    "an unquoted comma in a flow list splits a partition entry, and the error says to quote it",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  schema: [{name: id, type: string}]\n  partition: [bucket(id, 16)]\n",
			wantErr: []string{`partition[0]: "bucket(id": unbalanced parentheses; in a [...] list, quote entries with a comma`},
		},
		{
			name:    "an unknown column type is an error naming the column",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  schema: [{name: id, type: uuid}]\n",
			wantErr: []string{`pipeline "orders": schema[0].type: "uuid": want one of boolean, int`},
		},
		{
			name:    "a declared lineage column is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  schema: [{name: _source, type: string}]\n",
			wantErr: []string{`schema[0].name: "_source" is a lineage column`},
		},
		{
			name:    "a required field must be a declared column when columns are declared",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [a.csv]}}\n  schema: [{name: id, type: string}]\n  rules: {required: [id, customer]}\n",
			wantErr: []string{`pipeline "orders": rules.required[1]: "customer" is not a column of schema`},
		},
		{
			name: "rules on a poll pipeline are not supported yet",
			yaml: `
- name: fx
  table: raw.fx
  rules: {required: [pair]}
  source: {poll: {every: 1h, start: 2025-01-01T00:00:00Z, sql: {driver: sqlite, dsn: ":memory:", query: "SELECT 1"}}}
`,
			wantErr: []string{`pipeline "fx": rules.required: not supported by the poll source yet`},
		},
		{
			name: "a poll pipeline reports every problem, each with its field",
			yaml: `
- name: fx
  table: raw.fx
  source: {poll: {every: 1500ms, http: {url: "https://x/{start}", time_format: iso}}}
`,
			wantErr: []string{
				`pipeline "fx": source.poll.every: 1.5s: want whole seconds`,
				`pipeline "fx": source.poll.start: required`,
				`pipeline "fx": source.poll.http.time_format: "iso"`,
			},
		},
		{
			name:    "a poll pipeline needs exactly one of http and sql",
			yaml:    "- name: fx\n  table: raw.fx\n  source: {poll: {every: 1h, start: 2025-01-01T00:00:00Z}}\n",
			wantErr: []string{`pipeline "fx": source.poll.http: want exactly one of http and sql`},
		},
		{
			name:    "a poll pipeline's unregistered SQL driver is caught by the poll package's own check",
			yaml:    "- name: fx\n  table: raw.fx\n  source: {poll: {every: 1h, start: 2025-01-01T00:00:00Z, sql: {driver: oracle, query: SELECT 1}}}\n",
			wantErr: []string{`pipeline "fx": source.poll:`, `sql driver "oracle" is not registered`},
		},
		{
			name:    "an unset environment variable is an error rather than an empty secret",
			yaml:    "- name: fx\n  table: raw.fx\n  source: {poll: {every: 1h, start: 2025-01-01T00:00:00Z, sql: {driver: pgx, dsn: \"postgres://u:${PIPELINE_TEST_UNSET}@db/x\", query: SELECT 1}}}\n",
			wantErr: []string{`pipeline "fx": source.poll.sql.dsn: environment variable PIPELINE_TEST_UNSET is not set`},
		},
		{
			name:    "a kafka pipeline without brokers or topics is an error",
			yaml:    "- name: k\n  table: raw.k\n  source: {kafka: {brokers: [localhost]}}\n",
			wantErr: []string{`source.kafka.brokers[0]: "localhost": want host:port`, `source.kafka.topics: want at least one topic`},
		},
		{
			name:    "a file or glob of an unknown format is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [in/*.csv, in/*.txt]}}\n",
			wantErr: []string{`pipeline "orders": source.files.paths[1]: unknown file format`},
		},
		{
			name:    "a bad glob pattern is an error",
			yaml:    "- name: orders\n  table: raw.orders\n  source: {files: {paths: [\"in/[a-.csv\"]}}\n",
			wantErr: []string{`pipeline "orders": source.files.paths[0]:`, "syntax error in pattern"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pls, err := pipeline.Parse([]byte(tc.yaml), dir, state)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tc.check(t, pls)
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want an error with %q", tc.wantErr)
			}
			if !errors.Is(err, pipeline.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%v\nlacks %q", err, want)
				}
			}
		})
	}
}

func TestLoadResolvesAgainstTheFilesFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pipelines.yaml")
	if err := os.WriteFile(path, []byte("- {name: a, table: raw.a, source: {files: {paths: [in]}}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pls, err := pipeline.Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pls[0].Source.Files.Paths[0], filepath.Join(dir, "in"); got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	if _, err := pipeline.Load(filepath.Join(dir, "missing.yaml"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loading a missing file: %v, want ErrNotExist", err)
	}
}

func TestTheExampleFileLoads(t *testing.T) {
	pls, err := pipeline.Load(exampleFile, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, p := range pls {
		kinds[p.Source.Kind()] = true
	}
	for _, k := range []string{"files", "http", "poll"} {
		if !kinds[k] {
			t.Errorf("the example has no %s pipeline", k)
		}
	}
}
