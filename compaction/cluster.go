package compaction

import (
	"cmp"
	"slices"
	"sort"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// clusterOrder returns tasks in the order that keeps the layout the
// writers left: by the lower bound of the column whose per-file ranges
// overlap least (for a stream landed in time order, its timestamp), so
// that a bin-pack concatenating them writes files and row groups of
// narrow ranges that engines can skip, instead of mixing every range
// into every row group. It also returns that column's name; "" and
// tasks unchanged when no top-level column has bounds in every file, or
// every file's range overlaps every other's.
func clusterOrder(sc *iceberg.Schema, tasks []table.FileScanTask) ([]table.FileScanTask, string) {
	if len(tasks) < 2 {
		return tasks, ""
	}
	var (
		bestName     string
		bestLo       []any
		bestOverlaps = len(tasks) * (len(tasks) - 1) / 2 // every pair
	)
	for _, f := range sc.Fields() {
		lo, hi, ok := fileBounds(f, tasks)
		if !ok {
			continue
		}
		if n := overlappingPairs(lo, hi); n < bestOverlaps {
			bestName, bestLo, bestOverlaps = f.Name, lo, n
		}
	}
	if bestName == "" {
		return tasks, ""
	}
	idx := make([]int, len(tasks))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(compareBounds(bestLo[a], bestLo[b]), cmp.Compare(tasks[a].File.FilePath(), tasks[b].File.FilePath()))
	})
	out := make([]table.FileScanTask, len(tasks))
	for i, j := range idx {
		out[i] = tasks[j]
	}
	return out, bestName
}

// fileBounds decodes f's lower and upper bound in every task's file; ok
// is false when f is not an orderable primitive or a file lacks a bound.
func fileBounds(f iceberg.NestedField, tasks []table.FileScanTask) (lo, hi []any, ok bool) {
	lo, hi = make([]any, len(tasks)), make([]any, len(tasks))
	for i, t := range tasks {
		if lo[i], ok = orderable(f.Type, t.File.LowerBoundValues()[f.ID]); !ok {
			return nil, nil, false
		}
		if hi[i], ok = orderable(f.Type, t.File.UpperBoundValues()[f.ID]); !ok {
			return nil, nil, false
		}
	}
	return lo, hi, true
}

// orderable decodes a bound into a value compareBounds orders: int64 for
// integers, dates, times and timestamps, float64 for floats, string for
// strings (whose bounds may be truncated prefixes, which still order).
func orderable(typ iceberg.Type, raw []byte) (any, bool) {
	if raw == nil {
		return nil, false
	}
	lit, err := iceberg.LiteralFromBytes(typ, raw)
	if err != nil {
		return nil, false
	}
	switch v := lit.(type) {
	case iceberg.Int32Literal:
		return int64(v), true
	case iceberg.Int64Literal:
		return int64(v), true
	case iceberg.DateLiteral:
		return int64(v), true
	case iceberg.TimeLiteral:
		return int64(v), true
	case iceberg.TimestampLiteral:
		return int64(v), true
	case iceberg.TimestampNsLiteral:
		return int64(v), true
	case iceberg.Float32Literal:
		return float64(v), true
	case iceberg.Float64Literal:
		return float64(v), true
	case iceberg.StringLiteral:
		return string(v), true
	}
	return nil, false
}

// compareBounds orders two values orderable decoded for the same column.
func compareBounds(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case float64:
		return cmp.Compare(x, b.(float64))
	case string:
		return cmp.Compare(x, b.(string))
	}
	return 0
}

// overlappingPairs counts the pairs of files whose [lo, hi] ranges
// overlap by more than a shared end point.
func overlappingPairs(lo, hi []any) int {
	idx := make([]int, len(lo))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareBounds(lo[a], lo[b]) })
	n := 0
	for k, i := range idx {
		// Files after the k-th (in lower-bound order) that start before it ends.
		end := sort.Search(len(idx), func(m int) bool { return compareBounds(lo[idx[m]], hi[i]) >= 0 })
		if end > k+1 {
			n += end - k - 1
		}
	}
	return n
}
