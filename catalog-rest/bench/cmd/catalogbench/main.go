// Command catalogbench measures our REST catalog (on SQLite and on
// PostgreSQL) against Apache Iceberg's reference REST catalog server:
// load-table and commit throughput and p50/p99 latency at 1, 8 and 64
// concurrent clients, in one run on this machine. It prints a table and the
// ratios, and with -out writes them into a Markdown file (BENCHMARKS.md).
//
//	go tool task bench:catalog
//	go run ./catalog-rest/bench/cmd/catalogbench -duration 5s -cpuprofile-dir /tmp/prof
//
// It needs Java 17+ and, on first use, Maven (for the reference server's
// classpath), and PostgreSQL's server binaries for the postgres target.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/lakehouse-go/lakehouse/catalog-rest/bench"
	"github.com/lakehouse-go/lakehouse/lakehouse/benchmd"
	"github.com/lakehouse-go/lakehouse/lakehouse/gcpolicy"
)

func main() {
	// The lakehouse binary's GC policy, for our serving children (as
	// `lakehouse catalog` runs) and for the load generator, whose own
	// collections would otherwise add to every target's latencies.
	gcpolicy.Apply()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "catalogbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	def := bench.DefaultConfig()
	fs := flag.NewFlagSet("catalogbench", flag.ContinueOnError)
	duration := fs.Duration("duration", def.Duration, "how long each measurement runs")
	warmup := fs.Duration("warmup", def.Warmup, "load on each catalog before the first measurement")
	clients := fs.String("clients", joinInts(def.Clients), "concurrency levels, comma-separated")
	ops := fs.String("ops", strings.Join(def.Ops, ","), "operations measured, comma-separated")
	targets := fs.String("targets", strings.Join(def.Targets, ","),
		"catalogs measured, comma-separated: sqlite, postgres, reference, and sqlite-nocheck, postgres-nocheck (ours without the metadata-file check on load)")
	snapshots := fs.Int("snapshots", def.Snapshots, "appends per table at setup")
	gzip := fs.Bool("gzip", false, "clients ask for gzip-compressed responses")
	java := fs.String("java", "", "java binary for the reference server (default: newest Java 17+ found)")
	profileDir := fs.String("cpuprofile-dir", "", "write CPU profiles of our catalogs under the top load-table run here")
	out := fs.String("out", "", "Markdown file whose catalogbench section gets the results (e.g. BENCHMARKS.md)")
	serve := fs.String("serve", "", "internal: serve our catalog on this store (sqlite, postgres) for a parent benchmark")
	state := fs.String("state", "", "internal: state folder of -serve")
	skipCheck := fs.Bool("skip-metadata-check", false, "internal: -serve without the metadata-file check on load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *serve != "" {
		return serveChild(ctx, bench.ServeConfig{Store: *serve, Dir: *state, SkipMetadataFileCheck: *skipCheck})
	}
	cfg := bench.Config{
		Duration: *duration, Warmup: *warmup, Ops: split(*ops), Targets: split(*targets),
		Snapshots: *snapshots, Gzip: *gzip, Java: *java, ProfileDir: *profileDir,
	}
	var err error
	if cfg.Clients, err = parseInts(*clients); err != nil {
		return err
	}
	if *out != "" {
		// Absolute before anything starts: servers may change directories.
		if *out, err = filepath.Abs(*out); err != nil {
			return err
		}
	}
	revision := revision(ctx)
	rep, err := bench.Run(ctx, logger, cfg)
	if err != nil {
		return err
	}
	rep.Command, rep.Revision = command(fs), revision
	if err := rep.Text(os.Stdout); err != nil {
		return err
	}
	if *out != "" {
		if err := benchmd.WriteSection(*out, "catalogbench", "Catalog", rep.Markdown()); err != nil {
			return err
		}
		logger.Info("results written", "file", *out)
	}
	return nil
}

// serveChild runs one of our catalogs for the parent until the parent
// closes our stdin (or dies) or a signal arrives.
func serveChild(ctx context.Context, cfg bench.ServeConfig) error {
	if cfg.Dir == "" {
		return errors.New("-serve needs -state")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return bench.Serve(ctx, logger, cfg)
}

// revision names the commit measured, e.g. "commit 6d94cbf", with "+
// local changes" when the catalog's code (the benchmark's own aside) or the
// module's dependencies differ from it; "" outside a git checkout.
func revision(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := "commit " + strings.TrimSpace(string(out))
	dirty, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--",
		"catalog-rest", ":!catalog-rest/bench", "lakehouse/stack", "lakehouse/storage", "go.mod", "go.sum").Output()
	if err == nil && len(strings.TrimSpace(string(dirty))) > 0 {
		rev += " + local changes"
	}
	return rev
}

// command is the task that reruns this benchmark with the flags given,
// leaving out where files went.
func command(fs *flag.FlagSet) string {
	var args []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "cpuprofile-dir" {
			args = append(args, "-"+f.Name+"="+f.Value.String())
		}
	})
	if len(args) == 0 {
		return "go tool task bench:catalog"
	}
	return "go tool task bench:catalog -- " + strings.Join(args, " ")
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range split(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parsing -clients %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
