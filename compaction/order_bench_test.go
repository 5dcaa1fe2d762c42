package compaction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// eventsRecord is n clickstream-like rows in arrival order: event_type
// from a few values, event_ts rising with jitter, user_id from many, a
// nullable price and a user agent about 110 bytes wide.
func eventsRecord(n int) arrow.RecordBatch {
	types := []string{"view", "view", "view", "search", "add_to_cart", "purchase", "remove_from_cart"}
	r := rand.New(rand.NewPCG(1, 2))
	tb := array.NewStringBuilder(memory.DefaultAllocator)
	ts := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	ub := array.NewStringBuilder(memory.DefaultAllocator)
	pb := array.NewFloat64Builder(memory.DefaultAllocator)
	ab := array.NewStringBuilder(memory.DefaultAllocator)
	agents := make([]string, 50)
	for i := range agents {
		agents[i] = fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.0 Safari/537.36", 100+i, r.IntN(9999))
	}
	t0 := int64(1_767_225_600_000_000)
	for i := range n {
		tb.Append(types[r.IntN(len(types))])
		ts.Append(arrow.Timestamp(t0 + int64(i)*1_500_000 + r.Int64N(3_000_000)))
		ub.Append(fmt.Sprintf("u%06d", r.IntN(6000)))
		if r.IntN(10) == 0 {
			pb.AppendNull()
		} else {
			pb.Append(r.Float64() * 500)
		}
		ab.Append(agents[r.IntN(len(agents))])
	}
	cols := []arrow.Array{tb.NewArray(), ts.NewArray(), ub.NewArray(), pb.NewArray(), ab.NewArray()}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "event_type", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "user_agent", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rec := array.NewRecordBatch(sc, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// BenchmarkOrderEvents orders a million clickstream rows as a sort by
// (event_type, event_ts) and a z-order by (user_id, price) would, and
// reorders the rows: the in-memory part of a sort rewrite.
func BenchmarkOrderEvents(b *testing.B) {
	rec := eventsRecord(1_000_000)
	defer rec.Release()
	for _, p := range []policy.Policy{
		{Sort: []string{"event_type", "event_ts"}},
		{ZOrder: []string{"user_id", "price"}},
	} {
		b.Run(fmt.Sprint(p.Sort, p.ZOrder), func(b *testing.B) {
			for b.Loop() {
				perm, err := permutation(rec, p)
				if err != nil {
					b.Fatal(err)
				}
				out, err := take(context.Background(), rec, perm)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
}

// BenchmarkTakeEvents reorders a million clickstream rows: with our
// gather, which sizes string buffers once, and with Arrow's take kernel
// alone, the peer it replaces for strings.
func BenchmarkTakeEvents(b *testing.B) {
	rec := eventsRecord(1_000_000)
	defer rec.Release()
	perm, err := permutation(rec, policy.Policy{Sort: []string{"event_type", "event_ts"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			out, err := take(context.Background(), rec, perm)
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
		}
	})
	b.Run("arrow-take-kernel", func(b *testing.B) {
		ib := array.NewInt64Builder(memory.DefaultAllocator)
		for _, row := range perm {
			ib.Append(int64(row))
		}
		idx := ib.NewInt64Array()
		ib.Release()
		defer idx.Release()
		for b.Loop() {
			for i := range rec.NumCols() {
				c, err := compute.TakeArray(context.Background(), rec.Column(int(i)), idx)
				if err != nil {
					b.Fatal(err)
				}
				c.Release()
			}
		}
	})
}
