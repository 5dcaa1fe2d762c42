package compaction

import (
	"context"
	"testing"

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
