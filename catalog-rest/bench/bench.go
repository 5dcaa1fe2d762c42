// Package bench measures our REST catalog against Apache Iceberg's reference
// REST catalog server in one run: load-table and commit throughput and
// p50/p99 latency at several client concurrencies, on our catalog over
// SQLite and over PostgreSQL and on the reference server (RESTCatalogServer
// from the iceberg-open-api test-fixtures jar, JdbcCatalog on SQLite, as its
// Docker image runs it), all on this machine, with the same tables.
//
// Every server runs in a process of its own (our catalog as a child of the
// benchmark program, since the embedded S3 gateway allows one per process;
// the reference in a JVM); the load generator is the benchmark process.
// Performance is measured here and reported, never asserted in tests.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Target keys, as Config.Targets takes them.
const (
	TargetSQLite    = "sqlite"
	TargetPostgres  = "postgres"
	TargetReference = "reference"
	// The -nocheck targets run our catalog with SkipMetadataFileCheck,
	// which shows what the storage HEAD on every load costs.
	TargetSQLiteNoCheck   = "sqlite-nocheck"
	TargetPostgresNoCheck = "postgres-nocheck"
)

// targetSpecs maps each target key to its display name and, for ours, how it
// is served.
var targetSpecs = map[string]struct {
	name  string
	serve ServeConfig
}{
	TargetSQLite:          {"ours (SQLite)", ServeConfig{Store: StoreSQLite}},
	TargetPostgres:        {"ours (PostgreSQL)", ServeConfig{Store: StorePostgres}},
	TargetSQLiteNoCheck:   {"ours (SQLite, no file check)", ServeConfig{Store: StoreSQLite, SkipMetadataFileCheck: true}},
	TargetPostgresNoCheck: {"ours (PostgreSQL, no file check)", ServeConfig{Store: StorePostgres, SkipMetadataFileCheck: true}},
	TargetReference:       {"reference", ServeConfig{}},
}

// Errors of a benchmark configuration.
var (
	ErrUnknownOp     = errors.New("unknown operation")
	ErrUnknownTarget = errors.New("unknown target")
)

// Config configures a benchmark run.
type Config struct {
	// Duration is how long each measurement runs. Default 10 s.
	Duration time.Duration
	// Warmup is how long each target is loaded (load-table, then commits)
	// before the first measurement, so the reference's JIT has compiled its
	// hot paths. Default 5 s.
	Warmup time.Duration
	// Clients are the concurrency levels measured. Default 1, 8, 64.
	Clients []int
	// Ops are the operations measured, in order. Default load-table,
	// commit, commit (one table).
	Ops []string
	// Targets are the catalogs measured. Default sqlite, postgres,
	// reference; sqlite-nocheck and postgres-nocheck are also known.
	Targets []string
	// Tables is how many tables each catalog gets; every committing client
	// has a table of its own. Default and minimum: the highest of Clients.
	Tables int
	// Snapshots is how many appends each table has at setup. Default 10.
	Snapshots int
	// Gzip makes the clients ask for compressed responses, as the Java and
	// Python clients do (the reference server then gzips every response;
	// ours never compresses). Default false: on loopback compression only
	// costs the reference CPU.
	Gzip bool
	// Java is the java binary for the reference server. Default: the newest
	// Java 17 or later in JAVA_HOME, /usr/lib/jvm or PATH.
	Java string
	// WorkDir holds the run's temporary folder (servers' state), removed at
	// the end. Default os.TempDir(); PostgreSQL, run as root, needs it there.
	WorkDir string
	// ProfileDir, when set, receives a CPU profile of each of our catalogs
	// during the load-table measurement at the highest concurrency.
	ProfileDir string
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

func (c Config) withDefaults() Config {
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 5 * time.Second
	}
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 8, 64}
	}
	if len(c.Ops) == 0 {
		c.Ops = []string{OpLoadTable, OpCommit, OpCommitShared}
	}
	if len(c.Targets) == 0 {
		c.Targets = []string{TargetSQLite, TargetPostgres, TargetReference}
	}
	c.Tables = max(c.Tables, slices.Max(c.Clients))
	if c.Snapshots == 0 {
		c.Snapshots = 10
	}
	if c.WorkDir == "" {
		c.WorkDir = os.TempDir()
	}
	return c
}

// Validate reports what is wrong in the configuration.
func (c Config) Validate() error {
	if c.Duration < 0 || c.Warmup < 0 {
		return errors.New("benchmark config: durations must not be negative")
	}
	for _, n := range c.Clients {
		if n < 1 {
			return fmt.Errorf("benchmark config: %d clients; want 1 or more", n)
		}
	}
	for _, op := range c.Ops {
		if !slices.Contains([]string{OpLoadTable, OpCommit, OpCommitShared}, op) {
			return fmt.Errorf("benchmark config: %w %q", ErrUnknownOp, op)
		}
	}
	for _, t := range c.Targets {
		if _, ok := targetSpecs[t]; !ok {
			return fmt.Errorf("benchmark config: %w %q", ErrUnknownTarget, t)
		}
	}
	if c.Snapshots < 0 || c.Tables < 0 {
		return errors.New("benchmark config: snapshots and tables must not be negative")
	}
	return nil
}

// target is one catalog under test.
type target struct {
	TargetInfo
	wl    *workload
	ours  *child // nil for the reference
	pid   int    // the server process, root of the target's process tree
	stop  func() error
	close sync.Once
}

// TargetInfo describes a catalog under test.
type TargetInfo struct {
	Key    string
	Name   string
	Detail string
	URL    string
	Table  Fingerprint
}

// Run starts the targets, creates the same tables on each, warms each up,
// measures every operation at every concurrency on every target (targets
// interleaved, so drift on the machine spreads over all of them), and
// stops the targets.
func Run(ctx context.Context, logger *slog.Logger, cfg Config) (rep *Report, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "catalogbench-")
	if err != nil {
		return nil, fmt.Errorf("creating the work folder: %w", err)
	}
	defer func() {
		logger.Info("removing the work folder", "dir", dir)
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the work folder: %w", rerr))
		}
	}()
	if cfg.ProfileDir != "" {
		if cfg.ProfileDir, err = filepath.Abs(cfg.ProfileDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the profile folder: %w", err)
		}
	}
	rep = &Report{Date: time.Now(), Machine: thisMachine(), Config: cfg}

	var targets []*target
	defer func() {
		for _, t := range targets {
			began := time.Now()
			err = errors.Join(err, t.shutdown())
			logger.Info("stopped target", "target", t.Key, "took", time.Since(began).Round(time.Millisecond))
		}
	}()
	maxClients := slices.Max(cfg.Clients)
	for _, key := range cfg.Targets {
		logger.Info("starting target", "target", key)
		t, err := startTarget(ctx, cfg, key, filepath.Join(dir, key))
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		c := &catalogClient{base: t.URL, http: newHTTPClient(maxClients, cfg.Gzip)}
		logger.Info("creating tables", "target", key, "tables", cfg.Tables, "snapshots", cfg.Snapshots)
		if t.wl, err = setup(ctx, c, cfg.Tables, cfg.Snapshots); err != nil {
			return nil, fmt.Errorf("setting up %s: %w", t.Name, err)
		}
		if t.Table, err = t.wl.fingerprint(ctx); err != nil {
			return nil, fmt.Errorf("checking the tables on %s: %w", t.Name, err)
		}
		rep.Targets = append(rep.Targets, t.TargetInfo)
	}

	for _, t := range targets {
		if err := warmUp(ctx, logger, cfg, t); err != nil {
			return nil, err
		}
	}
	roots := []int{os.Getpid()}
	for _, t := range targets {
		roots = append(roots, t.pid)
	}
	for _, op := range cfg.Ops {
		for _, n := range cfg.Clients {
			for _, t := range targets {
				res, err := measureOn(ctx, logger, cfg, t, roots, op, n, n == maxClients)
				if err != nil {
					return nil, err
				}
				rep.Results = append(rep.Results, res)
			}
		}
	}
	return rep, nil
}

// startTarget starts one catalog under dir.
func startTarget(ctx context.Context, cfg Config, key, dir string) (*target, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of %s: %w", key, err)
	}
	spec, ok := targetSpecs[key]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w %q", ErrUnknownTarget, key)
	case key != TargetReference:
		sc := spec.serve
		sc.Dir = dir
		c, err := startOurs(ctx, sc)
		if err != nil {
			return nil, err
		}
		return &target{TargetInfo: TargetInfo{Key: key, Name: spec.name, URL: c.ready.Catalog,
			Detail: "catalog-rest on " + c.ready.Store + ", metadata files on the embedded S3 gateway in the same process"},
			ours: c, pid: c.cmd.Process.Pid, stop: c.stop}, nil
	default:
		r, err := startReference(ctx, cfg.Java, dir)
		if err != nil {
			return nil, err
		}
		return &target{TargetInfo: TargetInfo{Key: key, Name: spec.name, URL: r.url,
			Detail: fixtureMain + " (iceberg-open-api 1.11.0 test-fixtures), JdbcCatalog on a SQLite file, file:// warehouse; " + r.jvm},
			pid: r.cmd.Process.Pid, stop: r.stop}, nil
	}
}

func (t *target) shutdown() error {
	var err error
	t.close.Do(func() {
		if t.wl != nil {
			t.wl.c.http.CloseIdleConnections()
		}
		if err = t.stop(); err != nil {
			err = fmt.Errorf("stopping %s: %w", t.Name, err)
		}
	})
	return err
}

// warmUp loads the target at the highest concurrency, first with loads,
// then with commits.
func warmUp(ctx context.Context, logger *slog.Logger, cfg Config, t *target) error {
	if cfg.Warmup == 0 {
		return nil
	}
	logger.Info("warming up", "target", t.Key, "for", cfg.Warmup)
	n := slices.Max(cfg.Clients)
	for _, op := range []string{OpLoadTable, OpCommit} {
		f, err := t.wl.op(op)
		if err != nil {
			return err
		}
		res := measure(ctx, n, cfg.Warmup/2, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res.OK == 0 {
			return fmt.Errorf("warming up %s: every %s failed: %s", t.Name, op, res.FirstError)
		}
	}
	return nil
}

// measureOn measures one operation at one concurrency on one target, with
// a CPU profile of our catalog alongside when asked for.
// roots are the process trees whose CPU time is told apart: the benchmark's
// own first, then each target's.
func measureOn(ctx context.Context, logger *slog.Logger, cfg Config, t *target, roots []int, op string, clients int, top bool) (Result, error) {
	f, err := t.wl.op(op)
	if err != nil {
		return Result{}, err
	}
	var wg sync.WaitGroup
	var perr error
	if cfg.ProfileDir != "" && t.ours != nil && op == OpLoadTable && top {
		path := filepath.Join(cfg.ProfileDir, fmt.Sprintf("cpu-%s-%s-%d.pprof", t.Key, op, clients))
		wg.Go(func() { perr = t.ours.profile(ctx, cfg.Duration, path) })
	}
	before := sampleCPU(roots)
	res := measure(ctx, clients, cfg.Duration, f)
	after := sampleCPU(roots)
	res.CPU = cpuUse(before, after, t.pid, roots[0])
	wg.Wait()
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if perr != nil {
		logger.Warn("CPU profile failed", "target", t.Key, "err", perr)
	}
	res.Target, res.Op = t.Key, op
	logger.Info("measured", "target", t.Key, "op", op, "clients", clients,
		"ops/s", fmt.Sprintf("%.0f", res.OpsPerSec()), "p50", res.P50.Round(time.Microsecond),
		"p99", res.P99.Round(time.Microsecond), "errors", res.Errors,
		"server_cpu_per_op", res.ServerPerOp().Round(time.Microsecond), "other_cores", fmt.Sprintf("%.2f", res.cores(res.CPU.Other)))
	if res.cores(res.CPU.Other) > 0.2 {
		logger.Info("other processes used CPU meanwhile", "target", t.Key, "op", op, "clients", clients, "top", topOthers(before, after, 3))
	}
	if res.Errors > 0 {
		logger.Warn("operations failed", "target", t.Key, "op", op, "clients", clients, "errors", res.Errors, "first", res.FirstError)
	}
	return res, nil
}
