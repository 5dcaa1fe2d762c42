// Package pgstore keeps the catalog's state in PostgreSQL, so that several
// stateless catalog replicas behind a load balancer can share it: every bit of
// coordination between them (compare-and-swap of metadata pointers, unique
// names, schema migrations) happens in the database.
//
// Transactions run at READ COMMITTED whatever the database's default. A swap
// is an `UPDATE ... WHERE metadata_location = $expected`: a writer that finds
// the row locked waits, then re-evaluates the condition against the winner's
// row and updates nothing, so a lost race is an ErrConflict without retries.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// migrations are applied in order, each in its own transaction; each index
// is a schema version. Never edit a released entry: append a new one, and
// keep it additive, because during a rolling deploy older replicas keep
// running against the newer schema.
//
// Names are COLLATE "C" so that ORDER BY sorts bytes, as Go and SQLite do,
// whatever the database's locale. A top-level namespace has a NULL parent so
// that the parent can be a foreign key: the database itself refuses a child
// of a namespace being dropped, or an entry in one, when replicas race.
var migrations = []string{
	`CREATE TABLE namespaces (
		name       text COLLATE "C" PRIMARY KEY,
		parent     text COLLATE "C" REFERENCES namespaces (name),
		properties jsonb NOT NULL DEFAULT '{}'
	);
	CREATE INDEX namespaces_parent ON namespaces (parent, name);
	CREATE TABLE entries (
		namespace         text COLLATE "C" NOT NULL REFERENCES namespaces (name),
		name              text COLLATE "C" NOT NULL,
		kind              text NOT NULL CHECK (kind IN ('table', 'view')),
		metadata_location text NOT NULL,
		metadata          bytea NOT NULL,
		PRIMARY KEY (namespace, name)
	);
	CREATE TABLE idempotency (
		key     text PRIMARY KEY,
		status  integer NOT NULL,
		body    bytea NOT NULL,
		created timestamptz NOT NULL
	);
	CREATE INDEX idempotency_created ON idempotency (created);
	CREATE TABLE metrics_reports (
		id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		namespace text NOT NULL,
		name      text NOT NULL,
		received  timestamptz NOT NULL,
		report    bytea NOT NULL
	);
	CREATE INDEX metrics_reports_table ON metrics_reports (namespace, name, id);`,
	`CREATE TABLE leases (
		name    text COLLATE "C" PRIMARY KEY,
		holder  text NOT NULL,
		token   bigint NOT NULL,
		expires timestamptz NOT NULL
	);`,
	// The load grant (see grant.go). Before any statement changes entries,
	// the trigger takes the grant's row FOR SHARE, so that a replica taking
	// the grant waits for writes already past the check, and refuses the
	// writer unless the grant is free, lapsed or its own. Replicas of
	// releases before this migration cannot ask for the grant: their
	// writes fail while a newer replica holds it, so upgrade every replica.
	`CREATE TABLE load_grant (
		only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
		holder   text NOT NULL DEFAULT '',
		expires  timestamptz NOT NULL DEFAULT 'epoch'
	);
	INSERT INTO load_grant DEFAULT VALUES;
	CREATE FUNCTION lakehouse_entries_write_check() RETURNS trigger LANGUAGE plpgsql AS $$
	DECLARE
		h text;
		e timestamptz;
	BEGIN
		SELECT holder, expires INTO h, e FROM load_grant FOR SHARE;
		IF h <> '' AND h IS DISTINCT FROM current_setting('lakehouse.replica', true) AND e > clock_timestamp() THEN
			RAISE EXCEPTION 'catalog replica % holds the load grant until %', h, e USING ERRCODE = 'LH001';
		END IF;
		RETURN NULL;
	END $$;
	CREATE TRIGGER entries_write_check BEFORE INSERT OR UPDATE OR DELETE ON entries
		FOR EACH STATEMENT EXECUTE FUNCTION lakehouse_entries_write_check();`,
	`CREATE TABLE halts (
		name      text COLLATE "C" PRIMARY KEY,
		reason    text NOT NULL,
		holder    text NOT NULL,
		halted_at timestamptz NOT NULL
	);`,
}

// migrationLock is the pg_advisory_xact_lock key that serializes migrations
// of one database between processes ("lakehous" in ASCII).
const migrationLock int64 = 0x6c616b65686f7573

// SQLSTATE codes the store maps or retries.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// txAttempts bounds the retries of a transaction that PostgreSQL aborted
// because of a deadlock or a serialization failure. Swaps take their row
// locks in a fixed order, so this is a safety net, not the normal path.
const txAttempts = 5

// Store is a store.Store over a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	loads *loader
	grant *grant
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger logs the store's background work (the load grant) to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

var _ store.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string, as libpq takes; pool_max_conns and the like are honoured) and
// applies pending migrations. Tables go into the first schema of the
// connection's search_path.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing catalog database DSN: %w", err)
	}
	// The entries trigger knows the grant holder's writes by this setting.
	replica := newReplicaID()
	cfg.ConnConfig.RuntimeParams[replicaSetting] = replica
	// pgxpool's default (4 connections on a small machine) queues loads
	// behind each other under concurrent clients; pool_max_conns in the DSN
	// still wins.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to catalog database: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx, o.logger); err != nil {
		pool.Close()
		return nil, err
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reading the catalog's schema: %w", err)
	}
	s.grant = newGrant(s, o.logger, replica, schema)
	s.loads = newLoader(s)
	s.grant.start()
	return s, nil
}

// Close gives the load grant back and closes the connection pool,
// waiting for connections in use.
func (s *Store) Close() error {
	s.grant.stop()
	s.loads.close()
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context, logger *slog.Logger) error {
	for {
		applied, newer, err := s.migrateStep(ctx)
		if err != nil {
			return err
		}
		if newer > len(migrations) {
			logger.Warn("catalog database schema is newer than this release knows; serving on it, as during a rolling deploy: upgrade this replica",
				"schema_version", newer, "known", len(migrations))
		}
		if applied == 0 {
			return nil
		}
	}
}

// migrateStep applies the next pending migration, if any, and returns its
// version (0 when the schema is current), and the database's version when
// it is newer than this release knows. The advisory lock, held until the
// transaction ends, makes a second process wait and then see the new version.
func (s *Store) migrateStep(ctx context.Context) (applied, newer int, _ error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		applied, newer = 0, 0
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("locking catalog migrations: %w", err)
		}
		// Under the lock: concurrent CREATE TABLE IF NOT EXISTS can fail.
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return fmt.Errorf("creating schema_version: %w", err)
		}
		var version int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
			return fmt.Errorf("reading schema version: %w", err)
		}
		// Before migrating further, and at the end: the tables the
		// recorded migrations made must be there.
		if err := verifyTables(ctx, tx, version); err != nil {
			return err
		}
		if version > len(migrations) {
			// A newer release's replica migrated it: run on, as during
			// a rolling deploy (its migrations are additive).
			newer = version
		}
		if version >= len(migrations) {
			return nil
		}
		if _, err := tx.Exec(ctx, migrations[version]); err != nil {
			return fmt.Errorf("applying catalog migration %d: %w", version+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, version+1); err != nil {
			return fmt.Errorf("recording catalog migration %d: %w", version+1, err)
		}
		applied = version + 1
		return nil
	})
	return applied, newer, err
}

// inTx runs fn in a READ COMMITTED transaction, again from the start when
// PostgreSQL aborts it for a deadlock or serialization failure; fn must
// therefore reset whatever it accumulates outside the database.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if attempt == txAttempts || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback(ctx))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func retryable(err error) bool {
	code := sqlState(err)
	return code == serializationFailure || code == deadlockDetected
}

// parentKey is the parent's key, or nil (SQL NULL) for a top-level namespace.
func parentKey(levels []string) *string {
	if len(levels) <= 1 {
		return nil
	}
	k := store.Key(levels[:len(levels)-1])
	return &k
}

// CreateNamespace creates ns; its parent must exist for nested namespaces.
func (s *Store) CreateNamespace(ctx context.Context, ns store.Namespace) error {
	props, err := encodeProperties(ns.Properties)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		parent := parentKey(ns.Levels)
		if parent != nil {
			if err := namespaceExists(ctx, tx, *parent); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO namespaces (name, parent, properties) VALUES ($1, $2, $3::jsonb)`,
			store.Key(ns.Levels), parent, props)
		switch sqlState(err) {
		case uniqueViolation:
			return store.ErrNamespaceExists
		case foreignKeyViolation: // the parent was dropped since the check
			return store.ErrNamespaceNotFound
		}
		return err
	})
	if err != nil && !isStoreErr(err) {
		return fmt.Errorf("creating namespace: %w", err)
	}
	return err
}

func namespaceExists(ctx context.Context, tx pgx.Tx, key string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM namespaces WHERE name = $1`, key).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNamespaceNotFound
	}
	return err
}

// LoadNamespace returns the namespace and its properties.
func (s *Store) LoadNamespace(ctx context.Context, levels []string) (store.Namespace, error) {
	props := map[string]string{}
	err := s.pool.QueryRow(ctx, `SELECT properties FROM namespaces WHERE name = $1`, store.Key(levels)).Scan(&props)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Namespace{}, store.ErrNamespaceNotFound
	}
	if err != nil {
		return store.Namespace{}, fmt.Errorf("loading namespace: %w", err)
	}
	return store.Namespace{Levels: slices.Clone(levels), Properties: nonNil(props)}, nil
}

// ListNamespaces lists the direct children of parent.
func (s *Store) ListNamespaces(ctx context.Context, parent []string) ([][]string, error) {
	var rows pgx.Rows
	var err error
	if len(parent) == 0 {
		rows, err = s.pool.Query(ctx, `SELECT name FROM namespaces WHERE parent IS NULL ORDER BY name`)
	} else {
		if _, err := s.LoadNamespace(ctx, parent); err != nil {
			return nil, err
		}
		rows, err = s.pool.Query(ctx, `SELECT name FROM namespaces WHERE parent = $1 ORDER BY name`, store.Key(parent))
	}
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	out := make([][]string, 0, len(names))
	for _, n := range names {
		out = append(out, store.Levels(n))
	}
	return out, nil
}

// UpdateNamespace sets and removes properties in one transaction. The row
// is read FOR UPDATE so that two replicas' updates cannot lose one another.
func (s *Store) UpdateNamespace(ctx context.Context, levels []string, updates map[string]string, removals []string) (store.PropertyChanges, error) {
	var ch store.PropertyChanges
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ch = store.PropertyChanges{}
		props := map[string]string{}
		err := tx.QueryRow(ctx, `SELECT properties FROM namespaces WHERE name = $1 FOR UPDATE`, store.Key(levels)).Scan(&props)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNamespaceNotFound
		}
		if err != nil {
			return err
		}
		props = nonNil(props)
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
		enc, err := encodeProperties(props)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE namespaces SET properties = $1::jsonb WHERE name = $2`, enc, store.Key(levels))
		return err
	})
	if err != nil && !isStoreErr(err) {
		return ch, fmt.Errorf("updating namespace properties: %w", err)
	}
	return ch, err
}

// DropNamespace removes an empty namespace.
func (s *Store) DropNamespace(ctx context.Context, levels []string) error {
	key := store.Key(levels)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := namespaceExists(ctx, tx, key); err != nil {
			return err
		}
		var nonEmpty bool
		err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM entries WHERE namespace = $1) OR EXISTS (SELECT 1 FROM namespaces WHERE parent = $1)`,
			key).Scan(&nonEmpty)
		if err != nil {
			return err
		}
		if nonEmpty {
			return store.ErrNamespaceNotEmpty
		}
		_, err = tx.Exec(ctx, `DELETE FROM namespaces WHERE name = $1`, key)
		if sqlState(err) == foreignKeyViolation { // an entry or child arrived since the check
			return store.ErrNamespaceNotEmpty
		}
		return err
	})
	if err != nil && !isStoreErr(err) {
		return fmt.Errorf("dropping namespace: %w", err)
	}
	return err
}

// PutIdempotent keeps a response; the first one kept for a key wins.
func (s *Store) PutIdempotent(ctx context.Context, key string, r store.IdempotentResponse) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO idempotency (key, status, body, created) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`,
		key, r.Status, nonNilBytes(r.Body), r.Created)
	if err != nil {
		return fmt.Errorf("keeping idempotent response: %w", err)
	}
	return nil
}

// GetIdempotent returns the response kept under key.
func (s *Store) GetIdempotent(ctx context.Context, key string) (store.IdempotentResponse, bool, error) {
	var r store.IdempotentResponse
	err := s.pool.QueryRow(ctx, `SELECT status, body, created FROM idempotency WHERE key = $1`, key).
		Scan(&r.Status, &r.Body, &r.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.IdempotentResponse{}, false, nil
	}
	if err != nil {
		return store.IdempotentResponse{}, false, fmt.Errorf("reading idempotent response: %w", err)
	}
	return r, true, nil
}

// ExpireIdempotent forgets responses created before cutoff.
func (s *Store) ExpireIdempotent(ctx context.Context, cutoff time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency WHERE created < $1`, cutoff); err != nil {
		return fmt.Errorf("expiring idempotent responses: %w", err)
	}
	return nil
}

// AddMetricsReport keeps a client's metrics report.
func (s *Store) AddMetricsReport(ctx context.Context, r store.MetricsReport) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO metrics_reports (namespace, name, received, report) VALUES ($1, $2, $3, $4)`,
		store.Key(r.Namespace), r.Table, r.Received, nonNilBytes(r.Report))
	if err != nil {
		return fmt.Errorf("keeping metrics report: %w", err)
	}
	return nil
}

// MetricsReports returns a table's newest reports first; a negative limit
// means all of them.
func (s *Store) MetricsReports(ctx context.Context, ns []string, table string, limit int) ([]store.MetricsReport, error) {
	var lim *int
	if limit >= 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx,
		`SELECT received, report FROM metrics_reports WHERE namespace = $1 AND name = $2 ORDER BY id DESC LIMIT $3`,
		store.Key(ns), table, lim)
	if err != nil {
		return nil, fmt.Errorf("listing metrics reports: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.MetricsReport, error) {
		r := store.MetricsReport{Namespace: slices.Clone(ns), Table: table}
		err := row.Scan(&r.Received, &r.Report)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing metrics reports: %w", err)
	}
	return out, nil
}

// isStoreErr tells the package's sentinel errors, which callers match with
// errors.Is and which need no context, from database failures.
func isStoreErr(err error) bool {
	for _, s := range []error{
		store.ErrNamespaceNotFound, store.ErrNamespaceExists, store.ErrNamespaceNotEmpty,
		store.ErrNotFound, store.ErrExists, store.ErrConflict,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// encodeProperties makes the JSON text of properties. It is passed as text
// and cast in SQL, which works in every pgx query mode (PgBouncer's simple
// protocol included).
func encodeProperties(props map[string]string) (string, error) {
	enc, err := json.Marshal(nonNil(props))
	if err != nil {
		return "", fmt.Errorf("encoding namespace properties: %w", err)
	}
	return string(enc), nil
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
