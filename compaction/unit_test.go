package compaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// snap is a snapshot of a synthetic history: id, parent (0: none), age
// and summary properties.
type snap struct {
	id, parent int64
	age        time.Duration
	props      map[string]string
}

func metadataOf(t *testing.T, now time.Time, snaps ...snap) table.Metadata {
	t.Helper()
	var list []map[string]any
	for _, s := range snaps {
		summary := map[string]any{"operation": "append"}
		for k, v := range s.props {
			summary[k] = v
		}
		m := map[string]any{"snapshot-id": s.id, "sequence-number": s.id, "timestamp-ms": now.Add(-s.age).UnixMilli(),
			"manifest-list": fmt.Sprintf("s3://b/t/metadata/snap-%d.avro", s.id), "summary": summary, "schema-id": 0}
		if s.parent != 0 {
			m["parent-snapshot-id"] = s.parent
		}
		list = append(list, m)
	}
	head := snaps[len(snaps)-1].id
	doc := map[string]any{
		"format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1", "location": "s3://b/t",
		"last-sequence-number": head, "last-updated-ms": now.UnixMilli(), "last-column-id": 1, "current-schema-id": 0,
		"schemas":         []any{map[string]any{"type": "struct", "schema-id": 0, "fields": []any{map[string]any{"id": 1, "name": "id", "required": false, "type": "long"}}}},
		"default-spec-id": 0, "partition-specs": []any{map[string]any{"spec-id": 0, "fields": []any{}}}, "last-partition-id": 999,
		"default-sort-order-id": 0, "sort-orders": []any{map[string]any{"order-id": 0, "fields": []any{}}},
		"properties": map[string]any{}, "current-snapshot-id": head,
		"refs":      map[string]any{"main": map[string]any{"snapshot-id": head, "type": "branch"}},
		"snapshots": list, "snapshot-log": []any{}, "metadata-log": []any{},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := table.ParseMetadataBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

func TestExpiryRetentionRules(t *testing.T) {
	now := time.Now()
	old := 10 * time.Hour
	ledger := map[string]string{"lakehouse.kafka.offsets": `{"t":{"0":5}}`}
	batch := func(id string) map[string]string { return map[string]string{"lakehouse.batch-id": id} }
	r := policy.Retention{MaxAge: time.Hour, MinKept: 1, DedupeHorizon: 24 * time.Hour}
	tests := []struct {
		name  string
		snaps []snap
		r     policy.Retention
		want  []int64
	}{
		{"old snapshots without ingest state go, the head stays", []snap{{1, 0, old, nil}, {2, 1, old, nil}, {3, 2, old, nil}}, r, []int64{1, 2}},
		{"young snapshots stay", []snap{{1, 0, old, nil}, {2, 1, time.Minute, nil}, {3, 2, time.Minute, nil}}, r, []int64{1}},
		{"min-kept keeps the newest whatever their age", []snap{{1, 0, old, nil}, {2, 1, old, nil}, {3, 2, old, nil}}, policy.Retention{MaxAge: time.Hour, MinKept: 2, DedupeHorizon: time.Hour}, []int64{1}},
		{"history back to the newest Kafka ledger stays unbroken", []snap{{1, 0, old, nil}, {2, 1, old, ledger}, {3, 2, old, nil}, {4, 3, old, nil}}, r, []int64{1}},
		{"batch ids stay within the dedupe horizon", []snap{{1, 0, old, batch("a")}, {2, 1, old, nil}, {3, 2, old, batch("b")}}, r, []int64{2}},
		{"batch ids go past the dedupe horizon", []snap{{1, 0, 48 * time.Hour, batch("a")}, {2, 1, old, nil}, {3, 2, old, batch("b")}}, r, []int64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expirable(metadataOf(t, now, tt.snaps...), tt.r, now)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("expirable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMaintenanceCommitsCarryTheMergedKafkaLedger(t *testing.T) {
	now := time.Now()
	meta := metadataOf(t, now,
		snap{1, 0, time.Hour, map[string]string{"lakehouse.kafka.offsets": `{"a":{"0":10,"1":7}}`}},
		snap{2, 1, time.Hour, map[string]string{"lakehouse.kafka.offsets": `{"a":{"0":20},"b":{"0":3}}`}},
		snap{3, 2, time.Hour, nil})
	got, ok := mergedOffsets(meta)
	if !ok || got != `{"a":{"0":20,"1":7},"b":{"0":3}}` {
		t.Fatalf("mergedOffsets = %s, %v", got, ok)
	}
	if _, ok := mergedOffsets(metadataOf(t, now, snap{1, 0, time.Hour, nil})); ok {
		t.Fatal("a history without ledger yields one")
	}
}

func TestConflictsAreDeletesAndReplacementsNotAppends(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		props   map[string]string
		op      string
		wantHit bool
	}{
		{"an append of data files does not conflict", map[string]string{"added-data-files": "3"}, "append", false},
		{"an added delete file conflicts", map[string]string{"added-delete-files": "1"}, "overwrite", true},
		{"a replace that removed data files conflicts", map[string]string{"deleted-data-files": "4"}, "replace", true},
		{"a manifest rewrite does not conflict", map[string]string{"manifests-replaced": "4"}, "replace", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := map[string]string{"operation": tt.op}
			for k, v := range tt.props {
				props[k] = v
			}
			meta := metadataOf(t, now, snap{1, 0, time.Hour, nil}, snap{2, 1, time.Minute, nil})
			planned := meta.SnapshotByID(1)
			fresh := metadataOf(t, now, snap{1, 0, time.Hour, nil}, snap{2, 1, time.Minute, props})
			if got := conflicting(planned, fresh) != ""; got != tt.wantHit {
				t.Fatalf("conflicting = %q", conflicting(planned, fresh))
			}
		})
	}
	meta := metadataOf(t, now, snap{1, 0, time.Hour, nil})
	other := metadataOf(t, now, snap{7, 0, time.Hour, nil})
	if conflicting(meta.SnapshotByID(1), other) == "" {
		t.Fatal("a history without the planning snapshot does not conflict")
	}
}

func int64Record(cols map[string][]int64, order []string) arrow.RecordBatch {
	fields := make([]arrow.Field, len(order))
	arrs := make([]arrow.Array, len(order))
	for i, name := range order {
		fields[i] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for _, v := range cols[name] {
			if v < 0 {
				b.AppendNull()
			} else {
				b.Append(v)
			}
		}
		arrs[i] = b.NewArray()
		b.Release()
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(cols[order[0]])))
}

func TestSortOrdersByEachColumnInTurnNullsFirst(t *testing.T) {
	rec := int64Record(map[string][]int64{"a": {2, 1, 2, -1, 1}, "b": {5, 9, 1, 0, 3}}, []string{"a", "b"})
	defer rec.Release()
	perm, err := permutation(rec, policy.Policy{Sort: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{3, 4, 1, 2, 0}; !slices.Equal(perm, want) {
		t.Fatalf("perm = %v, want %v", perm, want)
	}
	out, err := take(context.Background(), rec, perm)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if got := out.Column(1).(*array.Int64).Int64Values(); !slices.Equal(got, []int64{0, 3, 9, 1, 5}) {
		t.Fatalf("b after take = %v", got)
	}
	if _, err := permutation(rec, policy.Policy{Sort: []string{"nope"}}); !errors.Is(err, ErrUnknownColumn) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestZOrderKeepsNeighboursInBothColumnsTogether(t *testing.T) {
	// A 16x16 grid in row-major order: z-order must interleave, so the
	// first quarter of the output is exactly the lower-left 8x8 quadrant.
	var xs, ys []int64
	for y := range int64(16) {
		for x := range int64(16) {
			xs, ys = append(xs, x), append(ys, y)
		}
	}
	rec := int64Record(map[string][]int64{"x": xs, "y": ys}, []string{"x", "y"})
	defer rec.Release()
	perm, err := permutation(rec, policy.Policy{ZOrder: []string{"x", "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(perm) != 256 {
		t.Fatalf("%d rows out of 256", len(perm))
	}
	for _, row := range perm[:64] {
		if xs[row] >= 8 || ys[row] >= 8 {
			t.Fatalf("row (%d,%d) in the first quarter of the z-order", xs[row], ys[row])
		}
	}
	seen := map[int]bool{}
	for _, row := range perm {
		seen[row] = true
	}
	if len(seen) != 256 {
		t.Fatal("z-order lost or doubled rows")
	}
}

func TestLocalLeaseIsExclusiveUntilReleasedOrExpired(t *testing.T) {
	ctx := context.Background()
	l := NewLocalLeaser()
	now := time.Now()
	l.now = func() time.Time { return now }
	a, err := l.Acquire(ctx, "compaction/raw.x", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "compaction/raw.x", "b", time.Minute); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second holder: %v, want ErrLeaseHeld", err)
	}
	if again, err := l.Acquire(ctx, "compaction/raw.x", "a", time.Minute); err != nil || again.Token != a.Token {
		t.Fatalf("renewal: %+v, %v", again, err)
	}
	now = now.Add(2 * time.Minute)
	b, err := l.Acquire(ctx, "compaction/raw.x", "b", time.Minute)
	if err != nil || b.Token <= a.Token {
		t.Fatalf("after expiry: %+v, %v; want b with a larger token", b, err)
	}
	if err := l.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "compaction/raw.x", "a", time.Minute); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestSchedulerDebouncesCommitsAndBoundsTheWait(t *testing.T) {
	sc := policy.DefaultScheduler()
	now := time.Now()
	tests := []struct {
		name string
		ts   tableState
		want bool
	}{
		{"a table committed to a moment ago waits", tableState{changedAt: now.Add(-time.Second), firstChange: now.Add(-time.Second), lastRun: now}, false},
		{"a table quiet for the debounce runs", tableState{changedAt: now.Add(-2 * time.Minute), firstChange: now.Add(-2 * time.Minute), lastRun: now}, true},
		{"a table committed to without pause runs after max-wait", tableState{changedAt: now, firstChange: now.Add(-20 * time.Minute), lastRun: now}, true},
		{"an untouched table runs each interval", tableState{lastRun: now.Add(-2 * time.Hour)}, true},
		{"a running table never runs twice", tableState{running: true, lastRun: now.Add(-2 * time.Hour)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ts.due(now, sc); got != tt.want {
				t.Fatalf("due = %v", got)
			}
		})
	}
}

func TestByteBudgetPacesRewrites(t *testing.T) {
	b := newBucket(3600 * 1000) // 1000 bytes a second
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.take(ctx, 3600*1000); err != nil {
		t.Fatalf("a full bucket refused its capacity: %v", err)
	}
	if err := b.take(ctx, 10_000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an empty bucket gave 10s worth of bytes at once: %v", err)
	}
}

func TestLargeGroupsSplitIntoOnePartPerCore(t *testing.T) {
	sizes := make([]int64, 10)
	tests := []struct {
		name  string
		total int64
		n     int
		want  int
	}{
		{"a small group stays whole", 40 << 20, 2, 1},
		{"one core writes one part", 400 << 20, 1, 1},
		{"a large group gets a part per core", 400 << 20, 2, 2},
		{"parts are never under the minimum", 70 << 20, 8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range sizes {
				sizes[i] = tt.total / int64(len(sizes))
			}
			got := cuts(sizes, tt.total, tt.n)
			if len(got) != tt.want || got[len(got)-1] != len(sizes) {
				t.Fatalf("cuts %v, want %d runs ending at %d", got, tt.want, len(sizes))
			}
		})
	}
}

func TestGroupsSplitAfterConflictsKeepEnoughFilesEach(t *testing.T) {
	tests := []struct {
		name       string
		n, parts   int
		minFiles   int
		wantLength []int
	}{
		{"the first pass keeps the group whole", 20, 1, 5, []int{20}},
		{"the second pass halves it", 20, 2, 5, []int{10, 10}},
		{"uneven files spread over the parts", 11, 2, 5, []int{6, 5}},
		{"no part gets fewer than min-input-files", 20, 16, 5, []int{5, 5, 5, 5}},
		{"a group too small to split stays whole", 7, 8, 5, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := partSizes(tt.n, tt.parts, tt.minFiles); !slices.Equal(got, tt.wantLength) {
				t.Fatalf("partSizes = %v, want %v", got, tt.wantLength)
			}
		})
	}
}

func TestTakeGathersStringsAndBinariesWithNullsFromSlicedColumns(t *testing.T) {
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	lb := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.LargeBinary)
	for i := range 10 {
		if i%3 == 0 {
			sb.AppendNull()
			lb.AppendNull()
			continue
		}
		sb.Append(strings.Repeat(string(rune('a'+i)), i))
		lb.Append([]byte{byte(i), byte(i)})
	}
	cols := []arrow.Array{sb.NewArray(), lb.NewArray()}
	sb.Release()
	lb.Release()
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "b", Type: arrow.BinaryTypes.LargeBinary, Nullable: true}}, nil)
	whole := array.NewRecordBatch(sc, cols, 10)
	for _, c := range cols {
		c.Release()
	}
	defer whole.Release()
	rec := whole.NewSlice(2, 10) // rows 2..9: the columns start at an offset
	defer rec.Release()
	perm := []int{7, 0, 1, 4, 3}
	out, err := take(context.Background(), rec, perm)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	s, b := out.Column(0).(*array.String), out.Column(1).(*array.LargeBinary)
	inS, inB := rec.Column(0).(*array.String), rec.Column(1).(*array.LargeBinary)
	if s.NullN() != 3 || b.NullN() != 3 {
		t.Fatalf("nulls: %d and %d, want 3 and 3 (rows 1, 4 and 7 of the slice)", s.NullN(), b.NullN())
	}
	for k, row := range perm {
		if s.IsNull(k) != inS.IsNull(row) || s.Value(k) != inS.Value(row) {
			t.Fatalf("string %d = %q (null %v), want row %d's %q (null %v)", k, s.Value(k), s.IsNull(k), row, inS.Value(row), inS.IsNull(row))
		}
		if b.IsNull(k) != inB.IsNull(row) || string(b.Value(k)) != string(inB.Value(row)) {
			t.Fatalf("binary %d = %v, want row %d's %v", k, b.Value(k), row, inB.Value(row))
		}
	}
}
