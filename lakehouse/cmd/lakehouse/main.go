// Command lakehouse runs the lakehouse: `lakehouse up` starts everything in
// one process; the other subcommands start one service or act as a client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/lakehouse-go/lakehouse/lakehouse/gcpolicy"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "start the whole lakehouse: S3, REST catalog, zones, sample data, Trino", runUp},
		{"catalog", "run the embedded S3 store and the REST catalog only", runCatalog},
		{"trino", "install or run the managed Trino (trino install | trino run)", runTrino},
		{"sql", "run a SQL statement on Trino and print the result", runSQL},
		{"ingest", "land data: ingest files / run / status / backfill (pipelines in YAML)", runIngest},
		{"plugin", "connector plugins: install / list / check / discover / run", runPlugin},
		{"compact", "maintain zone tables: compact status / plan / run / serve / resume (policies in YAML)", runCompact},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lakehouse <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'lakehouse <command> -h' for a command's flags.")
}

func main() {
	gcpolicy.Apply()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	level := slog.LevelInfo
	if os.Getenv("LAKEHOUSE_LOG") == "debug" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, logger, args[1:], stdout)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintln(stderr, "lakehouse "+c.name+":", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "lakehouse: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage marks an error whose message the flag package already printed.
var errUsage = errors.New("usage error")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
