package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// listSource yields n records in batches of 100; every 10th record is a
// reject. failAfter > 0 makes it fail after that many batches.
type listSource struct {
	n, next, failAfter, batches int
	schema                      *arrow.Schema
}

func newListSource(n int) *listSource {
	return &listSource{n: n, schema: arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)}
}

func (s *listSource) Schema() *arrow.Schema { return s.schema }
func (s *listSource) Close() error          { return nil }

func (s *listSource) Next(context.Context) (ingest.Batch, error) {
	if s.failAfter > 0 && s.batches == s.failAfter {
		return ingest.Batch{}, errors.New("disk on fire")
	}
	if s.next >= s.n {
		return ingest.Batch{}, io.EOF
	}
	s.batches++
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	var out ingest.Batch
	for end := min(s.next+100, s.n); s.next < end; s.next++ {
		pos := "record " + strconv.Itoa(s.next+1)
		if s.next%10 == 9 {
			out.Rejects = append(out.Rejects, ingest.Reject{Position: pos, Reason: "every tenth is bad", Raw: []byte(strconv.Itoa(s.next))})
			continue
		}
		b.Append(int64(s.next))
		out.Positions = append(out.Positions, pos)
	}
	col := b.NewArray()
	defer col.Release()
	out.Records = array.NewRecordBatch(s.schema, []arrow.Array{col}, int64(col.Len()))
	out.Position = []byte(fmt.Sprintf(`{"next":%d}`, s.next))
	return out, nil
}

func opener(src ingest.Source) ingest.Opener {
	return func(context.Context, *arrow.Schema) (ingest.Source, error) { return src, nil }
}

func countRows(t *testing.T, sink *ingest.Sink, ident table.Identifier) int64 {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan().ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	return got.NumRows()
}

func TestLandCommitsRecordsAndRejectsOnceWithLineage(t *testing.T) {
	ctx := context.Background()
	sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	target := ingest.Target{Table: table.Identifier{"exploration", "land_once"}, Source: "list", BatchID: "list/1"}
	rep, err := sink.Land(ctx, opener(newListSource(1000)), target)
	if err != nil {
		t.Fatal(err)
	}
	want := ingest.Report{Received: 1000, Accepted: 900, Quarantined: 100}
	if rep.Received != want.Received || rep.Accepted != want.Accepted || rep.Quarantined != want.Quarantined || rep.Skipped != 0 {
		t.Fatalf("first landing %+v, want %+v", rep, want)
	}
	again, err := sink.Land(ctx, opener(newListSource(1000)), target)
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped != 1000 || again.Accepted != 900 || again.Quarantined != 100 {
		t.Fatalf("second landing %+v, want everything skipped", again)
	}
	if n := countRows(t, sink, target.Table); n != 900 {
		t.Fatalf("table holds %d rows, want 900", n)
	}
	if n := countRows(t, sink, ingest.QuarantineTable(target.Table)); n != 100 {
		t.Fatalf("quarantine holds %d rows, want 100", n)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, target.Table)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[id _ingested_at _source _batch_id _source_position]" {
		t.Fatalf("columns %v", names)
	}
}

// A run that stopped between its two commits (a catalog without multi-table
// commits, or an older writer) left one part; the next run adds the other
// and doubles neither.
func TestLandCompletesAHalfLandedSourceWithoutDoublingIt(t *testing.T) {
	ctx := context.Background()
	sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		landedPart string
	}{
		{"only the quarantine part had landed", "quarantine"},
		{"only the data part had landed", "data"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := ingest.Target{Table: table.Identifier{"exploration", "half_" + tt.landedPart}, Source: "list", BatchID: "list/half"}
			// Land it elsewhere, then copy the one part over as the crashed run would have left it.
			full := ingest.Target{Table: table.Identifier{"exploration", "full_" + tt.landedPart}, Source: "list", BatchID: target.BatchID}
			if _, err := sink.Land(ctx, opener(newListSource(500)), full); err != nil {
				t.Fatal(err)
			}
			from, to, batch := full.Table, target.Table, target.BatchID
			if tt.landedPart == "quarantine" {
				from, to, batch = ingest.QuarantineTable(from), ingest.QuarantineTable(to), ingest.QuarantineBatchID(batch)
			}
			copyPart(t, sink, from, to, batch)

			rep, err := sink.Land(ctx, opener(newListSource(500)), target)
			if err != nil {
				t.Fatal(err)
			}
			wantSkipped := int64(450)
			if tt.landedPart == "quarantine" {
				wantSkipped = 50
			}
			if rep.Received != 500 || rep.Accepted != 450 || rep.Quarantined != 50 || rep.Skipped != wantSkipped {
				t.Fatalf("report %+v, want 450 + 50 with %d skipped", rep, wantSkipped)
			}
			if n := countRows(t, sink, target.Table); n != 450 {
				t.Fatalf("table holds %d rows, want 450", n)
			}
			if n := countRows(t, sink, ingest.QuarantineTable(target.Table)); n != 50 {
				t.Fatalf("quarantine holds %d rows, want 50", n)
			}
		})
	}
}

// copyPart appends the rows of from to to (creating it) in one commit that
// records batch and the summary of from's commit.
func copyPart(t *testing.T, sink *ingest.Sink, from, to table.Identifier, batch string) {
	t.Helper()
	ctx := context.Background()
	src, err := sink.Catalog().LoadTable(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := src.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	sc, err := table.SchemaToArrowSchema(src.Schema(), nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.EnsureTable(ctx, to, sc); err != nil {
		t.Fatal(err)
	}
	props := iceberg.Properties{}
	for k, v := range src.CurrentSnapshot().Summary.Properties {
		if len(k) > 10 && k[:10] == "lakehouse." {
			props[k] = v
		}
	}
	rr := array.NewTableReader(rows, 1<<20)
	defer rr.Release()
	recs := func(yield func(arrow.RecordBatch, error) bool) {
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			if !yield(rec, nil) {
				return
			}
		}
	}
	st, err := sink.Stage(ctx, to, sc, recs, batch, props)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.CommitOnce(ctx, st); err != nil {
		t.Fatal(err)
	}
}

func TestLandFromThreeWritersAtOnceLandsEachBatchOnce(t *testing.T) {
	for _, tt := range []struct {
		name      string
		sameBatch bool
		wantRows  int64
	}{
		{"the same source from three writers lands once", true, 1800},
		{"three sources into one table all land", false, 3 * 1800},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ident := table.Identifier{"exploration", fmt.Sprintf("land_race_%v", tt.sameBatch)}
			var wg sync.WaitGroup
			reports := make([]ingest.Report, 3)
			errs := make([]error, 3)
			for i := range reports {
				target := ingest.Target{Table: ident, Source: "list", BatchID: "list/race"}
				if !tt.sameBatch {
					target.BatchID += strconv.Itoa(i)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
					if err != nil {
						errs[i] = err
						return
					}
					reports[i], errs[i] = sink.Land(ctx, opener(newListSource(2000)), target)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			var written int64
			for _, r := range reports {
				written += r.Received - r.Skipped
			}
			if want := tt.wantRows / 9 * 10; written != want {
				t.Fatalf("writers wrote %d records between them (%+v), want %d", written, reports, want)
			}
			sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
			if err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, sink, ident); n != tt.wantRows {
				t.Fatalf("table holds %d rows, want %d", n, tt.wantRows)
			}
			if n := countRows(t, sink, ingest.QuarantineTable(ident)); n != tt.wantRows/9 {
				t.Fatalf("quarantine holds %d rows, want %d", n, tt.wantRows/9)
			}
		})
	}
}

func TestLandOfASourceThatFailsMidwayCommitsNothing(t *testing.T) {
	ctx := context.Background()
	sink, err := ingest.Open(ctx, stacktest.Logger(), lake.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	target := ingest.Target{Table: table.Identifier{"exploration", "land_fail"}, Source: "list", BatchID: "list/fail"}
	src := newListSource(1000)
	src.failAfter = 3
	if _, err := sink.Land(ctx, opener(src), target); err == nil {
		t.Fatal("landing a failing source succeeded")
	}
	for _, ident := range []table.Identifier{target.Table, ingest.QuarantineTable(target.Table)} {
		tbl, err := sink.Catalog().LoadTable(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		if snap := tbl.CurrentSnapshot(); snap != nil {
			t.Fatalf("%v has a snapshot after a failed landing: %+v", ident, snap.Summary)
		}
	}
	// The retry lands everything.
	rep, err := sink.Land(ctx, opener(newListSource(1000)), target)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 900 || rep.Quarantined != 100 || rep.Skipped != 0 {
		t.Fatalf("retry %+v", rep)
	}
}
