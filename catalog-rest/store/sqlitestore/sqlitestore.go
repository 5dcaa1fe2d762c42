// Package sqlitestore keeps the catalog's state in a SQLite file (WAL mode,
// pure Go driver, no cgo): the embedded default of `lakehouse up`.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// migrations are applied in order; each index is a schema version. Never edit
// a released entry: append a new one.
var migrations = []string{
	`CREATE TABLE namespaces (
		name       TEXT PRIMARY KEY,
		parent     TEXT NOT NULL,
		properties TEXT NOT NULL DEFAULT '{}'
	);
	CREATE INDEX namespaces_parent ON namespaces(parent);
	CREATE TABLE tables (
		namespace         TEXT NOT NULL REFERENCES namespaces(name),
		name              TEXT NOT NULL,
		metadata_location TEXT NOT NULL,
		metadata          BLOB NOT NULL,
		PRIMARY KEY (namespace, name)
	);`,
}

// Store is a store.Store over one SQLite file.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening catalog database %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	var version int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for v := version; v < len(migrations); v++ {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("applying catalog migration %d: %w", v+1, err)
		}
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func parentKey(levels []string) string {
	if len(levels) <= 1 {
		return ""
	}
	return store.Key(levels[:len(levels)-1])
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateNamespace creates ns; its parent must exist for nested namespaces.
func (s *Store) CreateNamespace(ctx context.Context, ns store.Namespace) error {
	props, err := json.Marshal(nonNil(ns.Properties))
	if err != nil {
		return fmt.Errorf("encoding namespace properties: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if p := parentKey(ns.Levels); p != "" {
			if err := namespaceExists(ctx, tx, p); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO namespaces (name, parent, properties) VALUES (?, ?, ?)`,
			store.Key(ns.Levels), parentKey(ns.Levels), string(props))
		if isUniqueViolation(err) {
			return store.ErrNamespaceExists
		}
		return err
	})
}

func namespaceExists(ctx context.Context, tx *sql.Tx, key string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM namespaces WHERE name = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNamespaceNotFound
	}
	return err
}

// LoadNamespace returns the namespace and its properties.
func (s *Store) LoadNamespace(ctx context.Context, levels []string) (store.Namespace, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT properties FROM namespaces WHERE name = ?`, store.Key(levels)).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Namespace{}, store.ErrNamespaceNotFound
	}
	if err != nil {
		return store.Namespace{}, fmt.Errorf("loading namespace: %w", err)
	}
	props := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &props); err != nil {
		return store.Namespace{}, fmt.Errorf("decoding namespace properties: %w", err)
	}
	return store.Namespace{Levels: slices.Clone(levels), Properties: props}, nil
}

// ListNamespaces lists the direct children of parent.
func (s *Store) ListNamespaces(ctx context.Context, parent []string) ([][]string, error) {
	if len(parent) > 0 {
		if _, err := s.LoadNamespace(ctx, parent); err != nil {
			return nil, err
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM namespaces WHERE parent = ? ORDER BY name`, store.Key(parent))
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	defer rows.Close()
	out := [][]string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		out = append(out, store.Levels(name))
	}
	return out, rows.Err()
}

// UpdateNamespace sets and removes properties in one transaction.
func (s *Store) UpdateNamespace(ctx context.Context, levels []string, updates map[string]string, removals []string) (store.PropertyChanges, error) {
	var ch store.PropertyChanges
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, `SELECT properties FROM namespaces WHERE name = ?`, store.Key(levels)).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNamespaceNotFound
		}
		if err != nil {
			return err
		}
		props := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &props); err != nil {
			return fmt.Errorf("decoding namespace properties: %w", err)
		}
		for _, k := range removals {
			if _, ok := props[k]; ok {
				delete(props, k)
				ch.Removed = append(ch.Removed, k)
			} else {
				ch.Missing = append(ch.Missing, k)
			}
		}
		for k, v := range updates {
			props[k] = v
			ch.Updated = append(ch.Updated, k)
		}
		slices.Sort(ch.Updated)
		enc, err := json.Marshal(props)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE namespaces SET properties = ? WHERE name = ?`, string(enc), store.Key(levels))
		return err
	})
	return ch, err
}

// DropNamespace removes an empty namespace.
func (s *Store) DropNamespace(ctx context.Context, levels []string) error {
	key := store.Key(levels)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := namespaceExists(ctx, tx, key); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx,
			`SELECT (SELECT count(*) FROM tables WHERE namespace = ?) + (SELECT count(*) FROM namespaces WHERE parent = ?)`,
			key, key).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return store.ErrNamespaceNotEmpty
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM namespaces WHERE name = ?`, key)
		return err
	})
}

// CreateTable registers a new table.
func (s *Store) CreateTable(ctx context.Context, t store.Table) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := namespaceExists(ctx, tx, store.Key(t.Namespace)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tables (namespace, name, metadata_location, metadata) VALUES (?, ?, ?, ?)`,
			store.Key(t.Namespace), t.Name, t.MetadataLocation, nonNilBytes(t.Metadata))
		if isUniqueViolation(err) {
			return store.ErrTableExists
		}
		return err
	})
}

// LoadTable returns the table's entry.
func (s *Store) LoadTable(ctx context.Context, ns []string, name string) (store.Table, error) {
	t := store.Table{Namespace: slices.Clone(ns), Name: name}
	err := s.db.QueryRowContext(ctx,
		`SELECT metadata_location, metadata FROM tables WHERE namespace = ? AND name = ?`,
		store.Key(ns), name).Scan(&t.MetadataLocation, &t.Metadata)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Table{}, store.ErrTableNotFound
	}
	if err != nil {
		return store.Table{}, fmt.Errorf("loading table: %w", err)
	}
	return t, nil
}

// ListTables lists the names of the tables in ns.
func (s *Store) ListTables(ctx context.Context, ns []string) ([]string, error) {
	if _, err := s.LoadNamespace(ctx, ns); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM tables WHERE namespace = ? ORDER BY name`, store.Key(ns))
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// SwapTable is the commit's compare-and-swap of the metadata pointer.
func (s *Store) SwapTable(ctx context.Context, expected string, next store.Table) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE tables SET metadata_location = ?, metadata = ? WHERE namespace = ? AND name = ? AND metadata_location = ?`,
		next.MetadataLocation, nonNilBytes(next.Metadata), store.Key(next.Namespace), next.Name, expected)
	if err != nil {
		return fmt.Errorf("swapping table metadata: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("swapping table metadata: %w", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.LoadTable(ctx, next.Namespace, next.Name); err != nil {
		return err
	}
	return store.ErrConflict
}

// DropTable removes the table's entry and returns what it was.
func (s *Store) DropTable(ctx context.Context, ns []string, name string) (store.Table, error) {
	var t store.Table
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t = store.Table{Namespace: slices.Clone(ns), Name: name}
		err := tx.QueryRowContext(ctx,
			`DELETE FROM tables WHERE namespace = ? AND name = ? RETURNING metadata_location, metadata`,
			store.Key(ns), name).Scan(&t.MetadataLocation, &t.Metadata)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrTableNotFound
		}
		return err
	})
	return t, err
}

// RenameTable moves a table to a new identifier.
func (s *Store) RenameTable(ctx context.Context, fromNS []string, from string, toNS []string, to string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := namespaceExists(ctx, tx, store.Key(toNS)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE tables SET namespace = ?, name = ? WHERE namespace = ? AND name = ?`,
			store.Key(toNS), to, store.Key(fromNS), from)
		if isUniqueViolation(err) {
			return store.ErrTableExists
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(store.ErrTableNotFound, err)
		}
		return nil
	})
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
