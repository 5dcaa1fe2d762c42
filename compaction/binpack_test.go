package compaction

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
)

func TestBinPackRewritesSmallFilesKeepingEveryRowAndHistory(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "binpack"}
	before := land(t, ident, 24, 500, "day(ts)")
	filesBefore := dataFiles(t, before)
	want := fingerprint(t, ident, 0)
	oldSnap := before.CurrentSnapshot().SnapshotID

	s := service(t, "defaults: {target-file-size: 8MiB, min-input-files: 3}")
	st, err := s.Status(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Reasons) == 0 || st.Stats.SmallFiles != filesBefore {
		t.Fatalf("status before: %d small of %d files, reasons %v; want every file small and a reason", st.Stats.SmallFiles, filesBefore, st.Reasons)
	}
	pl, err := s.Plan(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Actions) == 0 || pl.Actions[0].Op != "bin-pack" {
		t.Fatalf("plan: %+v, want a bin-pack first", pl.Actions)
	}
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	after := load(t, ident)
	if got := dataFiles(t, after); got >= filesBefore/4 || rep.Rewrite.Committed == 0 {
		t.Fatalf("after bin-pack: %d files from %d (report %+v), want at most a quarter", got, filesBefore, rep.Rewrite)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after bin-pack the table reads %s, before %s", got, want)
	}
	if got := fingerprint(t, ident, oldSnap); got != want {
		t.Fatalf("time travel to the snapshot before the rewrite reads %s, want %s", got, want)
	}
	if left := unreferencedData(t, after); len(left) > 0 {
		t.Fatalf("rewrite left unreferenced data files: %v", left)
	}
	st, err = s.Status(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Reasons) != 0 {
		t.Fatalf("status after: reasons %v, want none", st.Reasons)
	}
	t.Logf("bin-pack: %d → %d files in %s", filesBefore, dataFiles(t, after), rep.Took)
}

// Files landed out of order, each holding its own range of ids, are
// concatenated in id order: a bin-pack must not mix every range into
// every row group, or engines could no longer skip any of them.
func TestBinPackKeepsTheClusteringTheWritersLeft(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "binpack_clustered"}
	if _, err := e.sink.EnsureTable(ctx, ident, testSchema); err != nil {
		t.Fatal(err)
	}
	const files, perFile = 12, 400
	for i, block := range []int{7, 2, 11, 0, 5, 9, 3, 10, 1, 6, 8, 4} {
		rec := rows(int64(block*perFile), perFile)
		_, err := e.sink.AppendOnce(ctx, ident, testSchema, []arrow.RecordBatch{rec}, batchID(ident, i))
		rec.Release()
		if err != nil {
			t.Fatalf("landing block %d: %v", block, err)
		}
	}
	want := fingerprint(t, ident, 0)
	s := service(t, "defaults: {target-file-size: 8MiB, min-input-files: 3}")
	if _, err := s.Run(ctx, ident); err != nil {
		t.Fatal(err)
	}
	after := load(t, ident)
	if got := dataFiles(t, after); got != 1 {
		t.Fatalf("after bin-pack: %d files, want 1", got)
	}
	filesOrderedBy(t, after, "id")
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after bin-pack the table reads %s, before %s", got, want)
	}
}
