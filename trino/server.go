package trino

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	stopGrace    = 15 * time.Second
	pollInterval = 250 * time.Millisecond
	// probeQueryTimeout bounds one readiness query.
	probeQueryTimeout = 30 * time.Second
	waitLogEvery      = 15 * time.Second
	logTailLines      = 40
	logTailWindow     = 64 << 10
	// errorContextLines is how many lines firstErrorLines keeps.
	errorContextLines = 4
)

// Server is a running Trino child process.
type Server struct {
	logger   *slog.Logger
	cmd      *exec.Cmd
	url      string
	logPath  string
	done     chan struct{} // closed once the process has exited
	exitErr  error         // written before done is closed
	stopping atomic.Bool
}

// Start installs Trino if needed, writes DataDir/etc, starts Trino as a child
// process logging to DataDir/var/log/server.log, and waits until
// /v1/info reports it is no longer starting and a query on tpch.tiny
// succeeds. If Trino exits meanwhile, the
// error includes the end of server.log. The wait is bounded by
// cfg.StartTimeout and ctx; ctx does not bound the server's lifetime, Stop
// does.
func Start(ctx context.Context, logger *slog.Logger, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving DataDir: %w", err)
	}
	java, major, err := FindJava(ctx, cfg.JavaHome)
	if err != nil {
		return nil, fmt.Errorf("finding java: %w", err)
	}
	install, err := Install(ctx, logger, cfg)
	if err != nil {
		return nil, fmt.Errorf("installing trino: %w", err)
	}
	if err := checkPortFree(cfg.HTTPPort); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating DataDir: %w", err)
	}
	l := layout{installDir: install, dataDir: dataDir}
	nodeID, err := loadNodeID(dataDir)
	if err != nil {
		return nil, err
	}
	if err := writeEtc(cfg, l, nodeID); err != nil {
		return nil, fmt.Errorf("writing trino config: %w", err)
	}
	args := launchArgs(cfg, l, nodeID, mainClass(install))
	s, err := launch(logger, java, args, dataDir, l.serverLog())
	if err != nil {
		return nil, err
	}
	s.url = "http://127.0.0.1:" + strconv.Itoa(cfg.HTTPPort)
	logger.Info("starting trino", "pid", s.cmd.Process.Pid, "java", java, "javaVersion", major,
		"url", s.url, "heapMB", cfg.HeapMB, "log", s.logPath)
	logger.Debug("trino command", "argv", s.cmd.Args)
	started := time.Now()
	if err := s.waitReady(ctx, cfg.StartTimeout); err != nil {
		s.kill()
		return nil, err
	}
	logger.Info("trino ready", "url", s.url, "elapsed", time.Since(started).Round(time.Millisecond))
	return s, nil
}

// URL is Trino's base URL, http://127.0.0.1:<port>.
func (s *Server) URL() string { return s.url }

// LogPath is the file Trino's stdout and stderr go to.
func (s *Server) LogPath() string { return s.logPath }

// Command is the argv Trino was started with.
func (s *Server) Command() []string { return append([]string(nil), s.cmd.Args...) }

// Stop asks Trino to shut down with SIGTERM and waits for it to exit. If it
// has not exited after 15 s or when ctx ends, it is killed. Stopping an
// exited server returns nil.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling trino: %w", err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-s.done:
		s.logger.Info("trino stopped")
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	s.logger.Warn("trino did not stop in time; killing it", "pid", s.cmd.Process.Pid)
	s.kill()
	return nil
}

// Wait blocks until the process exits. It returns nil after Stop, and an
// error wrapping ErrServerExited if Trino ended on its own.
func (s *Server) Wait() error {
	<-s.done
	if s.stopping.Load() {
		return nil
	}
	return s.exitError()
}

// launch starts java with output to logPath; the previous log is kept as
// server.log.1. The process is deliberately not tied to a context: Start's
// ctx only bounds startup.
func launch(logger *slog.Logger, bin string, args []string, dir, logPath string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("creating log dir: %w", err)
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("rotating %s: %w", logPath, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile // an *os.File is handed to the child as is: no copying goroutine
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	startErr := cmd.Start()
	// The child holds its own descriptor; ours is no longer needed.
	if err := logFile.Close(); err != nil && startErr == nil {
		logger.Warn("closing server log in parent", "err", err)
	}
	if startErr != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, startErr)
	}
	s := &Server{logger: logger, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go s.reap()
	return s, nil
}

// reap is the one goroutine a Server owns; it ends when the process does,
// which Stop, kill or the parent-death signal guarantee.
func (s *Server) reap() {
	s.exitErr = s.cmd.Wait()
	close(s.done)
	if !s.stopping.Load() {
		s.logger.Warn("trino exited", "err", s.exitErr, "log", s.logPath)
	}
}

func (s *Server) kill() {
	s.stopping.Store(true)
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.logger.Warn("killing trino", "err", err)
	}
	<-s.done
}

func (s *Server) exitError() error {
	// Trino's fatal errors are followed by thousands of lines of Guice
	// legend and stack, so the tail alone rarely shows the cause.
	detail := ""
	if first := firstErrorLines(s.logPath); first != "" {
		detail = "; first error in the log:\n" + first + "\n"
	}
	detail += fmt.Sprintf("; last lines of %s:\n%s", s.logPath, tailLines(s.logPath, logTailLines))
	if s.exitErr != nil {
		return fmt.Errorf("%w: %w%s", ErrServerExited, s.exitErr, detail)
	}
	return fmt.Errorf("%w with status 0%s", ErrServerExited, detail)
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w (%s)", ErrStartTimeout, timeout))
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	start := time.Now()
	nextLog := start.Add(waitLogEvery)
	var lastErr error
	for {
		ready, err := probeInfo(ctx, client, s.url)
		if ready {
			// "starting": false comes seconds before queries can be
			// scheduled; until then they fail with "No nodes available to
			// run query". Only a query that is scheduled on a node proves
			// Trino is usable.
			if ready, err = probeQuery(ctx, s.url); ready {
				return nil
			}
		}
		lastErr = err
		select {
		case <-s.done:
			return fmt.Errorf("starting trino: %w", s.exitError())
		case <-ctx.Done():
			return fmt.Errorf("waiting for trino at %s: %w (last check: %v); last lines of %s:\n%s",
				s.url, context.Cause(ctx), lastErr, s.logPath, tailLines(s.logPath, logTailLines))
		case now := <-ticker.C:
			if now.After(nextLog) {
				s.logger.Info("waiting for trino to start", "elapsed", now.Sub(start).Round(time.Second), "last", lastErr)
				nextLog = now.Add(waitLogEvery)
			}
		}
	}
}

// probeInfo reports whether GET /v1/info says "starting": false.
func probeInfo(ctx context.Context, client *http.Client, base string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/info", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }() // body fully decoded or abandoned
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET /v1/info: %s", resp.Status)
	}
	var info struct {
		Starting *bool `json:"starting"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return false, fmt.Errorf("decoding /v1/info: %w", err)
	}
	if info.Starting == nil {
		return false, errors.New(`/v1/info has no "starting" field`)
	}
	if *info.Starting {
		return false, errors.New("trino is starting")
	}
	return true, nil
}

// probeQuery reads a tpch table, which we always configure. SELECT 1 is
// not enough: it passed while the node scheduler's cached node map was
// still empty and the next split-reading query failed.
func probeQuery(ctx context.Context, base string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeQueryTimeout)
	defer cancel()
	if _, err := Query(ctx, base, DefaultUser, "SELECT count(*) FROM tpch.tiny.region"); err != nil {
		return false, err
	}
	return true, nil
}

// checkPortFree fails fast when the port is taken; otherwise an older Trino
// on the same port could answer our readiness probe.
func checkPortFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("checking port %d: %w", port, err)
	}
	if err := ln.Close(); err != nil {
		return fmt.Errorf("checking port %d: %w", port, err)
	}
	return nil
}

// firstErrorLines returns the first ERROR line of an airlift log with the
// few non-blank lines after it, where Guice puts the actual cause.
func firstErrorLines(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read-only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case len(out) == 0 && strings.Contains(line, "\tERROR\t"):
			out = append(out, line)
		case len(out) > 0 && strings.TrimSpace(line) != "":
			out = append(out, line)
		}
		if len(out) >= errorContextLines {
			break
		}
	}
	return strings.Join(out, "\n")
}

// tailLines returns the last n lines of a file, reading at most its last
// 64 KiB; a read error is returned as the text so it still reaches the user.
func tailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	offset := max(st.Size()-logTailWindow, 0)
	buf := make([]byte, st.Size()-offset)
	if _, err := f.ReadAt(buf, offset); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if offset > 0 && len(lines) > 1 {
		lines = lines[1:] // first line is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
