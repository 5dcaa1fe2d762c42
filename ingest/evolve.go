package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// ErrIncompatibleSchema means a batch's columns do not fit its table and no
// allowed schema change makes them fit: a type the table's column cannot be
// widened to, say a string where the table has a long.
var ErrIncompatibleSchema = errors.New("incompatible schema change")

// evolveAttempts bounds how often a schema change starts over after losing
// a race to another writer.
const evolveAttempts = 4

// evolve brings tbl's schema up to sc: columns of sc the table lacks are
// added as optional columns, columns sc needs wider are widened (int to
// long, float to double, a decimal's precision). Columns of the table that
// sc lacks stay, and a column sc has narrower than the table's is left
// alone: it is written widened. A change outside these is
// ErrIncompatibleSchema, and the table is left as it was. It returns the
// table as it stands after the change.
func (s *Sink) evolve(ctx context.Context, tbl *table.Table, sc *arrow.Schema) (*table.Table, error) {
	for attempt := 1; ; attempt++ {
		want, changes, err := schemaChanges(tbl.Schema(), sc)
		if err != nil {
			return nil, fmt.Errorf("evolving schema of %v: %w", tbl.Identifier(), err)
		}
		if len(changes) == 0 {
			return tbl, nil
		}
		txn := tbl.NewTransaction()
		if err := txn.UpdateSchema(true, false).UnionByNameWith(want).Commit(); err != nil {
			return nil, fmt.Errorf("evolving schema of %v: %w: %w", tbl.Identifier(), ErrIncompatibleSchema, err)
		}
		next, err := txn.Commit(ctx)
		if err == nil {
			s.logger.Info("evolved table schema", "table", tbl.Identifier(), "changes", changes)
			return next, nil
		}
		if !errors.Is(err, table.ErrCommitFailed) || attempt == evolveAttempts {
			return nil, fmt.Errorf("committing schema change of %v: %w", tbl.Identifier(), err)
		}
		if tbl, err = s.cat.LoadTable(ctx, tbl.Identifier()); err != nil {
			return nil, fmt.Errorf("loading table %v: %w", tbl.Identifier(), err)
		}
	}
}

// schemaChanges compares the table's schema with a batch's: want is the
// batch's schema as a union target (a column the batch has narrower keeps
// the table's type), changes describes what the union changes.
func schemaChanges(have *iceberg.Schema, sc *arrow.Schema) (*iceberg.Schema, []string, error) {
	in, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, false)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving Iceberg schema of the batch: %w", err)
	}
	fields := in.Fields()
	var changes, bad []string
	for i, f := range fields {
		old, ok := have.FindFieldByName(f.Name)
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("add column %s %s", f.Name, f.Type))
		case old.Type.Equals(f.Type):
		case widens(f.Type, old.Type):
			fields[i].Type = old.Type // written widened
		case widens(old.Type, f.Type):
			changes = append(changes, fmt.Sprintf("widen column %s from %s to %s", f.Name, old.Type, f.Type))
		default:
			bad = append(bad, fmt.Sprintf("column %q is %s in the table but %s in the batch", f.Name, old.Type, f.Type))
		}
		if ok {
			// Requiredness follows the table; the batch's nulls are
			// checked when it is written.
			fields[i].Required = old.Required
		}
	}
	if len(bad) > 0 {
		return nil, nil, fmt.Errorf("%w: %s (allowed: new columns, int to long, float to double, a larger decimal precision)",
			ErrIncompatibleSchema, strings.Join(bad, "; "))
	}
	return iceberg.NewSchema(0, fields...), changes, nil
}

// widens: a column of type from may be changed to type to (Iceberg's type
// promotions).
func widens(from, to iceberg.Type) bool {
	switch f := from.(type) {
	case iceberg.Int32Type:
		_, ok := to.(iceberg.Int64Type)
		return ok
	case iceberg.Float32Type:
		_, ok := to.(iceberg.Float64Type)
		return ok
	case iceberg.DecimalType:
		t, ok := to.(iceberg.DecimalType)
		return ok && f.Scale() == t.Scale() && f.Precision() < t.Precision()
	}
	return false
}
