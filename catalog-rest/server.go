// Package catalogrest is an Apache Iceberg REST catalog server. Its state
// (namespaces and each table's metadata pointer) lives in a store.Store; it
// writes table metadata files to the tables' object storage itself, and it
// hands clients the storage settings they need so that a URI is all a client
// must know.
package catalogrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers the s3:// file IO
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// Config configures the REST catalog server.
type Config struct {
	// Warehouse is the root location under which a namespace created without
	// a "location" property gets one, e.g. "s3://lakehouse". Required.
	Warehouse string
	// ClientProperties are handed to every client, in the /v1/config
	// defaults and in each load-table config: the S3 endpoint, region,
	// path-style flag and credentials. Default: none.
	ClientProperties map[string]string
	// IOProperties are the FileIO properties the server itself uses to write
	// metadata files. Default: ClientProperties.
	IOProperties map[string]string
	// CommitRetries is how often the server retries a commit that lost a race
	// to a concurrent one while its requirements still hold. Default 16.
	CommitRetries int
	// MaxBodyBytes caps a request body. Default 64 MiB.
	MaxBodyBytes int64
	// LocalPath maps a location to a path on this machine's disk when the
	// object lives there (the embedded S3 store serves a local folder), so
	// the metadata file check on load is a stat instead of an S3 request.
	// Default: none.
	LocalPath func(location string) (string, bool)
	// LogRequests logs every request (method, path, status, duration) at
	// info level; otherwise at debug level. Default false.
	LogRequests bool
	// SkipMetadataFileCheck serves table loads from the database's copy of
	// the metadata without checking that the metadata file still exists in
	// storage. Default false: every load checks (one storage HEAD).
	SkipMetadataFileCheck bool
	// IdempotencyLifetime is how long a response stays replayable under its
	// Idempotency-Key. Default 30 minutes.
	IdempotencyLifetime time.Duration
	// ShutdownTimeout is how long Serve waits for in-flight requests (commits
	// among them) when its context ends. Default 30 s.
	ShutdownTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.IOProperties == nil {
		c.IOProperties = c.ClientProperties
	}
	if c.CommitRetries == 0 {
		c.CommitRetries = 16
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 20
	}
	if c.IdempotencyLifetime == 0 {
		c.IdempotencyLifetime = 30 * time.Minute
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	return c
}

// Validate reports what is missing or wrong in the configuration.
func (c Config) Validate() error {
	if c.Warehouse == "" {
		return errors.New("catalog config: warehouse is required")
	}
	if !strings.Contains(c.Warehouse, "://") {
		return fmt.Errorf("catalog config: warehouse %q is not a URI like s3://bucket", c.Warehouse)
	}
	return nil
}

// Server serves the Iceberg REST catalog API.
type Server struct {
	logger  *slog.Logger
	store   store.Store
	cfg     Config
	handler http.Handler

	registry   *prometheus.Registry
	metrics    *metrics
	meta       *metaCache
	configJSON []byte    // the client config, encoded once
	loadBufs   sync.Pool // *bytes.Buffer, for writeLoadResult

	locks      sync.Map // entry key -> *sync.Mutex; serialises commits per table in this process
	keyLocks   keyLocks
	expireMu   sync.Mutex
	lastExpire time.Time
	fsMu       sync.Mutex
	fs         map[string]icebergio.IO // by scheme://bucket
}

// New returns a server over st; its metrics register with reg (a new
// registry when nil) and are served at /metrics. The caller keeps ownership
// of st.
func New(logger *slog.Logger, reg *prometheus.Registry, st store.Store, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{logger: logger, store: st, cfg: cfg.withDefaults(), fs: map[string]icebergio.IO{},
		registry: reg, metrics: newMetrics(reg), meta: newMetaCache(1024)}
	var err error
	if s.configJSON, err = json.Marshal(nonNilMap(cfg.ClientProperties)); err != nil {
		return nil, fmt.Errorf("encoding client properties: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx ends, then shuts down gracefully, letting
// in-flight commits finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ConnContext: withConn}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(coalescingListener{ln}) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving catalog: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down catalog: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving catalog: %w", err)
	}
	return nil
}

type route struct {
	method, path string
	h            func(w http.ResponseWriter, r *http.Request) error
}

// table lists the REST routes; /v1/config advertises them as endpoints.
func (s *Server) table() []route {
	return []route{
		{"GET", "/v1/config", s.getConfig},
		{"GET", "/v1/namespaces", s.listNamespaces},
		{"POST", "/v1/namespaces", s.createNamespace},
		{"GET", "/v1/namespaces/{namespace}", s.loadNamespace},
		{"HEAD", "/v1/namespaces/{namespace}", s.namespaceExists},
		{"DELETE", "/v1/namespaces/{namespace}", s.dropNamespace},
		{"POST", "/v1/namespaces/{namespace}/properties", s.updateNamespace},
		{"GET", "/v1/namespaces/{namespace}/tables", s.listTables},
		{"POST", "/v1/namespaces/{namespace}/tables", s.createTable},
		{"GET", "/v1/namespaces/{namespace}/tables/{table}", s.loadTable},
		{"HEAD", "/v1/namespaces/{namespace}/tables/{table}", s.tableExists},
		{"POST", "/v1/namespaces/{namespace}/tables/{table}", s.commitTable},
		{"DELETE", "/v1/namespaces/{namespace}/tables/{table}", s.dropTable},
		{"GET", "/v1/namespaces/{namespace}/tables/{table}/credentials", s.loadCredentials},
		{"POST", "/v1/namespaces/{namespace}/tables/{table}/metrics", s.reportMetrics},
		{"POST", "/v1/namespaces/{namespace}/tables/{table}/unregister", s.unregisterTable},
		{"POST", "/v1/namespaces/{namespace}/register", s.registerTable},
		{"POST", "/v1/tables/rename", s.renameTable},
		{"POST", "/v1/transactions/commit", s.commitTransaction},
		{"GET", "/v1/namespaces/{namespace}/views", s.listViews},
		{"POST", "/v1/namespaces/{namespace}/views", s.createView},
		{"GET", "/v1/namespaces/{namespace}/views/{view}", s.loadView},
		{"HEAD", "/v1/namespaces/{namespace}/views/{view}", s.viewExists},
		{"POST", "/v1/namespaces/{namespace}/views/{view}", s.replaceView},
		{"DELETE", "/v1/namespaces/{namespace}/views/{view}", s.dropView},
		{"POST", "/v1/namespaces/{namespace}/register-view", s.registerView},
		{"POST", "/v1/views/rename", s.renameView},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := map[string]bool{}
	for _, rt := range s.table() {
		h := s.wrap(rt.h)
		if rt.method == "POST" || rt.method == "DELETE" {
			h = s.idempotent(h)
		}
		mux.Handle(rt.method+" "+rt.path, s.instrument(rt.path, h))
		paths[rt.path] = true
	}
	// Our own read-only extension: the metrics reports clients sent.
	mux.Handle("GET /v1/namespaces/{namespace}/tables/{table}/metrics",
		s.instrument("/v1/namespaces/{namespace}/tables/{table}/metrics", s.wrap(s.listMetricsReports)))
	mux.Handle("POST "+leasesPath, s.instrument(leasesPath, s.wrap(s.acquireLease)))
	mux.Handle("DELETE "+leasesPath, s.instrument(leasesPath, s.wrap(s.releaseLease)))
	mux.Handle("GET "+haltsPath, s.instrument(haltsPath, s.wrap(s.listHalts)))
	mux.Handle("PUT "+haltPath, s.instrument(haltPath, s.wrap(s.putHalt)))
	mux.Handle("DELETE "+haltPath, s.instrument(haltPath, s.wrap(s.deleteHalt)))
	// A known path with another method gets a 405 in Iceberg's error shape;
	// anything else a 404 in the same shape.
	for p := range paths {
		mux.Handle(p, s.instrument(p, s.wrap(func(w http.ResponseWriter, r *http.Request) error {
			return apiErr(ErrMethodNotAllowed, "Method %s is not allowed on %s", r.Method, r.URL.Path)
		})))
	}
	s.opsRoutes(mux)
	mux.Handle("/", s.instrument("other", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return apiErr(ErrNotFound, "No route for request: %s %s", r.Method, r.URL.Path)
	})))
	return mux
}

// wrap turns a handler that returns an error into an http.Handler that
// writes Iceberg error bodies, caps the body size and never lets a panic
// escape as a dropped connection.
func (s *Server) wrap(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("handling %s %s: panic: %v", r.Method, r.URL.Path, p)
				}
			}()
			err = h(w, r)
		}()
		if err != nil {
			writeError(w, s.logger, r, err)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

func decodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return badRequest("Malformed request: empty body")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badRequest("Malformed request: body exceeds %d bytes", tooBig.Limit)
		}
		return badRequest("Malformed request: %v", err)
	}
	return nil
}

type configResponse struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
	// IdempotencyKeyLifetime tells clients the server honours Idempotency-Key.
	IdempotencyKeyLifetime string `json:"idempotency-key-lifetime"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	endpoints := []string{}
	for _, rt := range s.table() {
		if rt.path == "/v1/config" {
			continue
		}
		endpoints = append(endpoints, rt.method+" "+strings.Replace(rt.path, "/v1/", "/v1/{prefix}/", 1))
	}
	defaults := maps.Clone(s.cfg.ClientProperties)
	if defaults == nil {
		defaults = map[string]string{}
	}
	return writeJSON(w, http.StatusOK, configResponse{
		Defaults:               defaults,
		Overrides:              map[string]string{"namespace-separator": "%1F"},
		Endpoints:              endpoints,
		IdempotencyKeyLifetime: isoDuration(s.cfg.IdempotencyLifetime),
	})
}

// fileIO returns the (cached) file IO for a location's bucket.
func (s *Server) fileIO(ctx context.Context, location string) (icebergio.WriteFileIO, error) {
	key := location
	if i := strings.Index(location, "://"); i >= 0 {
		rest := location[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[:j]
		}
		key = location[:i+3] + rest
	}
	s.fsMu.Lock()
	defer s.fsMu.Unlock()
	fsys, ok := s.fs[key]
	if !ok {
		var err error
		// The IO outlives this request: it must not inherit its cancellation.
		fsys, err = icebergio.LoadFS(context.WithoutCancel(ctx), s.cfg.IOProperties, location)
		if err != nil {
			return nil, fmt.Errorf("opening storage for %s: %w", location, err)
		}
		s.fs[key] = fsys
	}
	wfs, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("storage for %s is read-only", location)
	}
	return wfs, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
