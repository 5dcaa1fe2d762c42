// Package postgres is the bundled PostgreSQL connector: every table (and
// view) of one schema is a stream, discovered from the database's catalog;
// a full refresh reads a table in primary-key order (ctid order without a
// primary key), an incremental read follows a configured cursor column
// (ties broken by the primary key), in batches of batch_size rows, each
// batch followed by a checkpoint. Types are mapped to Arrow as types.go
// says.
package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Version is the connector's version.
const Version = "1.0.0"

// Config is the connector's configuration.
type Config struct {
	// DSN is a libpq connection string or URL.
	DSN string `json:"dsn"`
	// Schema whose tables are streams. Default public.
	Schema string `json:"schema"`
	// Tables limits the streams; empty offers every table and view.
	Tables []string `json:"tables"`
	// BatchSize is the number of rows per batch and checkpoint. Default
	// 10000.
	BatchSize int `json:"batch_size"`
	// Incremental names, per table, the cursor column incremental reads
	// follow (e.g. updated_at). Only these tables offer incremental reads;
	// rows whose cursor is null are not read incrementally.
	Incremental map[string]string `json:"incremental"`
}

const spec = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "PostgreSQL source",
  "type": "object",
  "required": ["dsn"],
  "additionalProperties": false,
  "properties": {
    "dsn": {"type": "string", "minLength": 1, "description": "libpq connection string or postgres:// URL"},
    "schema": {"type": "string", "default": "public"},
    "tables": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 10000},
    "incremental": {"type": "object", "additionalProperties": {"type": "string"},
      "description": "table name → cursor column for incremental reads"}
  }
}`

func parseConfig(raw json.RawMessage) (Config, error) {
	cfg := Config{Schema: "public", BatchSize: 10000}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Config{}, fmt.Errorf("parsing config: %w", err)
	}
	if cfg.DSN == "" {
		return Config{}, fmt.Errorf("parsing config: dsn is empty")
	}
	return cfg, nil
}

// Connector reads PostgreSQL.
type Connector struct{ sdk.Unimplemented }

// Info names the connector.
func (Connector) Info() sdk.Info { return sdk.Info{Name: "postgres", Version: Version} }

// Spec is the configuration's JSON Schema.
func (Connector) Spec() []byte { return []byte(spec) }

// Check connects and looks for the schema.
func (Connector) Check(ctx context.Context, raw json.RawMessage) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", cfg.Schema).Scan(&exists); err != nil {
		return fmt.Errorf("looking up schema %q: %w", cfg.Schema, err)
	}
	if !exists {
		return fmt.Errorf("schema %q does not exist", cfg.Schema)
	}
	return nil
}

// Discover lists the schema's tables.
func (Connector) Discover(ctx context.Context, raw json.RawMessage) ([]sdk.Stream, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := discover(ctx, conn, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.Stream, 0, len(tables))
	for _, t := range tables {
		out = append(out, t.stream())
	}
	return out, nil
}

// Read reads the requested tables one after the other.
func (Connector) Read(ctx context.Context, raw json.RawMessage, streams []sdk.StreamRead, w sdk.Writer) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("connecting: %w", err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tables, err := discover(ctx, conn, cfg)
	if err != nil {
		return err
	}
	for _, sr := range streams {
		i := slices.IndexFunc(tables, func(t *tableInfo) bool { return t.name == sr.Name })
		if i < 0 {
			return fmt.Errorf("stream %q: no such table in schema %q", sr.Name, cfg.Schema)
		}
		if err := readTable(ctx, conn, cfg, tables[i], sr, w); err != nil {
			return fmt.Errorf("reading table %q: %w", sr.Name, err)
		}
	}
	return nil
}
