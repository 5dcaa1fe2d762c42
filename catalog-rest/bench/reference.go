package bench

import (
	"bufio"
	"bytes"
	"context"
	_ "embed" // the fixture's pom.xml
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/internal/jvm"
)

// fixturePOM lists the runtime classpath of Apache's reference server; it
// is embedded so that the program needs no checkout to resolve it.
//
//go:embed pom.xml
var fixturePOM []byte

// fixtureMain is Apache Iceberg's reference REST catalog server, from the
// iceberg-open-api test-fixtures jar.
const fixtureMain = "org.apache.iceberg.rest.RESTCatalogServer"

// minJava is the oldest Java the fixture's Iceberg release (1.11) runs on.
const minJava = 17

// reference is Apache's reference REST catalog server running in a JVM.
type reference struct {
	cmd  *exec.Cmd
	done chan error
	url  string
	// jvm describes the Java runtime, e.g. `openjdk version "25.0.1"`.
	jvm string
	log string
}

// startReference starts RESTCatalogServer as its Docker image does (a
// JdbcCatalog on a SQLite file, strict mode), with a file:// warehouse under
// dir, on a free loopback port, logging at warn level as our catalog does.
func startReference(ctx context.Context, java, dir string) (*reference, error) {
	java, major, err := jvm.Find(ctx, java, minJava, jvm.Newest)
	if err != nil {
		return nil, err
	}
	jars, err := jvm.Classpath(ctx, fixturePOM, filepath.Join("lakehouse", "catalogbench"))
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "warehouse"), 0o755); err != nil {
		return nil, fmt.Errorf("creating the reference warehouse: %w", err)
	}
	logPath := filepath.Join(dir, "reference.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the reference server's log: %w", err)
	}
	cmd := exec.Command(java,
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", strings.Join(jars, string(os.PathListSeparator)),
		fixtureMain)
	cmd.Dir = dir
	// RCKUtils.environmentCatalogConfig turns CATALOG_* into catalog
	// properties: CATALOG_REST_PORT is rest.port, CATALOG_JDBC_STRICT__MODE
	// is jdbc.strict-mode.
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CATALOG_") }),
		"CATALOG_CATALOG__IMPL=org.apache.iceberg.jdbc.JdbcCatalog",
		"CATALOG_URI=jdbc:sqlite:"+filepath.Join(dir, "iceberg_catalog.db"),
		"CATALOG_JDBC_USER=user",
		"CATALOG_JDBC_PASSWORD=password",
		"CATALOG_JDBC_STRICT__MODE=true",
		"CATALOG_WAREHOUSE=file://"+filepath.ToSlash(filepath.Join(dir, "warehouse")),
		"CATALOG_REST_PORT="+strconv.Itoa(port),
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	err = cmd.Start()
	if cerr := logFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("starting the reference server: %w", err)
	}
	r := &reference{cmd: cmd, done: make(chan error, 1), url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logPath}
	r.jvm = javaDescription(ctx, java, major)
	go func() { r.done <- cmd.Wait() }()
	if err := r.waitReady(ctx); err != nil {
		return nil, errors.Join(err, r.stop())
	}
	return r, nil
}

func (r *reference) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/v1/config", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			ok := resp.StatusCode == http.StatusOK
			if err := resp.Body.Close(); err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("the reference server exited during startup (%v); log %s:\n%s", err, r.log, tailFile(r.log, 3000))
		case <-ctx.Done():
			return fmt.Errorf("waiting for the reference server: %w; log %s:\n%s", ctx.Err(), r.log, tailFile(r.log, 3000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop interrupts the JVM and waits for it; after 30 s it is killed. The
// exit status after the interrupt is not an error.
func (r *reference) stop() error {
	select {
	case err := <-r.done:
		r.done <- err
		return nil
	default:
	}
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		return errors.Join(err, r.cmd.Process.Kill())
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.Join(r.cmd.Process.Kill(), errors.New("the reference server did not stop within 30 s; killed"))
	}
}

// javaDescription is the runtime line of java -version, e.g. "OpenJDK
// Runtime Environment Temurin-25.0.1+8 (build 25.0.1+8-LTS)".
func javaDescription(ctx context.Context, java string, major int) string {
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.Contains(l, "Runtime Environment") {
				return l
			}
		}
	}
	return fmt.Sprintf("Java %d", major)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// tailFile is the last n bytes of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
