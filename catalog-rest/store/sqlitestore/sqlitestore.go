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
	"time"

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
	CREATE TABLE entries (
		namespace         TEXT NOT NULL REFERENCES namespaces(name),
		name              TEXT NOT NULL,
		kind              TEXT NOT NULL,
		metadata_location TEXT NOT NULL,
		metadata          BLOB NOT NULL,
		PRIMARY KEY (namespace, name)
	);
	CREATE TABLE idempotency (
		key        TEXT PRIMARY KEY,
		status     INTEGER NOT NULL,
		body       BLOB NOT NULL,
		created_ms INTEGER NOT NULL
	);
	CREATE TABLE metrics_reports (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		namespace   TEXT NOT NULL,
		name        TEXT NOT NULL,
		received_ms INTEGER NOT NULL,
		report      BLOB NOT NULL
	);
	CREATE INDEX metrics_reports_table ON metrics_reports(namespace, name, id);`,
	`CREATE TABLE leases (
		name       TEXT PRIMARY KEY,
		holder     TEXT NOT NULL,
		token      INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL
	);`,
	`CREATE TABLE halts (
		name      TEXT PRIMARY KEY,
		reason    TEXT NOT NULL,
		holder    TEXT NOT NULL,
		halted_ms INTEGER NOT NULL
	);`,
}

// Store is a store.Store over one SQLite file.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations. It refuses, naming path and the remedy, a database
// whose schema is not what its recorded migrations make (an
// ErrIncompatibleSchema of package store) or whose schema version is newer
// than this release knows (ErrNewerSchema).
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
	// database/sql keeps 2 idle connections by default; concurrent loads
	// would keep opening connections and re-running the pragmas.
	db.SetMaxIdleConns(16)
	s := &Store{db: db}
	if err := s.migrate(ctx, path); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

// migrate checks the schema the database has, applies the pending
// migrations and checks the outcome.
func (s *Store) migrate(ctx context.Context, path string) error {
	version, err := s.schemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version of catalog database %s: %w", path, err)
	}
	if version > len(migrations) {
		return fmt.Errorf("catalog database %s has schema version %d, and this lakehouse knows versions up to %d: "+
			"run the release that made it, or move it aside (or start with a fresh state directory): %w",
			path, version, len(migrations), store.ErrNewerSchema)
	}
	// Before migrating: a migration applied to tables it does not expect
	// would fail with an obscure error, or change a database we refuse.
	if err := s.verifySchema(ctx, path, version); err != nil {
		return err
	}
	if version == len(migrations) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version in catalog database %s: %w", path, err)
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
			return fmt.Errorf("applying migration %d to catalog database %s: %w", v+1, path, err)
		}
	}
	return s.verifySchema(ctx, path, len(migrations))
}

// schemaVersion is the highest migration applied, 0 for a new database.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var tables int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&tables)
	if err != nil || tables == 0 {
		return 0, err
	}
	var version int
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version)
	return version, err
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
			`SELECT (SELECT count(*) FROM entries WHERE namespace = ?) + (SELECT count(*) FROM namespaces WHERE parent = ?)`,
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

// CreateEntry registers a new table or view.
func (s *Store) CreateEntry(ctx context.Context, e store.Entry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := namespaceExists(ctx, tx, store.Key(e.Namespace)); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
}

func insertEntry(ctx context.Context, tx *sql.Tx, e store.Entry) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO entries (namespace, name, kind, metadata_location, metadata) VALUES (?, ?, ?, ?, ?)`,
		store.Key(e.Namespace), e.Name, string(e.Kind), e.MetadataLocation, nonNilBytes(e.Metadata))
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	return err
}

// LoadEntry returns the entry of the given kind.
func (s *Store) LoadEntry(ctx context.Context, kind store.Kind, ns []string, name string) (store.Entry, error) {
	e := store.Entry{Kind: kind, Namespace: slices.Clone(ns), Name: name}
	err := s.db.QueryRowContext(ctx,
		`SELECT metadata_location, metadata FROM entries WHERE namespace = ? AND name = ? AND kind = ?`,
		store.Key(ns), name, string(kind)).Scan(&e.MetadataLocation, &e.Metadata)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Entry{}, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, fmt.Errorf("loading %s: %w", kind, err)
	}
	return e, nil
}

// ListEntries lists the names of one kind's entries in ns.
func (s *Store) ListEntries(ctx context.Context, kind store.Kind, ns []string) ([]string, error) {
	if _, err := s.LoadNamespace(ctx, ns); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM entries WHERE namespace = ? AND kind = ? ORDER BY name`,
		store.Key(ns), string(kind))
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind, err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// Swap is the commit's compare-and-swap of metadata pointers, all or none.
func (s *Store) Swap(ctx context.Context, swaps ...store.Swap) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, sw := range swaps {
			if err := swapOne(ctx, tx, sw); err != nil {
				return err
			}
		}
		return nil
	})
}

func swapOne(ctx context.Context, tx *sql.Tx, sw store.Swap) error {
	n := sw.Next
	if sw.Expected == "" {
		if err := namespaceExists(ctx, tx, store.Key(n.Namespace)); err != nil {
			return err
		}
		return insertEntry(ctx, tx, n)
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE entries SET metadata_location = ?, metadata = ?
		 WHERE namespace = ? AND name = ? AND kind = ? AND metadata_location = ?`,
		n.MetadataLocation, nonNilBytes(n.Metadata), store.Key(n.Namespace), n.Name, string(n.Kind), sw.Expected)
	if err != nil {
		return fmt.Errorf("swapping metadata: %w", err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows == 1 {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE namespace = ? AND name = ? AND kind = ?`,
		store.Key(n.Namespace), n.Name, string(n.Kind)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return errors.Join(store.ErrConflict, err)
}

// DropEntry removes an entry and returns what it was.
func (s *Store) DropEntry(ctx context.Context, kind store.Kind, ns []string, name string) (store.Entry, error) {
	e := store.Entry{Kind: kind, Namespace: slices.Clone(ns), Name: name}
	err := s.db.QueryRowContext(ctx,
		`DELETE FROM entries WHERE namespace = ? AND name = ? AND kind = ? RETURNING metadata_location, metadata`,
		store.Key(ns), name, string(kind)).Scan(&e.MetadataLocation, &e.Metadata)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Entry{}, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, fmt.Errorf("dropping %s: %w", kind, err)
	}
	return e, nil
}

// RenameEntry moves an entry to a new identifier.
func (s *Store) RenameEntry(ctx context.Context, kind store.Kind, fromNS []string, from string, toNS []string, to string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE namespace = ? AND name = ? AND kind = ?`,
			store.Key(fromNS), from, string(kind)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := namespaceExists(ctx, tx, store.Key(toNS)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE entries SET namespace = ?, name = ? WHERE namespace = ? AND name = ? AND kind = ?`,
			store.Key(toNS), to, store.Key(fromNS), from, string(kind))
		if isUniqueViolation(err) {
			return store.ErrExists
		}
		return err
	})
}

// PutIdempotent keeps a response; the first one kept for a key wins.
func (s *Store) PutIdempotent(ctx context.Context, key string, r store.IdempotentResponse) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO idempotency (key, status, body, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		key, r.Status, nonNilBytes(r.Body), r.Created.UnixMilli())
	if err != nil {
		return fmt.Errorf("keeping idempotent response: %w", err)
	}
	return nil
}

// GetIdempotent returns the response kept under key.
func (s *Store) GetIdempotent(ctx context.Context, key string) (store.IdempotentResponse, bool, error) {
	var r store.IdempotentResponse
	var ms int64
	err := s.db.QueryRowContext(ctx, `SELECT status, body, created_ms FROM idempotency WHERE key = ?`, key).
		Scan(&r.Status, &r.Body, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("reading idempotent response: %w", err)
	}
	r.Created = time.UnixMilli(ms)
	return r, true, nil
}

// ExpireIdempotent forgets responses created before cutoff.
func (s *Store) ExpireIdempotent(ctx context.Context, cutoff time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM idempotency WHERE created_ms < ?`, cutoff.UnixMilli()); err != nil {
		return fmt.Errorf("expiring idempotent responses: %w", err)
	}
	return nil
}

// AddMetricsReport keeps a client's metrics report.
func (s *Store) AddMetricsReport(ctx context.Context, r store.MetricsReport) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO metrics_reports (namespace, name, received_ms, report) VALUES (?, ?, ?, ?)`,
		store.Key(r.Namespace), r.Table, r.Received.UnixMilli(), nonNilBytes(r.Report))
	if err != nil {
		return fmt.Errorf("keeping metrics report: %w", err)
	}
	return nil
}

// MetricsReports returns a table's newest reports first.
func (s *Store) MetricsReports(ctx context.Context, ns []string, table string, limit int) ([]store.MetricsReport, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT received_ms, report FROM metrics_reports WHERE namespace = ? AND name = ? ORDER BY id DESC LIMIT ?`,
		store.Key(ns), table, limit)
	if err != nil {
		return nil, fmt.Errorf("listing metrics reports: %w", err)
	}
	defer rows.Close()
	var out []store.MetricsReport
	for rows.Next() {
		r := store.MetricsReport{Namespace: slices.Clone(ns), Table: table}
		var ms int64
		if err := rows.Scan(&ms, &r.Report); err != nil {
			return nil, fmt.Errorf("listing metrics reports: %w", err)
		}
		r.Received = time.UnixMilli(ms)
		out = append(out, r)
	}
	return out, rows.Err()
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
