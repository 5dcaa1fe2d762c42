package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
)

// ErrPartitionSpec means a declared partition field could not be parsed or
// does not fit the table's schema.
var ErrPartitionSpec = errors.New("invalid partition spec")

// ParsePartitionSpec builds the partition spec of a table with schema sc
// from declared fields, one per string, in Trino's and Spark's notation:
// a column name (identity), identity(col), year(col), month(col), day(col),
// hour(col), bucket(N, col), truncate(W, col) or void(col). Partition
// fields are named as Iceberg names them: col, col_year, col_month,
// col_day, col_hour, col_bucket, col_trunc, col_null. No fields is the
// unpartitioned spec.
func ParsePartitionSpec(sc *iceberg.Schema, fields ...string) (iceberg.PartitionSpec, error) {
	if len(fields) == 0 {
		return *iceberg.UnpartitionedSpec, nil
	}
	opts := make([]iceberg.PartitionOption, 0, len(fields))
	for _, f := range fields {
		col, tr, name, err := parsePartitionField(f)
		if err != nil {
			return iceberg.PartitionSpec{}, err
		}
		src, ok := sc.FindFieldByName(col)
		if !ok {
			return iceberg.PartitionSpec{}, fmt.Errorf("%w: %q: no column %q in the table", ErrPartitionSpec, f, col)
		}
		if !tr.CanTransform(src.Type) {
			return iceberg.PartitionSpec{}, fmt.Errorf("%w: %q: %s does not apply to column %q of type %s", ErrPartitionSpec, f, tr, col, src.Type)
		}
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(src.ID, name, tr, sc, nil))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return iceberg.PartitionSpec{}, fmt.Errorf("%w: %v: %w", ErrPartitionSpec, fields, err)
	}
	return spec, nil
}

// parsePartitionField splits "day(event_ts)" into column, transform and
// partition field name.
func parsePartitionField(s string) (col string, tr iceberg.Transform, name string, err error) {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrPartitionSpec, s, why) }
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if s == "" || strings.ContainsAny(s, ") ,") {
			return "", nil, "", bad("want a column or transform(column)")
		}
		return s, iceberg.IdentityTransform{}, s, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, "", bad("missing closing parenthesis")
	}
	fn := strings.ToLower(strings.TrimSpace(s[:open]))
	args := strings.Split(s[open+1:len(s)-1], ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	col = args[len(args)-1]
	if col == "" {
		return "", nil, "", bad("missing column")
	}
	width := func() (int, error) {
		if len(args) != 2 {
			return 0, bad(fn + " takes a width and a column, e.g. " + fn + "(16, id)")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 {
			return 0, bad("width must be a positive integer")
		}
		return n, nil
	}
	if fn != "bucket" && fn != "truncate" && len(args) != 1 {
		return "", nil, "", bad(fn + " takes one column")
	}
	switch fn {
	case "identity":
		return col, iceberg.IdentityTransform{}, col, nil
	case "year", "years":
		return col, iceberg.YearTransform{}, col + "_year", nil
	case "month", "months":
		return col, iceberg.MonthTransform{}, col + "_month", nil
	case "day", "days":
		return col, iceberg.DayTransform{}, col + "_day", nil
	case "hour", "hours":
		return col, iceberg.HourTransform{}, col + "_hour", nil
	case "void":
		return col, iceberg.VoidTransform{}, col + "_null", nil
	case "bucket":
		n, err := width()
		if err != nil {
			return "", nil, "", err
		}
		return col, iceberg.BucketTransform{NumBuckets: n}, col + "_bucket", nil
	case "truncate":
		w, err := width()
		if err != nil {
			return "", nil, "", err
		}
		return col, iceberg.TruncateTransform{Width: w}, col + "_trunc", nil
	}
	return "", nil, "", bad("unknown transform " + fn)
}
