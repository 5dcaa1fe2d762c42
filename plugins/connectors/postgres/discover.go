package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// tableInfo is one table or view as the catalog describes it.
type tableInfo struct {
	schema, name string
	kind         byte // pg_class.relkind: r, p, v, m
	cols         []colInfo
	pk           []string
	cursor       string // the configured incremental cursor, if any
}

type colInfo struct {
	name     string
	typname  string // pg_type.typname
	elem     string // the element's typname, for arrays
	typmod   int32
	format   string // format_type: the SQL type, to cast state values back
	arrow    arrow.DataType
	selected string // the SELECT expression
}

const columnsQuery = `
SELECT c.relname, c.relkind, a.attname, t.typname, coalesce(et.typname, ''), a.atttypmod,
       format_type(a.atttypid, a.atttypmod)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY c.relname, a.attnum`

const primaryKeysQuery = `
SELECT c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
WHERE i.indisprimary AND n.nspname = $1
ORDER BY c.relname, array_position(i.indkey::int2[], a.attnum)`

// discover reads the schema's tables from pg_catalog.
func discover(ctx context.Context, conn *pgx.Conn, cfg Config) ([]*tableInfo, error) {
	rows, err := conn.Query(ctx, columnsQuery, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("listing columns of schema %q: %w", cfg.Schema, err)
	}
	var tables []*tableInfo
	byName := map[string]*tableInfo{}
	for rows.Next() {
		var rel string
		var kind byte
		var c colInfo
		if err := rows.Scan(&rel, &kind, &c.name, &c.typname, &c.elem, &c.typmod, &c.format); err != nil {
			return nil, fmt.Errorf("listing columns of schema %q: %w", cfg.Schema, err)
		}
		if len(cfg.Tables) > 0 && !slices.Contains(cfg.Tables, rel) {
			continue
		}
		t := byName[rel]
		if t == nil {
			t = &tableInfo{schema: cfg.Schema, name: rel, kind: kind, cursor: cfg.Incremental[rel]}
			byName[rel] = t
			tables = append(tables, t)
		}
		var text bool
		c.arrow, text = arrowType(c.typname, c.elem, c.typmod)
		c.selected = pgx.Identifier{c.name}.Sanitize()
		if text && c.elem != "" {
			c.selected += "::text[]"
		} else if text {
			c.selected += "::text"
		}
		t.cols = append(t.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing columns of schema %q: %w", cfg.Schema, err)
	}
	if err := primaryKeys(ctx, conn, cfg.Schema, byName); err != nil {
		return nil, err
	}
	for _, name := range cfg.Tables {
		if byName[name] == nil {
			return nil, fmt.Errorf("table %q is not in schema %q", name, cfg.Schema)
		}
	}
	for _, t := range tables {
		if t.cursor != "" && t.col(t.cursor) == nil {
			return nil, fmt.Errorf("table %q has no cursor column %q", t.name, t.cursor)
		}
	}
	return tables, nil
}

func primaryKeys(ctx context.Context, conn *pgx.Conn, schema string, byName map[string]*tableInfo) error {
	rows, err := conn.Query(ctx, primaryKeysQuery, schema)
	if err != nil {
		return fmt.Errorf("listing primary keys of schema %q: %w", schema, err)
	}
	for rows.Next() {
		var rel, col string
		if err := rows.Scan(&rel, &col); err != nil {
			return fmt.Errorf("listing primary keys of schema %q: %w", schema, err)
		}
		if t := byName[rel]; t != nil {
			t.pk = append(t.pk, col)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("listing primary keys of schema %q: %w", schema, err)
	}
	return nil
}

func (t *tableInfo) col(name string) *colInfo {
	for i := range t.cols {
		if t.cols[i].name == name {
			return &t.cols[i]
		}
	}
	return nil
}

// schema is the stream's Arrow schema: every column nullable, as the raw
// zone keeps what it receives.
func (t *tableInfo) arrowSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(t.cols))
	for i, c := range t.cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.arrow, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

func (t *tableInfo) stream() sdk.Stream {
	st := sdk.Stream{Name: t.name, Schema: t.arrowSchema(), PrimaryKey: t.pk, SyncModes: []sdk.SyncMode{sdk.FullRefresh}}
	if t.cursor != "" && len(t.pk) > 0 {
		st.CursorFields = []string{t.cursor}
		st.SyncModes = append(st.SyncModes, sdk.Incremental)
	}
	return st
}
