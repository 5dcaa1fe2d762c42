package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"

	"github.com/lakehouse-go/lakehouse/trino"
)

func runSQL(ctx context.Context, _ *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	server := fs.String("server", envOr("LAKEHOUSE_TRINO_URL", "http://127.0.0.1:8080"), "Trino server URL (env LAKEHOUSE_TRINO_URL)")
	user := fs.String("user", envOr("USER", "lakehouse"), "Trino user")
	fs.Usage = func() {
		io.WriteString(fs.Output(), "usage: lakehouse sql [flags] \"STATEMENT\"\n\n") //nolint:errcheck
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stmt := strings.TrimSpace(strings.Join(fs.Args(), " "))
	stmt = strings.TrimSuffix(stmt, ";")
	if stmt == "" {
		fs.Usage()
		return errUsage
	}
	res, err := trino.Query(ctx, *server, *user, stmt)
	if err != nil {
		return err
	}
	if err := res.WriteTable(stdout); err != nil {
		return errors.Join(errors.New("printing result"), err)
	}
	return nil
}
