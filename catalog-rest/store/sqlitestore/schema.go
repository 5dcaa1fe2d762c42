package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// A database's schema_version says which migrations it had, not that they
// were these: an early development build edited migration 1 in place, so
// a file it left has version 1 and 2 and other tables. Open therefore
// compares the tables, columns and indexes with what the migrations make
// in a scratch in-memory database, before migrating further and after.

// column is one row of pragma_table_info.
type column struct {
	name, typ string
	notNull   bool
	dflt      sql.NullString
	pk        int
}

func (c column) String() string {
	s := c.typ
	if c.notNull {
		s += " NOT NULL"
	}
	if c.dflt.Valid {
		s += " DEFAULT " + c.dflt.String
	}
	if c.pk > 0 {
		s += " PRIMARY KEY"
	}
	return s
}

// schema is what the migrations make: each table's columns in order, and
// the names of the indexes.
type schema struct {
	tables  map[string][]column
	indexes map[string]bool
}

// bookkeeping tables are not made by the migrations.
func bookkeeping(name string) bool {
	return name == "schema_version" || strings.HasPrefix(name, "sqlite_")
}

// readSchema reads the schema of db (on one connection, so that an
// in-memory database is the same one throughout).
func readSchema(ctx context.Context, conn *sql.Conn) (schema, error) {
	sc := schema{tables: map[string][]column{}, indexes: map[string]bool{}}
	rows, err := conn.QueryContext(ctx, `SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name`)
	if err != nil {
		return sc, err
	}
	var tables []string
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			return sc, errors.Join(err, rows.Close())
		}
		switch {
		case bookkeeping(name):
		case typ == "table":
			tables = append(tables, name)
		default:
			sc.indexes[name] = true
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return sc, err
	}
	for _, t := range tables {
		cols, err := tableColumns(ctx, conn, t)
		if err != nil {
			return sc, err
		}
		sc.tables[t] = cols
	}
	return sc, nil
}

func tableColumns(ctx context.Context, conn *sql.Conn, table string) ([]column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.dflt, &c.pk); err != nil {
			return nil, err
		}
		c.typ = strings.ToUpper(c.typ)
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// expected caches the schema of each version, made once per process.
var expected struct {
	mu       sync.Mutex
	versions map[int]schema
}

// expectedSchema is the schema migrations[:version] make in a scratch
// in-memory database.
func expectedSchema(ctx context.Context, version int) (schema, error) {
	expected.mu.Lock()
	defer expected.mu.Unlock()
	if sc, ok := expected.versions[version]; ok {
		return sc, nil
	}
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		return schema{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return schema{}, err
	}
	defer conn.Close()
	for i, m := range migrations[:version] {
		if _, err := conn.ExecContext(ctx, m); err != nil {
			return schema{}, fmt.Errorf("applying migration %d to a scratch database: %w", i+1, err)
		}
	}
	sc, err := readSchema(ctx, conn)
	if err != nil {
		return schema{}, err
	}
	if expected.versions == nil {
		expected.versions = map[int]schema{}
	}
	expected.versions[version] = sc
	return sc, nil
}

// differences lists what got lacks or has otherwise than want; tables
// and indexes want does not know are left alone.
func differences(got, want schema) []string {
	var out []string
	for _, t := range slices.Sorted(maps.Keys(want.tables)) {
		gotCols, ok := got.tables[t]
		if !ok {
			out = append(out, fmt.Sprintf("table %s is missing", t))
			continue
		}
		gotByName := map[string]column{}
		for _, c := range gotCols {
			gotByName[c.name] = c
		}
		wantByName := map[string]bool{}
		for _, w := range want.tables[t] {
			wantByName[w.name] = true
			g, ok := gotByName[w.name]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("table %s lacks column %s", t, w.name))
			case g.String() != w.String():
				out = append(out, fmt.Sprintf("column %s.%s is %s, want %s", t, w.name, g, w))
			}
		}
		for _, g := range gotCols {
			if !wantByName[g.name] {
				out = append(out, fmt.Sprintf("table %s has column %s, which this lakehouse does not make", t, g.name))
			}
		}
	}
	for _, ix := range slices.Sorted(maps.Keys(want.indexes)) {
		if !got.indexes[ix] {
			out = append(out, fmt.Sprintf("index %s is missing", ix))
		}
	}
	return out
}

// verifySchema checks that the database at path, at version, has the
// schema that migrations[:version] make.
func (s *Store) verifySchema(ctx context.Context, path string, version int) error {
	want, err := expectedSchema(ctx, version)
	if err != nil {
		return fmt.Errorf("verifying the schema of catalog database %s: %w", path, err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("verifying the schema of catalog database %s: %w", path, err)
	}
	got, err := readSchema(ctx, conn)
	if err := errors.Join(err, conn.Close()); err != nil {
		return fmt.Errorf("verifying the schema of catalog database %s: %w", path, err)
	}
	diffs := differences(got, want)
	if version == 0 && len(got.tables) > 0 {
		diffs = append(diffs, fmt.Sprintf("it has tables (%s) but no schema version", strings.Join(slices.Sorted(maps.Keys(got.tables)), ", ")))
	}
	if len(diffs) == 0 {
		return nil
	}
	const most = 5
	if len(diffs) > most {
		diffs = append(diffs[:most], fmt.Sprintf("and %d more", len(diffs)-most))
	}
	return fmt.Errorf("catalog database %s (schema version %d) is not what this lakehouse makes: %s; "+
		"it was made by an incompatible development build (or another program). Move it aside (or start with a fresh state directory) "+
		"and register or land the tables again: %w",
		path, version, strings.Join(diffs, "; "), store.ErrIncompatibleSchema)
}
