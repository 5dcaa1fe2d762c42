// Package stack wires the embedded lakehouse in one process: the S3 store,
// the REST catalog on SQLite, and the zones. `lakehouse up` and the
// integration tests start it the same way.
package stack

import (
	"context"
	"errors"
	"fmt"
	"github.com/lakehouse-go/lakehouse/trino"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
	"github.com/lakehouse-go/lakehouse/lakehouse/storage"
)

// Zones are the lake's quality zones, each an Iceberg namespace with its own
// storage prefix.
var Zones = []string{"raw", "cleansed", "curated", "exploration"}

// Config configures the embedded stack.
type Config struct {
	// StateDir holds everything the stack keeps (objects, catalog database). Default ./.lakehouse; made absolute.
	StateDir string
	// S3Addr is the embedded S3 listen address. Default 127.0.0.1:9000.
	S3Addr string
	// S3ClientEndpoint is the S3 endpoint the catalog and Trino hand to
	// clients, for when they reach the gateway through a proxy or under
	// another name. Default: the gateway's own address.
	S3ClientEndpoint string
	// CatalogAddr is the REST catalog listen address. Default 127.0.0.1:8181.
	CatalogAddr string
	// Bucket holds the warehouse. Default "lakehouse".
	Bucket string
	// Warehouse is the root location of namespaces and tables. Default
	// s3://<Bucket> on the embedded store; a file:// URL keeps table files on
	// the local disk instead.
	Warehouse string
	// LogRequests logs every catalog request at info level.
	LogRequests bool
	// CatalogDSN, when set to a postgres:// URL, keeps the catalog's state in
	// PostgreSQL instead of StateDir/catalog.db (SQLite).
	CatalogDSN string
}

// WithDefaults fills in the documented defaults.
func (c Config) WithDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = ".lakehouse"
	}
	if c.S3Addr == "" {
		c.S3Addr = "127.0.0.1:9000"
	}
	if c.CatalogAddr == "" {
		c.CatalogAddr = "127.0.0.1:8181"
	}
	if c.Bucket == "" {
		c.Bucket = "lakehouse"
	}
	return c
}

// Stack is the running embedded lakehouse.
type Stack struct {
	cfg     Config
	logger  *slog.Logger
	Storage *storage.Server

	mu         sync.Mutex
	catalogURL string
	stopCat    context.CancelFunc
	catDone    chan error
	store      store.Store
}

// Start starts storage and the catalog and makes sure the zones exist.
func Start(ctx context.Context, logger *slog.Logger, cfg Config) (*Stack, error) {
	cfg = cfg.WithDefaults()
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("resolving state dir: %w", err)
	}
	cfg.StateDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	st, err := storage.Start(ctx, logger, storage.Config{
		Dir: filepath.Join(dir, "s3"), Addr: cfg.S3Addr, Buckets: []string{cfg.Bucket},
	})
	if err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, logger: logger, Storage: st}
	if err := s.StartCatalog(ctx); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	if err := s.ensureZones(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Stack) Config() Config { return s.cfg }

// Warehouse is the warehouse root location.
func (s *Stack) Warehouse() string {
	if s.cfg.Warehouse != "" {
		return strings.TrimRight(s.cfg.Warehouse, "/")
	}
	return "s3://" + s.cfg.Bucket
}

// TrinoCatalog is how a Trino reaches this stack's tables: the catalog's
// URI and the S3 gateway's endpoint and credentials.
func (s *Stack) TrinoCatalog() trino.CatalogConfig {
	s3 := s.Storage.Config()
	return trino.CatalogConfig{
		URI:         s.CatalogURL(),
		S3Endpoint:  s.s3ClientEndpoint(),
		S3Region:    s3.Region,
		S3AccessKey: s3.AccessKey,
		S3SecretKey: s3.SecretKey,
	}
}

func (s *Stack) s3ClientEndpoint() string {
	if s.cfg.S3ClientEndpoint != "" {
		return s.cfg.S3ClientEndpoint
	}
	return s.Storage.Config().Endpoint()
}

// CatalogURL is the REST catalog's base URL.
func (s *Stack) CatalogURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catalogURL
}

// StartCatalog opens the catalog database and serves the REST catalog.
func (s *Stack) StartCatalog(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopCat != nil {
		return errors.New("catalog already running")
	}
	db, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	props := s.Storage.Config().ClientProperties()
	props["s3.endpoint"] = s.s3ClientEndpoint()
	srv, err := catalogrest.New(s.logger, nil, db, catalogrest.Config{
		Warehouse: s.Warehouse(), ClientProperties: props, LogRequests: s.cfg.LogRequests,
		LocalPath: s.Storage.LocalPath,
	})
	if err != nil {
		return errors.Join(err, db.Close())
	}
	ln, err := net.Listen("tcp", s.cfg.CatalogAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("REST catalog cannot listen on %s: %w", s.cfg.CatalogAddr, err), db.Close())
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(cctx, ln) }()
	s.catalogURL = "http://" + ln.Addr().String()
	s.stopCat, s.catDone, s.store = cancel, done, db
	s.logger.Info("REST catalog ready", "uri", s.catalogURL)
	return nil
}

// StopCatalog stops the catalog server (finishing in-flight requests) and
// closes its database.
func (s *Stack) StopCatalog() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopCat == nil {
		return nil
	}
	s.stopCat()
	err := <-s.catDone
	err = errors.Join(err, s.store.Close())
	s.stopCat, s.catDone, s.store = nil, nil, nil
	return err
}

func (s *Stack) openStore(ctx context.Context) (store.Store, error) {
	dsn := s.cfg.CatalogDSN
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return pgstore.Open(ctx, dsn, pgstore.WithLogger(s.logger))
	}
	if dsn != "" {
		return nil, fmt.Errorf("catalog store %q: want a postgres:// URL, or nothing for SQLite", dsn)
	}
	db, err := sqlitestore.Open(ctx, filepath.Join(s.cfg.StateDir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	// The SQLite file belongs to this process alone, so loads can be
	// answered from memory; PostgreSQL serves replicas and is never cached.
	return store.SoleWriterCache(db), nil
}

func (s *Stack) ensureZones(ctx context.Context) error {
	s.mu.Lock()
	st := s.store
	s.mu.Unlock()
	for _, z := range Zones {
		err := st.CreateNamespace(ctx, store.Namespace{
			Levels:     []string{z},
			Properties: map[string]string{"location": s.Warehouse() + "/" + z, "zone": z},
		})
		if err != nil && !errors.Is(err, store.ErrNamespaceExists) {
			return fmt.Errorf("creating zone %s: %w", z, err)
		}
	}
	return nil
}

// Close stops the catalog and storage.
func (s *Stack) Close() error {
	return errors.Join(s.StopCatalog(), s.Storage.Close())
}
