package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	catalogrest "github.com/lakehouse-go/lakehouse/catalog-rest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore/pgtest"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/sqlitestore"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// The catalog stores our catalog is measured on, as -serve takes them.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// readyPrefix starts the line a serving child prints once it answers.
const readyPrefix = "CATALOGBENCH_READY "

// ready is what a serving child announces.
type ready struct {
	Catalog string `json:"catalog"` // base URL of the REST catalog
	Pprof   string `json:"pprof"`   // base URL of net/http/pprof
	Store   string `json:"store"`   // what the catalog keeps its state in
}

// ServeConfig configures one of our catalogs run for the benchmark.
type ServeConfig struct {
	// Store is StoreSQLite or StorePostgres.
	Store string
	// Dir holds the catalog's state (and the PostgreSQL server's).
	Dir string
	// SkipMetadataFileCheck serves loads without the storage HEAD that
	// checks the metadata file still exists (catalogrest.Config's option of
	// that name), through a second catalog server over the same store and
	// storage.
	SkipMetadataFileCheck bool
}

// Serve runs our catalog for the benchmark in this process, as `lakehouse
// catalog` runs it: the embedded S3 gateway and the REST catalog over
// cfg.Store (SQLite under cfg.Dir, or a throwaway PostgreSQL server under
// it), plus net/http/pprof on another loopback port. It prints one ready
// line to stdout and serves until ctx ends.
//
// The gateway allows one instance per process and changes the process's
// working directory, which is why every catalog runs in a child process of
// its own (see startOurs).
func Serve(ctx context.Context, logger *slog.Logger, cfg ServeConfig) (err error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return fmt.Errorf("resolving state dir: %w", err)
	}
	dsn, storeDesc := "", "SQLite"
	switch cfg.Store {
	case StoreSQLite:
	case StorePostgres:
		var stop func() error
		dsn, stop, err = pgtest.Start(ctx, filepath.Join(dir, "postgres"))
		if err != nil {
			return fmt.Errorf("starting PostgreSQL: %w", err)
		}
		defer func() { err = errors.Join(err, stop()) }()
		storeDesc = "PostgreSQL " + postgresVersion(ctx, dsn) + " (fsync off)"
	default:
		return fmt.Errorf("unknown store %q (want %s or %s)", cfg.Store, StoreSQLite, StorePostgres)
	}
	lake, err := stacktest.StartWith(ctx, filepath.Join(dir, "state"), dsn)
	if err != nil {
		return fmt.Errorf("starting the catalog on %s: %w", cfg.Store, err)
	}
	defer func() { err = errors.Join(err, lake.Close()) }()
	catalogURL := lake.CatalogURL()
	if cfg.SkipMetadataFileCheck {
		storeDesc += ", no metadata-file check on load"
		var stop func() error
		if catalogURL, stop, err = serveUnchecked(ctx, logger, lake, dsn); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stop()) }()
	}

	pprofURL, stopPprof, err := servePprof()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopPprof()) }()

	line, err := json.Marshal(ready{Catalog: catalogURL, Pprof: pprofURL, Store: storeDesc})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(os.Stdout, "%s%s\n", readyPrefix, line); err != nil {
		return fmt.Errorf("announcing the catalog: %w", err)
	}
	logger.Debug("benchmark catalog ready", "store", cfg.Store, "uri", catalogURL)
	<-ctx.Done()
	return nil
}

// serveUnchecked serves a second catalog over the stack's database and
// storage, configured to skip the metadata-file check on load, and returns
// its URL and a function that stops it and closes its store.
func serveUnchecked(ctx context.Context, logger *slog.Logger, lake *stack.Stack, dsn string) (string, func() error, error) {
	var st store.Store
	var err error
	if dsn != "" {
		st, err = pgstore.Open(ctx, dsn, pgstore.WithLogger(logger))
	} else {
		st, err = sqlitestore.Open(ctx, filepath.Join(lake.Config().StateDir, "catalog.db"))
	}
	if err != nil {
		return "", nil, err
	}
	srv, err := catalogrest.New(logger, nil, st, catalogrest.Config{
		Warehouse: lake.Warehouse(), ClientProperties: lake.Storage.Config().ClientProperties(), SkipMetadataFileCheck: true,
	})
	if err != nil {
		return "", nil, errors.Join(err, st.Close())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("listening for the catalog: %w", err), st.Close())
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	return "http://" + ln.Addr().String(), func() error {
		cancel()
		return errors.Join(<-done, st.Close())
	}, nil
}

// servePprof serves net/http/pprof on a free loopback port and returns its
// URL and a function that stops it.
func servePprof() (string, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("serving pprof: %w", serr))
		}
		return err
	}, nil
}

// postgresVersion asks the server its version; "" when it cannot.
func postgresVersion(ctx context.Context, dsn string) string {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return ""
	}
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	if cerr := conn.Close(ctx); err != nil || cerr != nil {
		return ""
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

// child is a catalog running in a child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
	ready ready
}

// startOurs starts this program again as `-serve store -state dir` and
// waits for its ready line. The child stops when its stdin closes, so it
// also stops when this process dies.
func startOurs(ctx context.Context, cfg ServeConfig) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the catalog: %w", err)
	}
	storeKind := cfg.Store
	cmd := exec.Command(self, "-serve", cfg.Store, "-state", cfg.Dir,
		"-skip-metadata-check="+strconv.FormatBool(cfg.SkipMetadataFileCheck))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the catalog on %s: %w", storeKind, err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), readyPrefix) {
				select {
				case lines <- strings.TrimPrefix(sc.Text(), readyPrefix):
				default: // announced already
				}
			}
		}
		close(lines)
		c.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return nil, fmt.Errorf("the catalog on %s exited before it was ready: %w", storeKind, <-c.done)
		}
		if err := json.Unmarshal([]byte(line), &c.ready); err != nil {
			return nil, errors.Join(fmt.Errorf("reading the catalog's ready line: %w", err), c.stop())
		}
		return c, nil
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), c.stop())
	case <-time.After(3 * time.Minute):
		return nil, errors.Join(fmt.Errorf("the catalog on %s was not ready within 3 minutes", storeKind), c.stop())
	}
}

// stop closes the child's stdin, which makes it shut down, and waits for
// it; after a minute it is killed.
func (c *child) stop() error {
	err := c.stdin.Close()
	select {
	case werr := <-c.done:
		return errors.Join(err, werr)
	case <-time.After(time.Minute):
		return errors.Join(err, c.cmd.Process.Kill(), fmt.Errorf("the catalog did not stop within a minute; killed"))
	}
}

// profile fetches a CPU profile of d from the child into path.
func (c *child) profile(ctx context.Context, d time.Duration, path string) error {
	secs := max(int(d.Seconds()), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", c.ready.Pprof, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching CPU profile: HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing CPU profile: %w", err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing CPU profile: %w", err)
	}
	return nil
}
