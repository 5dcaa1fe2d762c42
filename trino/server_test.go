package trino

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func needShell(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
}

func TestWaitReadyReportsTheLogWhenTrinoDies(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "var", "log", "server.log")
	script := `printf 'T\tERROR\tmain\tio.trino.server.Server\tUnable to create injector\n\n1) Unable to load region\n';` +
		`for i in $(seq 1 60); do echo "line $i"; done; echo "at io.trino.server.TrinoServer.main"; exit 3`
	s, err := launch(discardLogger(), "/bin/sh", []string{"-c", script}, dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://127.0.0.1:1" // nothing listens; only the exit can end the wait
	err = s.waitReady(context.Background(), time.Minute)
	if !errors.Is(err, ErrServerExited) {
		t.Fatalf("waitReady = %v, want ErrServerExited", err)
	}
	msg := err.Error()
	for _, want := range []string{"exit status 3", "Unable to create injector\n1) Unable to load region", "TrinoServer.main", "line 60", logPath} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 20\n") {
		t.Errorf("error carries more than the last %d lines:\n%s", logTailLines, msg)
	}
	if err := s.Wait(); !errors.Is(err, ErrServerExited) {
		t.Errorf("Wait = %v, want ErrServerExited", err)
	}
}

func TestStopEndsTheProcessAndRotatesTheLog(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "server.log")
	if err := os.WriteFile(logPath, []byte("previous run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := launch(discardLogger(), "/bin/sh", []string{"-c", "echo up; exec sleep 60"}, dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Stop took %s; SIGTERM should end sleep at once", elapsed)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop = %v, want nil", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if b, err := os.ReadFile(logPath + ".1"); err != nil || string(b) != "previous run\n" {
		t.Errorf("rotated log = %q, %v", b, err)
	}
}

func TestWaitReadyPollsInfo(t *testing.T) {
	needShell(t)
	var calls atomic.Int32
	info := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/statement" {
			// The readiness query: a finished result with no nextUri.
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"q1","infoUri":"http://x/q1","stats":{"state":"FINISHED"},`+
				`"columns":[{"name":"_col0","type":"integer","typeSignature":{"rawType":"integer","arguments":[]}}],"data":[[1]]}`)
			return
		}
		if r.URL.Path != "/v1/info" {
			http.NotFound(w, r)
			return
		}
		n := calls.Add(1)
		_, _ = fmt.Fprintf(w, `{"nodeVersion":{"version":"476"},"coordinator":true,"starting":%t}`, n < 3)
	}))
	defer info.Close()
	dir := t.TempDir()
	s, err := launch(discardLogger(), "/bin/sh", []string{"-c", "exec sleep 60"}, dir, filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	s.url = info.URL
	if err := s.waitReady(context.Background(), time.Minute); err != nil {
		t.Fatalf("waitReady = %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("probed %d times, want 3 (ready on the third)", n)
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	s, err := launch(discardLogger(), "/bin/sh", []string{"-c", "exec sleep 60"}, dir, filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.kill()
	s.url = "http://127.0.0.1:1"
	err = s.waitReady(context.Background(), 600*time.Millisecond)
	if !errors.Is(err, ErrStartTimeout) {
		t.Fatalf("waitReady = %v, want ErrStartTimeout", err)
	}
}

func TestCheckPortFree(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	p := srv.Listener.Addr().(*net.TCPAddr).Port
	if err := checkPortFree(p); err == nil {
		t.Errorf("checkPortFree(%d) = nil for a port in use", p)
	}
}
