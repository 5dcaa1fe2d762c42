package compaction

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
)

// filesOrderedBy checks that the rows of every data file are ascending in
// col (nulls first).
func filesOrderedBy(t *testing.T, tbl *table.Table, col string) {
	t.Helper()
	ctx := context.Background()
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		_, recs, err := tbl.Scan().ReadTasks(ctx, []table.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		var prev *int64
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			var value func(int) int64
			switch c := rec.Column(rec.Schema().FieldIndices(col)[0]).(type) {
			case *array.Int64:
				value = c.Value
			case *array.Timestamp:
				value = func(i int) int64 { return int64(c.Value(i)) }
			default:
				t.Fatalf("column %s is %s: want int64 or timestamp", col, c.DataType())
			}
			for i := range rec.NumRows() {
				v := value(int(i))
				if prev != nil && v < *prev {
					t.Fatalf("file %s: %s %d after %d", task.File.FilePath(), col, v, *prev)
				}
				prev = &v
			}
			rec.Release()
		}
	}
}

func TestSortRewriteOrdersFilesAndSetsTheSortOrder(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"curated", "sorted"}
	land(t, ident, 12, 400)
	want := fingerprint(t, ident, 0)
	s := service(t, "tables: {curated.sorted: {sort: [id], min-input-files: 3, target-file-size: 8MiB}}")
	if _, err := s.Run(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after sort the table reads %s, before %s", got, want)
	}
	tbl := load(t, ident)
	filesOrderedBy(t, tbl, "id")
	if tbl.SortOrder().Len() != 1 || tbl.Properties()[LayoutProperty] != "sort:id" {
		t.Fatalf("sort order %v, layout %q; want the table sorted by id", tbl.SortOrder(), tbl.Properties()[LayoutProperty])
	}
	pl, err := s.Plan(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pl.Actions {
		if a.Op == "sort" {
			t.Fatalf("a sorted table plans another sort: %+v", a)
		}
	}
}

func TestATablesDeclaredSortOrderIsHonouredWithoutAPolicySort(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, sortedBy, op, layout string
	}{
		{"declared_sort", "ts", "sort", "sort:ts"},
		{"declared_desc", "ts DESC", "bin-pack", ""}, // not one compaction writes: bin-packed as is
	} {
		ident := table.Identifier{"curated", c.name}
		land(t, ident, 12, 400)
		want := fingerprint(t, ident, 0)
		sql(t, fmt.Sprintf("ALTER TABLE lakehouse.curated.%s SET PROPERTIES sorted_by = ARRAY['%s']", c.name, c.sortedBy))
		s := service(t, fmt.Sprintf("tables: {curated.%s: {min-input-files: 3, target-file-size: 8MiB}}", c.name))
		rep, err := s.Run(ctx, ident)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rewrite.Op != c.op || rep.Rewrite.Committed == 0 {
			t.Fatalf("%s: rewrite %+v, want a committed %s", c.name, rep.Rewrite, c.op)
		}
		if got := fingerprint(t, ident, 0); got != want {
			t.Fatalf("%s: after the rewrite the table reads %s, before %s", c.name, got, want)
		}
		tbl := load(t, ident)
		if got := tbl.Properties()[LayoutProperty]; got != c.layout {
			t.Fatalf("%s: layout %q, want %q", c.name, got, c.layout)
		}
		if c.op == "sort" {
			filesOrderedBy(t, tbl, "ts")
		}
	}
}

func TestZOrderRewriteKeepsRowsAndClustersBothColumns(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"curated", "zordered"}
	land(t, ident, 10, 400)
	want := fingerprint(t, ident, 0)
	s := service(t, "tables: {curated.zordered: {z-order: [amount, ts], min-input-files: 3, target-file-size: 8MiB}}")
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewrite.Op != "z-order" || rep.Rewrite.Committed == 0 {
		t.Fatalf("rewrite %+v, want a committed z-order", rep.Rewrite)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after z-order the table reads %s, before %s", got, want)
	}
	if got := load(t, ident).Properties()[LayoutProperty]; got != "zorder:amount,ts" {
		t.Fatalf("layout %q", got)
	}
}

func TestPartitionEvolutionMovesDaysToHoursKeepingRows(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"cleansed", "evolving"}
	before := land(t, ident, 8, 300, "day(ts)")
	want := fingerprint(t, ident, 0)
	old := before.CurrentSnapshot().SnapshotID
	s := service(t, "tables: {cleansed.evolving: {partitioning: [hour(ts)]}}")
	st, err := s.Status(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stats.OldSpecFiles != st.Stats.DataFiles {
		t.Fatalf("before: %d of %d files under an old spec, want all", st.Stats.OldSpecFiles, st.Stats.DataFiles)
	}
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	tbl := load(t, ident)
	spec := tbl.Spec()
	if !rep.SpecEvolved || spec.NumFields() != 1 || spec.Field(0).Transform.String() != "hour" {
		t.Fatalf("spec after: %v (evolved %v)", spec, rep.SpecEvolved)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if int(task.File.SpecID()) != spec.ID() {
			t.Fatalf("file %s still under spec %d", task.File.FilePath(), task.File.SpecID())
		}
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after evolution the table reads %s, before %s", got, want)
	}
	if got := fingerprint(t, ident, old); got != want {
		t.Fatalf("time travel before evolution reads %s, want %s", got, want)
	}
	if n := sql(t, "SELECT count(*) FROM lakehouse.cleansed.evolving WHERE ts >= TIMESTAMP '2026-03-01 05:00:00 UTC' AND ts < TIMESTAMP '2026-03-01 06:00:00 UTC'").Rows[0][0].(int64); n == 0 {
		t.Fatal("an hour's filter finds no rows after evolution")
	}
}

func TestConcurrentDeleteIsNeverUndoneByARewrite(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "racing"}
	land(t, ident, 12, 300)
	s := service(t, "defaults: {min-input-files: 3, target-file-size: 8MiB}")
	var once sync.Once
	s.beforeCommit = func(context.Context, *table.Table, table.CompactionGroupResult) {
		once.Do(func() { sql(t, "DELETE FROM lakehouse.raw.racing WHERE id % 7 = 0") })
	}
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewrite.Conflicts == 0 || rep.Rewrite.Committed == 0 {
		t.Fatalf("rewrite %+v: want the first commit to conflict and a later pass to commit", rep.Rewrite)
	}
	if n := sql(t, "SELECT count(*) FROM lakehouse.raw.racing WHERE id % 7 = 0").Rows[0][0].(int64); n != 0 {
		t.Fatalf("%d deleted rows came back", n)
	}
	if n := sql(t, "SELECT count(*) FROM lakehouse.raw.racing").Rows[0][0].(int64); n != 3600-515 {
		t.Fatalf("%d rows, want %d", n, 3600-515)
	}
	if left := unreferencedData(t, load(t, ident)); len(left) > 0 {
		t.Fatalf("the conflicted rewrite left files behind: %v", left)
	}
}

func TestExpiryKeepsBatchIDsSoReingestLandsNothing(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "batched"}
	land(t, ident, 8, 200)
	s := service(t, "defaults: {min-input-files: 3, target-file-size: 8MiB, snapshots: {max-age: 1ms, min-kept: 1}}")
	if _, err := s.Run(ctx, ident); err != nil {
		t.Fatal(err)
	}
	// More small files, a second rewrite: the first rewrite's snapshot
	// carries no batch id and is past retention.
	for i := 8; i < 12; i++ {
		rec := rows(int64(i*200), 200)
		if _, err := e.sink.AppendOnce(ctx, ident, testSchema, []arrow.RecordBatch{rec}, batchID(ident, i)); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	want := fingerprint(t, ident, 0)
	time.Sleep(10 * time.Millisecond)
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExpiredSnapshots == 0 || rep.Rewrite.Committed == 0 {
		t.Fatalf("report %+v: want a rewrite and expired snapshots", rep)
	}
	for i := range 12 {
		rec := rows(int64(i*200), 200)
		res, err := e.sink.AppendOnce(ctx, ident, testSchema, []arrow.RecordBatch{rec}, batchID(ident, i))
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if !res.Skipped {
			t.Fatalf("batch %d landed again after expiry", i)
		}
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after expiry and re-ingest the table reads %s, before %s", got, want)
	}
}

func TestExpiryPastTheHorizonKeepsTheKafkaLedger(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "ledgered"}
	land(t, ident, 4, 200)
	// A Kafka-style commit: the offset ledger in the snapshot summary.
	rec := rows(10_000, 100)
	st, err := e.sink.Stage(ctx, ident, testSchema, func(yield func(arrow.RecordBatch, error) bool) { rec.Retain(); yield(rec, nil) }, "kafka/ledgered/1", iceberg.Properties{kafka.OffsetsProperty: `{"orders":{"0":1234}}`})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sink.CommitOnce(ctx, st); err != nil {
		t.Fatal(err)
	}
	land(t, ident, 3, 200) // commits on top without a ledger
	want := fingerprint(t, ident, 0)
	s := service(t, "defaults: {min-input-files: 3, target-file-size: 8MiB, snapshots: {max-age: 1ms, min-kept: 1, dedupe-horizon: 1ms}}")
	time.Sleep(10 * time.Millisecond)
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExpiredSnapshots < 5 {
		t.Fatalf("report %+v: want the landing snapshots expired", rep)
	}
	off, err := kafka.Committed(ctx, e.sink, ident)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := off.Get("orders", 0); !ok || got != 1234 {
		t.Fatalf("Kafka ledger after expiry: %v, want orders/0 at 1234", off)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after expiry the table reads %s, before %s", got, want)
	}
}

func TestExpiryBeyondTheDedupeHorizonLetsBatchSnapshotsGo(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "horizon"}
	land(t, ident, 6, 100)
	s := service(t, "defaults: {snapshots: {max-age: 1ms, min-kept: 1, dedupe-horizon: 1ms}}")
	time.Sleep(10 * time.Millisecond)
	tbl := load(t, ident)
	n, next, err := s.expire(ctx, tbl, s.mustPolicy(t, ident).Snapshots)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 || len(next.Metadata().Snapshots()) != 1 {
		t.Fatalf("expired %d, %d left; want all but the head gone past the horizon", n, len(next.Metadata().Snapshots()))
	}
	if ingest.HasBatch(next, batchID(ident, 0)) {
		t.Fatal("the first batch is still recorded: the horizon test proves nothing")
	}
}

func (s *Service) mustPolicy(t *testing.T, ident table.Identifier) policy.Policy {
	t.Helper()
	p, err := s.policyFor(ident)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOrphanRemovalSparesYoungAndReferencedFiles(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"raw", "orphaned"}
	tbl := land(t, ident, 4, 100)
	want := fingerprint(t, ident, 0)
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wfs := fs.(interface {
		WriteFile(name string, content []byte) error
	})
	oldPath := tbl.Location() + "/data/stray-old.parquet"
	youngPath := tbl.Location() + "/data/stray-young.parquet"
	for _, p := range []string{oldPath, youngPath} {
		if err := wfs.WriteFile(p, []byte("not referenced")); err != nil {
			t.Fatal(err)
		}
	}
	// Age the old stray on the embedded S3's disk.
	local := filepath.Join(e.lake.Config().StateDir, "s3", "objects", strings.TrimPrefix(oldPath, "s3://"))
	past := time.Now().Add(-100 * time.Hour)
	if err := os.Chtimes(local, past, past); err != nil {
		t.Fatal(err)
	}
	s := service(t, "")
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansRemoved != 1 {
		t.Fatalf("removed %d orphans, want the old stray only", rep.OrphansRemoved)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Fatalf("old stray still there: %v", err)
	}
	young, err := fs.Open(youngPath)
	if err != nil {
		t.Fatalf("young stray removed: %v", err)
	}
	young.Close()
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after orphan removal the table reads %s, before %s", got, want)
	}
}

func TestCorruptMetadataHaltsTheTableInsteadOfRetrying(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"exploration", "broken"}
	tbl := land(t, ident, 6, 50)
	fs, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(tbl.CurrentSnapshot().ManifestList); err != nil {
		t.Fatal(err)
	}
	s := service(t, "defaults: {min-input-files: 3}")
	if _, err := s.Run(ctx, ident); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("run on a missing manifest list: %v, want ErrCorrupt", err)
	}
	if err := s.Halted(ctx, ident); !errors.Is(err, ErrHalted) {
		t.Fatalf("after the corrupt run: halted %v, want ErrHalted", err)
	}
	if _, err := s.Run(ctx, ident); !errors.Is(err, ErrHalted) {
		t.Fatalf("second run: %v, want ErrHalted", err)
	}
	st, err := s.StatusAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range st {
		if Name(x.Table) == "exploration.broken" && (x.Halt == nil || !errors.Is(x.Halted, ErrHalted)) {
			t.Fatalf("status does not show the halt: %+v", x)
		}
	}
	if _, err := s.Resume(ctx, ident); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, ident); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("run after resume: %v, want ErrCorrupt again (the metadata is still broken)", err)
	}
}

var _ = cmp.Compare[int]
var _ = fmt.Sprint

func TestManifestRewriteMergesManifestsKeepingRows(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"curated", "manifests"}
	tbl := land(t, ident, 10, 50)
	want := fingerprint(t, ident, 0)
	before := manifestCount(ctx, tbl)
	s := service(t, "defaults: {min-input-files: 1000, max-manifests: 3, manifest-target-size: 8MiB}")
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	after := manifestCount(ctx, load(t, ident))
	if rep.Rewrite.Committed != 0 || after >= before || after > 3 {
		t.Fatalf("manifests %d → %d (report %+v), want at most 3 and no data rewrite", before, after, rep)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after the manifest rewrite the table reads %s, before %s", got, want)
	}
}

func TestPartitionEvolutionCoarsensHoursToDays(t *testing.T) {
	requireLake(t)
	ctx := context.Background()
	ident := table.Identifier{"cleansed", "coarsening"}
	land(t, ident, 3, 200, "hour(ts)")
	want := fingerprint(t, ident, 0)
	s := service(t, "tables: {cleansed.coarsening: {partitioning: [day(ts)]}}")
	if _, err := s.Run(ctx, ident); err != nil {
		t.Fatal(err)
	}
	tbl := load(t, ident)
	if spec := tbl.Spec(); spec.NumFields() != 1 || spec.Field(0).Transform.String() != "day" {
		t.Fatalf("spec after: %v", spec)
	}
	if got := dataFiles(t, tbl); got != 3 {
		t.Fatalf("%d files after coarsening three days, want one a day", got)
	}
	if got := fingerprint(t, ident, 0); got != want {
		t.Fatalf("after coarsening the table reads %s, before %s", got, want)
	}
}
