// Package pipeline runs ingestion declared in YAML. A pipeline names a
// source (new files in a folder, an HTTP collector, Kafka topics, or an API
// or SQL query polled per time window), the zone table it lands in, and
// optionally the table's declared columns, its partitioning, when buffered
// records are flushed and which fields every record must carry.
//
// Load reads and checks a pipelines file; Run runs every pipeline in its
// own goroutine until the context ends, restarting a failed one with
// backoff; Status reads from the lake what each pipeline has landed;
// Backfill (re)lands a range of a polled pipeline's windows. Landing goes
// through the source packages (files, collector, kafka, poll), so each
// file, window, spool segment or Kafka flush is committed once.
//
// A pipelines file is a YAML list:
//
//	# pipelines.yaml
//	- name: orders-files
//	  table: raw.orders
//	  source:
//	    files: {paths: [incoming/orders/*.csv], poll_interval: 10s}
//	  schema:
//	    - {name: order_id, type: string}
//	    - {name: amount, type: double}
//	  partition: [day(_ingested_at)]
//	  rules: {required: [order_id]}
//	- name: clickstream
//	  table: raw.events
//	  source:
//	    http: {addr: 127.0.0.1:8088}
//	  flush: {rows: 10000, interval: 5s}
//	- name: fx-rates
//	  table: raw.fx_rates
//	  source:
//	    poll:
//	      every: 1h
//	      start: 2025-01-01T00:00:00Z
//	      http: {url: "https://api.example.com/rates?from={start}&to={end}", items: data}
//
// deploy/pipelines.example.yaml shows every source with comments.
package pipeline

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Pipeline is one source landing in one table.
type Pipeline struct {
	// Name identifies the pipeline in logs, metrics and the CLI: lower-case
	// letters, digits, '-' and '_'. Required; unique in a file.
	Name string `yaml:"name"`
	// Table is the <zone>.<table> the records land in; rejects land in
	// <zone>.<table>__quarantine. Required; one pipeline per table.
	Table string `yaml:"table"`
	// Source says where the records come from: exactly one of its fields.
	Source Source `yaml:"source"`
	// Schema declares the table's columns, in order. When set, the table
	// and its quarantine table are created with these columns (plus the
	// lineage columns) before the source starts, so every source reads
	// into them; a table that exists keeps its own columns. Default: the
	// table's columns, or for a new table columns inferred from the first
	// records.
	Schema []Column `yaml:"schema"`
	// Partition is the table's partitioning in Trino's notation: col
	// (identity), year(col), month(col), day(col), hour(col),
	// bucket(col, n) or truncate(col, n). Lineage columns count, e.g.
	// day(_ingested_at). Needs Schema. Fields the table's spec lacks are
	// added (partition evolution) before the source starts; fields it has
	// beyond these are kept. Default: unpartitioned.
	Partition []string `yaml:"partition"`
	// Flush says when buffered records are committed, for the http and
	// kafka sources; files and poll commit one file or window at a time.
	Flush Flush `yaml:"flush"`
	// Rules are checks every record must pass; a record that fails lands
	// in the quarantine table with the reason.
	Rules Rules `yaml:"rules"`
}

// Column is a declared column.
type Column struct {
	// Name is the column's name: the CSV header, the JSON field.
	Name string `yaml:"name"`
	// Type is one of boolean, int, long, float, double, date, string,
	// timestamp (without zone) and timestamptz (with zone, kept in UTC);
	// bigint, integer, real, varchar and bool are accepted as aliases.
	Type string `yaml:"type"`
}

// Flush bounds what the http and kafka sources buffer before a commit.
type Flush struct {
	// Rows commits once this many records are buffered. Default 10000 for
	// http, 100000 for kafka.
	Rows int `yaml:"rows"`
	// Interval commits once the oldest buffered record is this old.
	// Default 5s for http, 10s for kafka.
	Interval time.Duration `yaml:"interval"`
}

// Rules are record checks. They apply to the files and http sources.
type Rules struct {
	// Required lists fields every record must carry, not null; a record
	// without one is quarantined ("missing required field ...").
	Required []string `yaml:"required"`
}

// Source is where a pipeline's records come from: exactly one field is set.
type Source struct {
	Files *Files `yaml:"files"`
	HTTP  *HTTP  `yaml:"http"`
	Kafka *Kafka `yaml:"kafka"`
	Poll  *Poll  `yaml:"poll"`
}

// Files picks up new files: CSV (.csv, .tsv), NDJSON (.ndjson, .jsonl),
// JSON (.json) and Parquet (.parquet), the format told by the extension.
// Each file lands once, in one commit, under a batch id derived from its
// path and content; a file whose content changes lands again.
type Files struct {
	// Paths are files, folders (the files directly in them) or glob
	// patterns (incoming/*.csv, 2025-*/orders-*.ndjson). In folders and
	// globs, names starting with '.' or '_' are ignored, so a writer can
	// write under such a name and rename when done. Relative paths resolve
	// against the pipelines file's folder. Required.
	Paths []string `yaml:"paths"`
	// PollInterval is how often the paths are listed for new files.
	// Default 10s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Settle is how long a file must go unmodified before it is landed,
	// so that a file still being copied in is not landed half. Default 2s.
	Settle time.Duration `yaml:"settle"`
	// SampleRows is how many records of a CSV or JSON file are inspected
	// to infer column types when the table does not exist. Default 10000.
	SampleRows int `yaml:"sample_rows"`
}

// HTTP runs an event collector: POST /v1/events with a JSON object, a JSON
// array of objects or NDJSON; an acknowledged request is on local disk and
// lands once (see package collector).
type HTTP struct {
	// Addr is the listen address. Default 127.0.0.1:8088.
	Addr string `yaml:"addr"`
	// SpoolDir holds the write-ahead spool of acknowledged events; one
	// pipeline per folder. Relative paths resolve against the pipelines
	// file's folder. Default <state dir>/pipelines/<name>/spool (see Load).
	SpoolDir string `yaml:"spool_dir"`
	// MaxBodyBytes bounds a request body. Default 4 MiB; at most 16 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Kafka consumes topics of JSON records as a consumer group member (see
// package kafka); the table's snapshot history, not the group's offsets,
// says where to resume.
type Kafka struct {
	// Brokers are seed brokers, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// Topics are consumed together into the table. Required.
	Topics []string `yaml:"topics"`
	// Group is the consumer group. Default lakehouse-<name>.
	Group string `yaml:"group"`
	// InstanceID, when set, makes the process a static group member.
	InstanceID string `yaml:"instance_id"`
	// StartAtEnd starts partitions the table holds nothing of at their end
	// instead of their beginning. Default false.
	StartAtEnd bool `yaml:"start_at_end"`
}

// Poll fetches fixed time windows [start, end) from an API or a database,
// each landed once when it closes; after downtime the missed windows land
// (see package poll). Exactly one of HTTP and SQL is set.
type Poll struct {
	// Every is the window length, in whole seconds. Required.
	Every time.Duration `yaml:"every"`
	// Start is the start of the first window (RFC 3339, or a date for
	// midnight UTC); windows are aligned to it. Required.
	Start time.Time `yaml:"start"`
	// Delay is how long after a window's end it is fetched, for late
	// records to arrive. Default 0.
	Delay time.Duration `yaml:"delay"`
	// Horizon, when set, is how far back the source keeps data: older
	// windows are not fetched by the runner (backfill still tries them).
	// Default 0: back to Start.
	Horizon time.Duration `yaml:"horizon"`
	// HTTP fetches a window with GET requests.
	HTTP *PollHTTP `yaml:"http"`
	// SQL fetches a window with one query.
	SQL *PollSQL `yaml:"sql"`
	// Retry says how a failing window is tried again.
	Retry PollRetry `yaml:"retry"`
}

// PollHTTP fetches one window over HTTP.
type PollHTTP struct {
	// URL is the request URL; {start} and {end} become the window's
	// bounds, {page} the page number from 1. Required.
	URL string `yaml:"url"`
	// Headers are sent with each request ({start} and {end} replaced);
	// write secrets as ${ENV_VAR}.
	Headers map[string]string `yaml:"headers"`
	// TimeFormat writes {start} and {end}: rfc3339, unix or unixms.
	// Default rfc3339.
	TimeFormat string `yaml:"time_format"`
	// Items is the dotted path of the records array in a JSON object
	// response ("data.prices"). Default: the body is a JSON array or NDJSON.
	Items string `yaml:"items"`
	// Next is the dotted path of the next page's URL in the response.
	// Default: a Link header with rel="next" is followed.
	Next string `yaml:"next"`
	// MaxPages bounds the pages of one window. Default 1000.
	MaxPages int `yaml:"max_pages"`
	// Timeout bounds one request. Default 1m.
	Timeout time.Duration `yaml:"timeout"`
}

// PollSQL fetches one window with a database/sql query.
type PollSQL struct {
	// Driver is sqlite or pgx (PostgreSQL). Required.
	Driver string `yaml:"driver"`
	// DSN is the driver's data source name; write secrets as ${ENV_VAR}.
	DSN string `yaml:"dsn"`
	// Query selects one window's records; its parameters $1 and $2 are
	// the window's start and end. Required.
	Query string `yaml:"query"`
	// TimeFormat passes start and end as rfc3339 text, unix, unixms or
	// native (time values). Default rfc3339.
	TimeFormat string `yaml:"time_format"`
}

// PollRetry says how a failing window is tried again; a window is never
// skipped because it failed.
type PollRetry struct {
	// Attempts is how often a window is tried in one pass. Default 3.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait after the first failed try, doubled after each.
	// Default 1s.
	Backoff time.Duration `yaml:"backoff"`
	// After is the wait before the next pass over a window that failed
	// every try. Default 1m.
	After time.Duration `yaml:"after"`
}

// Kind is "files", "http", "kafka" or "poll"; "" when no source is set.
func (s Source) Kind() string {
	switch {
	case s.Files != nil:
		return "files"
	case s.HTTP != nil:
		return "http"
	case s.Kafka != nil:
		return "kafka"
	case s.Poll != nil:
		return "poll"
	}
	return ""
}

// String describes the source in a line, without secrets: for banners
// and status tables.
func (s Source) String() string {
	switch {
	case s.Files != nil:
		return fmt.Sprintf("files %s every %s", strings.Join(s.Files.Paths, ", "), short(s.Files.PollInterval))
	case s.HTTP != nil:
		return "http POST http://" + s.HTTP.Addr + "/v1/events"
	case s.Kafka != nil:
		return fmt.Sprintf("kafka %s from %s (group %s)", strings.Join(s.Kafka.Topics, ","), strings.Join(s.Kafka.Brokers, ","), s.Kafka.Group)
	case s.Poll != nil && s.Poll.HTTP != nil:
		return fmt.Sprintf("poll %s every %s", bareURL(s.Poll.HTTP.URL), short(s.Poll.Every))
	case s.Poll != nil && s.Poll.SQL != nil:
		return fmt.Sprintf("poll sql:%s every %s", s.Poll.SQL.Driver, short(s.Poll.Every))
	}
	return "no source"
}

// bareURL drops the query and credentials, which may hold secrets.
func bareURL(raw string) string {
	u, err := url.Parse(strings.NewReplacer("{start}", "s", "{end}", "e", "{page}", "1").Replace(raw))
	if err != nil {
		return "(url)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// short writes 1h rather than 1h0m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
