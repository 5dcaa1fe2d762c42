// Package olistpg starts a throwaway PostgreSQL (catalog-rest's pgtest)
// and loads the Olist sample into it with real column types, for the
// postgres connector's tests and the plugin benchmark.
package olistpg

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore/pgtest"
)

var (
	//go:embed schema.sql
	schemaSQL string
	//go:embed derived.sql
	derivedSQL string
)

// ErrNotInstalled is pgtest.ErrNotInstalled.
var ErrNotInstalled = pgtest.ErrNotInstalled

// Tables maps each loaded table to its CSV in the Olist sample folder.
func Tables() map[string]string {
	return map[string]string{
		"customers":      "olist_customers_dataset.csv",
		"orders":         "olist_orders_dataset.csv",
		"order_items":    "olist_order_items_dataset.csv",
		"order_payments": "olist_order_payments_dataset.csv",
		"order_reviews":  "olist_order_reviews_dataset.csv",
		"geolocation":    "olist_geolocation_dataset.csv",
	}
}

// Datasets finds the shared datasets folder: $LAKEHOUSE_DATASETS, or
// ../shared/datasets from the repository root above the working directory.
func Datasets() (string, error) {
	if d := os.Getenv("LAKEHOUSE_DATASETS"); d != "" {
		return filepath.Abs(d)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "datasets")
			if _, err := os.Stat(filepath.Join(d, "olist", "sample")); err != nil {
				return "", fmt.Errorf("the shared datasets folder %s is absent: the Olist tests need it", d)
			}
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: cannot find ../shared/datasets")
		}
		dir = parent
	}
}

// Start starts PostgreSQL with its files in dir, loads the Olist sample and
// returns the database's DSN and a stop function.
func Start(ctx context.Context, dir string) (string, func() error, error) {
	datasets, err := Datasets()
	if err != nil {
		return "", nil, err
	}
	dsn, stop, err := pgtest.Start(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	if err := Load(ctx, dsn, filepath.Join(datasets, "olist", "sample")); err != nil {
		return "", nil, errors.Join(err, stop())
	}
	return dsn, stop, nil
}

// Load creates the tables and copies the CSVs of folder into them.
func Load(ctx context.Context, dsn, folder string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to load Olist: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("creating Olist tables: %w", err)
	}
	for table, file := range Tables() {
		if err := copyCSV(ctx, conn, table, filepath.Join(folder, file)); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, derivedSQL+"; ANALYZE"); err != nil {
		return fmt.Errorf("deriving order_facts: %w", err)
	}
	return nil
}

// copyCSV loads one CSV with COPY: PostgreSQL's CSV parser takes the
// reviews' CRLF endings and quoted line breaks; empty fields are nulls.
func copyCSV(ctx context.Context, conn *pgx.Conn, table, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading %s: %w", table, err)
	}
	defer f.Close()
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " FROM STDIN WITH (FORMAT csv, HEADER true)"
	if _, err := conn.PgConn().CopyFrom(ctx, f, sql); err != nil {
		return fmt.Errorf("loading %s from %s: %w", table, strings.TrimPrefix(path, folderPrefix(path)), err)
	}
	return nil
}

func folderPrefix(path string) string { return filepath.Dir(filepath.Dir(path)) + "/" }
