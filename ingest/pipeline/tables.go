package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

var (
	utcMicros   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	localMicros = &arrow.TimestampType{Unit: arrow.Microsecond}
)

// columnTypes are the declarable column types, the types every source
// reads into; the keys are lower case.
var columnTypes = map[string]arrow.DataType{
	"boolean": arrow.FixedWidthTypes.Boolean, "bool": arrow.FixedWidthTypes.Boolean,
	"int": arrow.PrimitiveTypes.Int32, "integer": arrow.PrimitiveTypes.Int32,
	"long": arrow.PrimitiveTypes.Int64, "bigint": arrow.PrimitiveTypes.Int64,
	"float": arrow.PrimitiveTypes.Float32, "real": arrow.PrimitiveTypes.Float32,
	"double":      arrow.PrimitiveTypes.Float64,
	"date":        arrow.FixedWidthTypes.Date32,
	"string":      arrow.BinaryTypes.String,
	"varchar":     arrow.BinaryTypes.String,
	"timestamp":   localMicros,
	"timestamptz": utcMicros,
}

func typeNames() string {
	return "boolean, int, long, float, double, date, string, timestamp, timestamptz"
}

func lineageColumns() []string {
	return []string{ingest.ColIngestedAt, ingest.ColSource, ingest.ColBatchID, ingest.ColSourcePosition}
}

// arrowSchema is the declared columns as Arrow fields, all nullable; nil
// when none are declared.
func (p Pipeline) arrowSchema() *arrow.Schema {
	if len(p.Schema) == 0 {
		return nil
	}
	fields := make([]arrow.Field, len(p.Schema))
	for i, c := range p.Schema {
		fields[i] = arrow.Field{Name: c.Name, Type: columnTypes[strings.ToLower(c.Type)], Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// partitionField is one parsed entry of Pipeline.Partition.
type partitionField struct {
	column    string
	transform iceberg.Transform
}

// parsePartition reads Trino's notation: col, identity(col), year(col),
// month(col), day(col), hour(col), bucket(col, n), truncate(col, n).
// columns maps the declared columns to their type names.
func parsePartition(spec string, columns map[string]string) (partitionField, error) {
	s := strings.TrimSpace(spec)
	var f partitionField
	if strings.Count(s, "(") != strings.Count(s, ")") {
		return f, fmt.Errorf("%q: unbalanced parentheses; in a [...] list, quote entries with a comma: \"bucket(col, 16)\"", spec)
	}
	name, args, call := strings.Cut(s, "(")
	if !call {
		f = partitionField{column: s, transform: iceberg.IdentityTransform{}}
	} else {
		if !strings.HasSuffix(args, ")") {
			return f, fmt.Errorf("%q: want col, day(col), bucket(col, n), ...", spec)
		}
		parts := strings.Split(strings.TrimSuffix(args, ")"), ",")
		f.column = strings.TrimSpace(parts[0])
		fn := strings.ToLower(strings.TrimSpace(name))
		switch {
		case len(parts) == 1 && slices.Contains([]string{"identity", "year", "month", "day", "hour"}, fn):
			t, err := iceberg.ParseTransform(fn)
			if err != nil {
				return f, fmt.Errorf("%q: %w", spec, err)
			}
			f.transform = t
		case len(parts) == 2 && (fn == "bucket" || fn == "truncate"):
			n, err := parseWidth(parts[1])
			if err != nil {
				return f, fmt.Errorf("%q: %w", spec, err)
			}
			if fn == "bucket" {
				f.transform = iceberg.BucketTransform{NumBuckets: n}
			} else {
				f.transform = iceberg.TruncateTransform{Width: n}
			}
		default:
			return f, fmt.Errorf("%q: want col, identity(col), year(col), month(col), day(col), hour(col), bucket(col, n) or truncate(col, n)", spec)
		}
	}
	typ, ok := columns[f.column]
	if !ok {
		switch f.column {
		case ingest.ColIngestedAt:
			typ = "timestamptz"
		case ingest.ColSource, ingest.ColBatchID, ingest.ColSourcePosition:
			typ = "string"
		default:
			return f, fmt.Errorf("%q: %q is neither a declared column nor a lineage column", spec, f.column)
		}
	}
	if it := icebergType(typ); !f.transform.CanTransform(it) {
		return f, fmt.Errorf("%q: %s cannot partition a %s column", spec, f.transform, typ)
	}
	return f, nil
}

func icebergType(name string) iceberg.Type {
	switch columnTypes[name] {
	case arrow.FixedWidthTypes.Boolean:
		return iceberg.PrimitiveTypes.Bool
	case arrow.PrimitiveTypes.Int32:
		return iceberg.PrimitiveTypes.Int32
	case arrow.PrimitiveTypes.Int64:
		return iceberg.PrimitiveTypes.Int64
	case arrow.PrimitiveTypes.Float32:
		return iceberg.PrimitiveTypes.Float32
	case arrow.PrimitiveTypes.Float64:
		return iceberg.PrimitiveTypes.Float64
	case arrow.FixedWidthTypes.Date32:
		return iceberg.PrimitiveTypes.Date
	case localMicros:
		return iceberg.PrimitiveTypes.Timestamp
	case utcMicros:
		return iceberg.PrimitiveTypes.TimestampTz
	}
	return iceberg.PrimitiveTypes.String
}

// prepareTables creates the declared table and its quarantine table when
// missing, and adds the declared partition fields its spec lacks. Without
// a declared schema the source creates the tables itself.
func prepareTables(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, p Pipeline) error {
	sc := p.arrowSchema()
	if sc == nil {
		return nil
	}
	ident, _ := parseTable(p.Table)
	full, err := ingest.WithLineage(sc)
	if err != nil {
		return fmt.Errorf("preparing schema of %s: %w", p.Table, err)
	}
	tbl, err := sink.EnsureTable(ctx, ident, full)
	if err != nil {
		return err
	}
	if _, err := sink.EnsureTable(ctx, ingest.QuarantineTable(ident), ingest.QuarantineSchema()); err != nil {
		return err
	}
	if have, err := ingest.SourceSchema(tbl); err == nil && !sameColumns(have, sc) {
		logger.Warn("the table exists with other columns than declared; the sources read into the table's", "table", p.Table,
			"declared", columnNames(sc), "table_columns", columnNames(have))
	}
	if len(p.Partition) == 0 {
		return nil
	}
	return evolvePartitioning(ctx, logger, tbl, p)
}

// evolvePartitioning adds the declared partition fields tbl's current spec
// lacks, in one commit.
func evolvePartitioning(ctx context.Context, logger *slog.Logger, tbl *table.Table, p Pipeline) error {
	columns := map[string]string{}
	for _, c := range p.Schema {
		columns[c.Name] = strings.ToLower(c.Type)
	}
	have := map[string]bool{}
	spec := tbl.Metadata().PartitionSpec()
	for _, pf := range spec.Fields() {
		if f, ok := tbl.Schema().FindFieldByID(pf.SourceID()); ok {
			have[f.Name+"/"+pf.Transform.String()] = true
		}
	}
	txn := tbl.NewTransaction()
	us := txn.UpdateSpec(false)
	var added []string
	for _, s := range p.Partition {
		f, err := parsePartition(s, columns)
		if err != nil {
			return err
		}
		if _, ok := tbl.Schema().FindFieldByName(f.column); !ok {
			return fmt.Errorf("partitioning %s by %s: the table has no column %q", p.Table, s, f.column)
		}
		if have[f.column+"/"+f.transform.String()] {
			continue
		}
		us.AddField(f.column, f.transform, "")
		added = append(added, s)
	}
	if len(added) == 0 {
		return nil
	}
	if err := us.Commit(); err != nil {
		return fmt.Errorf("partitioning %s by %s: %w", p.Table, strings.Join(added, ", "), err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		return fmt.Errorf("committing the partitioning of %s: %w", p.Table, err)
	}
	logger.Info("partitioned table", "table", p.Table, "added", added, "fields_before", len(have))
	return nil
}

func columnNames(sc *arrow.Schema) []string {
	names := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		names[i] = f.Name
	}
	return names
}

// sameColumns compares names and types, not nullability.
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}
