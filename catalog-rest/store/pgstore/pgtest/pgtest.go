// Package pgtest gives tests a throwaway PostgreSQL database: either a fresh
// server started from the installed PostgreSQL binaries (Debian's packages,
// which `go tool task tools:postgres` installs), or, when
// LAKEHOUSE_TEST_POSTGRES_DSN names one, a fresh database on an external
// server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points tests at an external
// server instead of a throwaway one. Its user must be allowed to create
// databases.
const EnvDSN = "LAKEHOUSE_TEST_POSTGRES_DSN"

// ErrNotInstalled means no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, postgres, pg_ctl) not found; `go tool task tools:postgres` installs them")

// Start returns the DSN of an empty database and a stop function, safe to
// call twice, that shuts the server down (or, on an external server, drops
// the database).
//
// Without LAKEHOUSE_TEST_POSTGRES_DSN it runs initdb and postgres with the
// data directory (pgdata), unix socket directory (pgsock) and log
// (postgres.log) inside dir, listening on a free 127.0.0.1 port with trust
// authentication and fsync off. As root it runs them as the postgres OS user,
// because PostgreSQL refuses to run as root, and gives that user search
// permission on dir and its ancestors below the temporary directory. On
// Linux the server is also told to quit if the test process dies.
func Start(ctx context.Context, dir string) (dsn string, stop func() error, err error) {
	if ext := os.Getenv(EnvDSN); ext != "" {
		return CreateDatabase(ctx, ext)
	}
	bin, err := binDir()
	if err != nil {
		return "", nil, err
	}
	owner, err := serverUser()
	if err != nil {
		return "", nil, err
	}
	srv := &server{bin: bin, dir: dir, owner: owner}
	if err := srv.init(ctx); err != nil {
		return "", nil, err
	}
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		dsn, err := srv.start(ctx)
		if err == nil {
			return dsn, sync.OnceValue(srv.stop), nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return "", nil, lastErr
}

// CreateDatabase creates an empty database on the server that dsn points at
// and returns its DSN and a function, safe to call twice, that drops it
// (closing its connections). It takes a few hundred milliseconds; see
// CreateSchema for a faster way to isolate tests.
func CreateDatabase(ctx context.Context, dsn string) (string, func() error, error) {
	name, err := uniqueName()
	if err != nil {
		return "", nil, err
	}
	if err := admin(ctx, dsn, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("creating test database: %w", err)
	}
	dbDSN, err := withParam(dsn, "dbname", name)
	if err != nil {
		return "", nil, err
	}
	drop := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin(ctx, dsn, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping test database %s: %w", name, err)
		}
		return nil
	})
	return dbDSN, drop, nil
}

// CreateSchema creates an empty schema in the database that dsn points at
// and returns a DSN whose search_path is that schema alone, and a function,
// safe to call twice, that drops the schema with everything in it. It takes
// milliseconds, and suits code that keeps its tables in the first schema of
// the search_path.
func CreateSchema(ctx context.Context, dsn string) (string, func() error, error) {
	name, err := uniqueName()
	if err != nil {
		return "", nil, err
	}
	if err := admin(ctx, dsn, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("creating test schema: %w", err)
	}
	schemaDSN, err := withParam(dsn, "search_path", name)
	if err != nil {
		return "", nil, err
	}
	drop := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin(ctx, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("dropping test schema %s: %w", name, err)
		}
		return nil
	})
	return schemaDSN, drop, nil
}

// uniqueName names a test database or schema so that concurrent test
// processes on one external server do not collide.
func uniqueName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("naming test database: %w", err)
	}
	return "lakehouse_test_" + hex.EncodeToString(b[:]), nil
}

func admin(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}

// withParam sets a connection parameter (dbname, or a run-time parameter
// such as search_path) in a URL or key=value DSN.
func withParam(dsn, key, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parsing PostgreSQL DSN: %w", err)
		}
		if key == "dbname" {
			u.Path, u.RawPath = "/"+value, ""
			return u.String(), nil
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " " + key + "=" + value, nil // a later keyword wins
}

// binDir finds the directory of initdb, postgres and pg_ctl: the newest
// Debian version under /usr/lib/postgresql, else the PATH.
func binDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	if p, err := exec.LookPath("initdb"); err == nil {
		found = append(found, p)
	}
	for _, initdb := range found {
		dir := filepath.Dir(initdb)
		if isExecutable(filepath.Join(dir, "postgres")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// osUser is the account the server runs as; nil means the current one.
type osUser struct {
	uid, gid uint32
}

func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if !canSwitchUser {
		return nil, errors.New("running PostgreSQL for tests as root is supported on Linux only; run the tests as another user")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("looking up the postgres OS user to run PostgreSQL as instead of root (`go tool task tools:postgres` creates it): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parsing gid of postgres: %w", err)
	}
	return &osUser{uid: uint32(uid), gid: uint32(gid)}, nil
}

type server struct {
	bin   string
	dir   string
	owner *osUser
	data  string
	log   string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	err    error         // cmd's exit status, set before exited closes
}

// init creates the data directory and the configuration.
func (s *server) init(ctx context.Context) error {
	s.data = filepath.Join(s.dir, "pgdata")
	s.log = filepath.Join(s.dir, "postgres.log")
	sock := filepath.Join(s.dir, "pgsock")
	for _, d := range []string{s.data, sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating PostgreSQL directory: %w", err)
		}
		if s.owner != nil {
			if err := os.Chown(d, int(s.owner.uid), int(s.owner.gid)); err != nil {
				return fmt.Errorf("handing %s to the postgres user: %w", d, err)
			}
		}
	}
	if s.owner != nil {
		if err := grantSearch(s.dir); err != nil {
			return err
		}
	}
	cmd := s.command(ctx, "initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("running initdb: %w\n%s", err, out)
	}
	// A socket path longer than sun_path (108 bytes) stops the server; test
	// temp dirs can be that deep, and the tests connect over TCP anyway.
	sockDirs := sock
	if len(sock)+len("/.s.PGSQL.65535") >= 108 {
		sockDirs = ""
	}
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
`, strings.ReplaceAll(sockDirs, "'", "''"))
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("configuring PostgreSQL: %w", err)
	}
	_, err = f.WriteString(conf)
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("configuring PostgreSQL: %w", err)
	}
	return nil
}

// grantSearch lets the postgres user reach dir: PostgreSQL runs as another
// user than the test, and t.TempDir's parent is private to the test's user.
// Only directories below the temporary directory are changed, and only
// search permission is added, never read.
func grantSearch(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tmp := filepath.Clean(os.TempDir())
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("checking access to %s: %w", p, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
				return fmt.Errorf("the postgres user cannot reach %s: %s has mode %v; use a directory below %s", dir, p, fi.Mode().Perm(), tmp)
			}
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("letting the postgres user reach %s: %w", dir, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// command builds a PostgreSQL command run as the server's owner, without
// the caller's PG* variables (PGDATA, PGPORT, ...) and in a directory the
// owner can enter.
func (s *server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	runAs(cmd, s.owner)
	return cmd
}

// start runs the server on a free port and waits until it accepts
// connections.
func (s *server) start(ctx context.Context) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("opening PostgreSQL log: %w", err)
	}
	// Not CommandContext: the server outlives ctx until stop. Its output goes
	// to a file, never to the test's stdout, or `go test` would wait for it.
	cmd := s.command(context.Background(), "postgres", "-D", s.data, "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	err = cmd.Start()
	if cerr := logFile.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("starting postgres: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := s.waitReady(ctx, dsn); err != nil {
		return "", errors.Join(err, s.stop())
	}
	return dsn, nil
}

func (s *server) waitReady(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, dsn)
		ccancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during startup (%v); log %s:\n%s", s.err, s.log, tail(s.log))
		case <-ctx.Done():
			return fmt.Errorf("waiting for postgres to accept connections: %w (last: %v); log %s:\n%s", ctx.Err(), err, s.log, tail(s.log))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the server down with pg_ctl's fast mode, killing it if that
// fails, and waits for it to exit.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.command(ctx, "pg_ctl", "stop", "-D", s.data, "-m", "fast", "-w").CombinedOutput()
	if err != nil {
		err = fmt.Errorf("stopping postgres: %w\n%s", err, out)
		err = errors.Join(err, s.cmd.Process.Kill())
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("waiting for postgres to exit: %w", ctx.Err()))
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// tail is the end of the server log, for errors.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
