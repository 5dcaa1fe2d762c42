package pgstore

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// A database's schema_version says which migrations it had, not that they
// were these (a development build may have edited one in place): each
// migration step first checks that the tables the applied migrations
// create are there, so such a database is refused at Open, not deep in a
// request.

var createTable = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+(\w+)`)

// tablesOf lists the tables that migrations[:version] create.
func tablesOf(version int) []string {
	var out []string
	for _, m := range migrations[:min(version, len(migrations))] {
		for _, match := range createTable.FindAllStringSubmatch(m, -1) {
			out = append(out, strings.ToLower(match[1]))
		}
	}
	return out
}

// verifyTables checks, in tx, that the current schema has the tables of
// migrations[:version].
func verifyTables(ctx context.Context, tx pgx.Tx, version int) error {
	var (
		schema string
		names  []string
	)
	err := tx.QueryRow(ctx, `SELECT COALESCE(current_schema(), ''), COALESCE(array_agg(table_name::text), '{}')
		FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&schema, &names)
	if err != nil {
		return fmt.Errorf("listing the catalog's tables: %w", err)
	}
	var missing []string
	for _, t := range tablesOf(version) {
		if !slices.Contains(names, t) {
			missing = append(missing, "table "+t+" is missing")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("catalog database schema %q (schema version %d) is not what this lakehouse makes: %s; "+
		"it was made by an incompatible development build. Point the catalog at a fresh database or schema "+
		"(or move this one aside) and register or land the tables again: %w",
		schema, version, strings.Join(missing, "; "), store.ErrIncompatibleSchema)
}
