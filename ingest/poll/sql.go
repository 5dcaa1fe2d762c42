package poll

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver (PostgreSQL)
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

type sqlFetcher struct {
	cfg *SQL
	db  *sql.DB
}

// newSQLFetcher prepares the connection pool; connections open on first use.
func newSQLFetcher(cfg *SQL) (*sqlFetcher, error) {
	db, err := sql.Open(cfg.Driver, cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", cfg.Driver, err)
	}
	return &sqlFetcher{cfg: cfg, db: db}, nil
}

func (f *sqlFetcher) Close() error {
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("closing %s database: %w", f.cfg.Driver, err)
	}
	return nil
}

// fetch runs the query for the window; each row becomes a JSON object
// keyed by column name.
func (f *sqlFetcher) fetch(ctx context.Context, w Window) (_ *spool, err error) {
	rows, err := f.db.QueryContext(ctx, f.cfg.Query, f.cfg.TimeFormat.format(w.Start), f.cfg.TimeFormat.format(w.End))
	if err != nil {
		return nil, fmt.Errorf("querying window %v: %w", w, err)
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the rows of window %v: %w", w, cerr)
		}
	}()
	cols, err := columnsOf(rows)
	if err != nil {
		return nil, err
	}
	sp, err := newSpool()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, sp.remove())
		}
	}()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var obj bytes.Buffer
	for n := 1; rows.Next(); n++ {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("reading row %d of window %v: %w", n, w, err)
		}
		obj.Reset()
		obj.WriteByte('{')
		for i, c := range cols {
			if i > 0 {
				obj.WriteByte(',')
			}
			obj.Write(c.key)
			obj.WriteByte(':')
			obj.Write(sqlJSON(vals[i], c.numeric))
		}
		obj.WriteByte('}')
		if err := sp.add(obj.Bytes(), fmt.Sprintf("row %d", n)); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the rows of window %v: %w", w, err)
	}
	if err := sp.finish(); err != nil {
		return nil, err
	}
	return sp, nil
}

type sqlColumn struct {
	key     []byte // the name as a JSON string
	numeric bool   // NUMERIC / DECIMAL: drivers hand these over as text
}

func columnsOf(rows *sql.Rows) ([]sqlColumn, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("reading the query's columns: %w", err)
	}
	seen := map[string]bool{}
	cols := make([]sqlColumn, len(types))
	for i, t := range types {
		if seen[t.Name()] {
			return nil, fmt.Errorf("the query returns column %q twice: give one an alias", t.Name())
		}
		seen[t.Name()] = true
		key, _ := json.Marshal(t.Name()) // a string always marshals
		db := strings.ToUpper(t.DatabaseTypeName())
		cols[i] = sqlColumn{key: key, numeric: strings.HasPrefix(db, "NUMERIC") || strings.HasPrefix(db, "DECIMAL")}
	}
	return cols, nil
}

// sqlJSON writes a scanned value as JSON in the form the files source
// types best: numbers bare, times as RFC 3339 text in UTC, text as
// strings, binary as base64 unless it is UTF-8 text.
func sqlJSON(v any, numeric bool) []byte {
	var out any
	switch x := v.(type) {
	case nil:
		return []byte("null")
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			out = fmt.Sprint(x)
		} else {
			out = x
		}
	case float32:
		return sqlJSON(float64(x), numeric)
	case time.Time:
		out = x.UTC().Format(time.RFC3339Nano)
	case []byte:
		if numeric && isJSONNumber(x) {
			return x
		}
		if utf8.Valid(x) {
			out = string(x)
		} else {
			out = base64.StdEncoding.EncodeToString(x)
		}
	case string:
		if numeric && isJSONNumber([]byte(x)) {
			return []byte(x)
		}
		out = x
	case bool, int64, int32, int16, int8, int, uint64, uint32, uint16, uint8, uint:
		out = x
	default:
		out = fmt.Sprint(x)
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v)) // a string always marshals
	}
	return b
}

func isJSONNumber(b []byte) bool {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal(b, &n) == nil
}
