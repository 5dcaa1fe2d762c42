package http

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Config is the connector's configuration.
type Config struct {
	BaseURL string            `json:"base_url"`
	Auth    Auth              `json:"auth"`
	Headers map[string]string `json:"headers"`
	// RequestsPerSecond limits the request rate; 0 is unlimited.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// MaxRetries bounds the retries of one request after a 429, a 5xx or a
	// network error. Default 5.
	MaxRetries int `json:"max_retries"`
	// RetryBackoffMS is the first retry's wait when the server names none
	// (Retry-After), doubled for each next one. Default 500.
	RetryBackoffMS int `json:"retry_backoff_ms"`
	// TimeoutMS bounds one request. Default 30000.
	TimeoutMS int          `json:"timeout_ms"`
	Streams   []StreamSpec `json:"streams"`
}

// Auth says how requests authenticate.
type Auth struct {
	Type     string `json:"type"` // none, bearer, basic or api_key
	Token    string `json:"token"`
	Username string `json:"username"`
	Password string `json:"password"`
	Key      string `json:"key"`
	Header   string `json:"header"`      // api_key: header name, default X-API-Key
	Query    string `json:"query_param"` // api_key: send as this query parameter instead
}

// StreamSpec is one endpoint.
type StreamSpec struct {
	Name string `json:"name"`
	Path string `json:"path"` // appended to base_url; may carry a query
	// RecordsPath is the dot path of the records array in the response,
	// e.g. "data" or "result.items"; empty when the response is the array.
	RecordsPath string     `json:"records_path"`
	PrimaryKey  []string   `json:"primary_key"`
	Fields      []Field    `json:"fields"`
	Pagination  Pagination `json:"pagination"`
	Incremental *Incr      `json:"incremental"`
}

// Field is one column: a top-level field of each record (or a dot path in
// Path).
type Field struct {
	Name string `json:"name"`
	Path string `json:"path"` // default Name
	// Type: string, int64, float64, bool, timestamp, date, json or
	// decimal(p,s).
	Type string `json:"type"`
}

// Pagination says how to get the next page.
type Pagination struct {
	// Type: none, page (page number), offset, cursor (a token in the
	// response) or link (the Link header's rel="next").
	Type        string `json:"type"`
	PageParam   string `json:"page_param"`   // page: default "page"
	StartPage   int    `json:"start_page"`   // page: default 1
	OffsetParam string `json:"offset_param"` // offset: default "offset"
	SizeParam   string `json:"size_param"`   // page, offset, cursor: default "limit"
	Size        int    `json:"size"`         // page size, default 100
	CursorParam string `json:"cursor_param"` // cursor: default "cursor"
	CursorPath  string `json:"cursor_path"`  // cursor: dot path of the next token, default "next_cursor"
}

// Incr makes a stream incremental by an updated-at field.
type Incr struct {
	Field string `json:"field"` // the cursor field (a declared field of type timestamp, int64 or string)
	// Param, when set, sends the last committed cursor as this query
	// parameter, for servers that filter (inclusively) by it.
	Param string `json:"param"`
}

const spec = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "HTTP JSON API source",
  "type": "object",
  "required": ["base_url", "streams"],
  "additionalProperties": false,
  "$defs": {
    "field": {"type": "object", "required": ["name", "type"], "additionalProperties": false,
      "properties": {"name": {"type": "string", "minLength": 1}, "path": {"type": "string"},
        "type": {"type": "string", "pattern": "^(string|int64|float64|bool|timestamp|date|json|decimal\\(\\d+,\\s*\\d+\\))$"}}}
  },
  "properties": {
    "base_url": {"type": "string", "pattern": "^https?://"},
    "auth": {"type": "object", "additionalProperties": false, "properties": {
      "type": {"enum": ["none", "bearer", "basic", "api_key"]},
      "token": {"type": "string"}, "username": {"type": "string"}, "password": {"type": "string"},
      "key": {"type": "string"}, "header": {"type": "string"}, "query_param": {"type": "string"}}},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "requests_per_second": {"type": "number", "minimum": 0},
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 50},
    "retry_backoff_ms": {"type": "integer", "minimum": 0},
    "timeout_ms": {"type": "integer", "minimum": 1},
    "streams": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name", "path", "fields"],
      "additionalProperties": false, "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"},
        "path": {"type": "string"},
        "records_path": {"type": "string"},
        "primary_key": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/field"}},
        "pagination": {"type": "object", "additionalProperties": false, "properties": {
          "type": {"enum": ["none", "page", "offset", "cursor", "link"]},
          "page_param": {"type": "string"}, "start_page": {"type": "integer"}, "offset_param": {"type": "string"},
          "size_param": {"type": "string"}, "size": {"type": "integer", "minimum": 1},
          "cursor_param": {"type": "string"}, "cursor_path": {"type": "string"}}},
        "incremental": {"type": "object", "required": ["field"], "additionalProperties": false, "properties": {
          "field": {"type": "string"}, "param": {"type": "string"}}}}}}
  }
}`

func parseConfig(raw json.RawMessage) (Config, error) {
	cfg := Config{MaxRetries: 5, RetryBackoffMS: 500, TimeoutMS: 30000}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Config{}, fmt.Errorf("parsing config: %w", err)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	for i := range cfg.Streams {
		p := &cfg.Streams[i].Pagination
		p.Type = or(p.Type, "none")
		p.PageParam = or(p.PageParam, "page")
		p.OffsetParam = or(p.OffsetParam, "offset")
		p.SizeParam = or(p.SizeParam, "limit")
		p.CursorParam = or(p.CursorParam, "cursor")
		p.CursorPath = or(p.CursorPath, "next_cursor")
		if p.Size == 0 {
			p.Size = 100
		}
		if p.StartPage == 0 {
			p.StartPage = 1
		}
		for j := range cfg.Streams[i].Fields {
			f := &cfg.Streams[i].Fields[j]
			f.Path = or(f.Path, f.Name)
		}
	}
	return cfg, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var decimalType = regexp.MustCompile(`^decimal\((\d+),\s*(\d+)\)$`)

// arrowType maps a field type of the config to Arrow.
func arrowType(t string) (arrow.DataType, error) {
	switch t {
	case "string", "json":
		return arrow.BinaryTypes.String, nil
	case "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "float64":
		return arrow.PrimitiveTypes.Float64, nil
	case "bool":
		return arrow.FixedWidthTypes.Boolean, nil
	case "timestamp":
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	}
	if m := decimalType.FindStringSubmatch(t); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if p < 1 || p > 38 || s > p {
			return nil, fmt.Errorf("type %s: precision must be 1 to 38 and scale at most the precision", t)
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, nil
	}
	return nil, fmt.Errorf("unknown field type %q", t)
}

// schema is a stream's Arrow schema, every column nullable.
func (s StreamSpec) schema() (*arrow.Schema, error) {
	fields := make([]arrow.Field, len(s.Fields))
	for i, f := range s.Fields {
		dt, err := arrowType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("stream %s, field %s: %w", s.Name, f.Name, err)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

func (s StreamSpec) field(name string) (int, bool) {
	for i, f := range s.Fields {
		if f.Name == name {
			return i, true
		}
	}
	return 0, false
}
