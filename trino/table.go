package trino

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteTable writes r as an aligned text table like the trino CLI: centred
// header, a separator line, rows (numbers right-aligned, NULL for nil), then
// "(N rows)". A statement without columns, such as CREATE TABLE, prints "OK".
func (r *Result) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if len(r.Columns) == 0 {
		if _, err := bw.WriteString("OK\n"); err != nil {
			return fmt.Errorf("writing table: %w", err)
		}
		return flushTable(bw)
	}
	cells := make([][]string, len(r.Rows))
	widths := make([]int, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	numeric := make([]bool, len(r.Columns))
	for i := range r.Columns {
		numeric[i] = r.isNumeric(i)
	}
	for ri, row := range r.Rows {
		cells[ri] = make([]string, len(r.Columns))
		for ci := range r.Columns {
			var v any
			if ci < len(row) {
				v = row[ci]
			}
			s := formatValue(v, r.columnType(ci))
			cells[ri][ci] = s
			widths[ci] = max(widths[ci], utf8.RuneCountInString(s))
		}
	}
	header := make([]string, len(r.Columns))
	sep := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		header[i] = pad(c, widths[i], 0)
		sep[i] = strings.Repeat("-", widths[i]+2)
	}
	writeLine(bw, header)
	_, _ = bw.WriteString(strings.Join(sep, "+") + "\n") // bufio keeps the first error for Flush
	for _, row := range cells {
		line := make([]string, len(row))
		for i, s := range row {
			align := -1
			if numeric[i] {
				align = 1
			}
			line[i] = pad(s, widths[i], align)
		}
		writeLine(bw, line)
	}
	noun := "rows"
	if len(r.Rows) == 1 {
		noun = "row"
	}
	_, _ = fmt.Fprintf(bw, "(%d %s)\n", len(r.Rows), noun)
	return flushTable(bw)
}

func flushTable(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

func writeLine(bw *bufio.Writer, cells []string) {
	line := " " + strings.Join(cells, " | ") + " "
	_, _ = bw.WriteString(strings.TrimRight(line, " ") + "\n")
}

// pad aligns s in width: -1 left, 0 centre, 1 right.
func pad(s string, width, align int) string {
	gap := width - utf8.RuneCountInString(s)
	if gap <= 0 {
		return s
	}
	switch align {
	case 1:
		return strings.Repeat(" ", gap) + s
	case 0:
		return strings.Repeat(" ", gap/2) + s + strings.Repeat(" ", gap-gap/2)
	default:
		return s + strings.Repeat(" ", gap)
	}
}

func (r *Result) columnType(i int) string {
	if i < len(r.Types) {
		return r.Types[i]
	}
	return ""
}

// isNumeric uses the column type when known, else the values themselves.
func (r *Result) isNumeric(col int) bool {
	if t := r.columnType(col); t != "" {
		base, _, _ := strings.Cut(t, "(")
		switch base {
		case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "REAL", "DOUBLE", "DECIMAL", "NUMBER":
			return true
		}
		return false
	}
	seen := false
	for _, row := range r.Rows {
		if col >= len(row) || row[col] == nil {
			continue
		}
		switch row[col].(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			seen = true
		default:
			return false
		}
	}
	return seen
}

// formatValue renders one value the way the trino CLI would.
func formatValue(v any, typ string) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(v)
	case []byte:
		return fmt.Sprintf("% x", v)
	case float64:
		return formatFloat(v, 64)
	case float32:
		return formatFloat(float64(v), 32)
	case time.Time:
		return formatTime(v, typ)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = formatValue(e, "")
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+"="+formatValue(v[k], ""))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}

// formatTime prints DATE, TIME and TIMESTAMP values as Trino does, with as
// many fractional digits as the column's precision. Without a type (values
// nested in arrays) it prints a full timestamp with trailing zeros trimmed.
func formatTime(t time.Time, typ string) string {
	base, _, _ := strings.Cut(typ, "(")
	withZone := strings.HasSuffix(typ, "WITH TIME ZONE")
	switch base {
	case "DATE":
		return t.Format(time.DateOnly)
	case "TIME", "TIME WITH TIME ZONE":
		s := t.Format("15:04:05"+fraction(precision(typ))) + extraZeros(precision(typ))
		if withZone {
			s += t.Format("-07:00")
		}
		return s
	case "TIMESTAMP", "TIMESTAMP WITH TIME ZONE":
		s := t.Format(time.DateTime+fraction(precision(typ))) + extraZeros(precision(typ))
		if withZone {
			s += " " + zoneName(t)
		}
		return s
	}
	s := t.Format(time.DateTime + ".999999999")
	if t.Location() != time.UTC {
		s += " " + zoneName(t)
	}
	return s
}

// precision reads p from "TIMESTAMP(p)…"; -1 when absent.
func precision(typ string) int {
	_, rest, ok := strings.Cut(typ, "(")
	if !ok {
		return -1
	}
	digits, _, _ := strings.Cut(rest, ")")
	p, err := strconv.Atoi(digits)
	if err != nil {
		return -1
	}
	return p
}

// fraction is the layout suffix for p fractional digits (at most 9, Go's
// nanoseconds); unknown precision trims trailing zeros.
func fraction(p int) string {
	switch {
	case p < 0:
		return ".999999999"
	case p == 0:
		return ""
	default:
		return "." + strings.Repeat("0", min(p, 9))
	}
}

// extraZeros pads picosecond precisions (10-12), which Go cannot hold.
func extraZeros(p int) string {
	return strings.Repeat("0", max(p-9, 0))
}

func zoneName(t time.Time) string {
	if name := t.Location().String(); name != "" && name != "Local" {
		return name
	}
	return t.Format("-07:00")
}

// formatFloat prints money-sized numbers in plain notation (1625466.36, not
// 1.62546636e+06) and falls back to exponents only for extreme magnitudes.
func formatFloat(v float64, bits int) string {
	if a := math.Abs(v); a == 0 || (a >= 1e-4 && a < 1e15) {
		return strconv.FormatFloat(v, 'f', -1, bits)
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}
