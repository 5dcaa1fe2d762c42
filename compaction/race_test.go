package compaction

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// racePolicy is the race tests' policy: three small files or more are
// rewritten together.
const racePolicy = "defaults: {min-input-files: 3, target-file-size: 8MiB}"

// landMergeOnRead lands files files of perFile rows into ident (as land
// does), then sets the table to write merge-on-read deletes and to replay
// a lost commit retries times; it returns the table so set.
func landMergeOnRead(t *testing.T, ident table.Identifier, retries string, files, perFile int, partitionBy ...string) *table.Table {
	t.Helper()
	txn := land(t, ident, files, perFile, partitionBy...).NewTransaction()
	if err := txn.SetProperties(map[string]string{table.CommitNumRetriesKey: retries, table.WriteDeleteModeKey: table.WriteModeMergeOnRead}); err != nil {
		t.Fatal(err)
	}
	tbl, err := txn.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestGoMergeOnReadDeleteDuringARewriteIsNeverUndone races an iceberg-go
// merge-on-read delete against a rewrite, on a table whose writers replay
// lost commits (commit.retry.num-retries) and on one whose do not.
func TestGoMergeOnReadDeleteDuringARewriteIsNeverUndone(t *testing.T) {
	requireLake(t)
	for _, retries := range []string{"0", "5"} {
		t.Run("commit retries "+retries, func(t *testing.T) {
			ctx := context.Background()
			ident := table.Identifier{"raw", "mor_race_" + retries}
			landMergeOnRead(t, ident, retries, 8, 100)
			s := service(t, racePolicy)
			var once sync.Once
			s.beforeCommit = func(context.Context, *table.Table, table.CompactionGroupResult) {
				once.Do(func() {
					if err := deleteRange(ident, 100, 149); err != nil {
						t.Errorf("delete: %v", err)
					}
				})
			}
			rep, err := s.Run(ctx, ident)
			if err != nil {
				t.Fatal(err)
			}
			n := sql(t, fmt.Sprintf("SELECT count(*) FROM lakehouse.raw.mor_race_%s WHERE id BETWEEN 100 AND 149", retries)).Rows[0][0].(int64)
			total := sql(t, fmt.Sprintf("SELECT count(*) FROM lakehouse.raw.mor_race_%s", retries)).Rows[0][0].(int64)
			t.Logf("rewrite %+v; deleted rows back: %d; total %d", rep.Rewrite, n, total)
			if n != 0 || total != 750 {
				t.Fatalf("%d deleted rows came back, %d rows (want 750)", n, total)
			}
		})
	}
}

// TestADeleteStagedBeforeARewriteAndCommittedAfterIsNotLost stages an
// iceberg-go merge-on-read delete, lets a rewrite commit, then commits
// the delete: its replay must fail rather than apply its position deletes
// to files the rewrite removed.
func TestADeleteStagedBeforeARewriteAndCommittedAfterIsNotLost(t *testing.T) {
	requireLake(t)
	for _, retries := range []string{"0", "5"} {
		t.Run("commit retries "+retries, func(t *testing.T) {
			ctx := context.Background()
			ident := table.Identifier{"raw", "mor_late_" + retries}
			del := landMergeOnRead(t, ident, retries, 8, 100).NewTransaction()
			filter := iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("id"), int64(100)), iceberg.LessThanEqual(iceberg.Reference("id"), int64(149)))
			if err := del.Delete(ctx, filter, nil); err != nil {
				t.Fatal(err)
			}
			s := service(t, racePolicy)
			if _, err := s.Run(ctx, ident); err != nil {
				t.Fatal(err)
			}
			_, cerr := del.Commit(ctx)
			n := sql(t, fmt.Sprintf("SELECT count(*) FROM lakehouse.raw.mor_late_%s WHERE id BETWEEN 100 AND 149", retries)).Rows[0][0].(int64)
			t.Logf("delete commit after the rewrite: %v; rows of the range: %d", cerr, n)
			if cerr == nil && n != 0 {
				t.Fatalf("the delete committed but %d of its rows are still there", n)
			}
		})
	}
}

// TestAReplayedGroupCommitDoesNotLetLaterGroupsUndoDeletes deletes rows of
// one partition while another partition's group commits, with our replay
// and with iceberg-go's (commit retries): the first group lands past the
// delete, and the group of the deleted rows must be planned again, not
// committed from its stale read.
func TestAReplayedGroupCommitDoesNotLetLaterGroupsUndoDeletes(t *testing.T) {
	requireLake(t)
	for _, retries := range []string{"0", "5"} {
		t.Run("commit retries "+retries, func(t *testing.T) { replayedGroup(t, retries) })
	}
}

func replayedGroup(t *testing.T, retries string) {
	ctx := context.Background()
	ident := table.Identifier{"raw", fmt.Sprintf("replayed_%d", time.Now().UnixNano())}
	landMergeOnRead(t, ident, retries, 9, 300, "day(ts)")
	s := service(t, racePolicy)
	var (
		once     sync.Once
		day      time.Time
		deleteOK bool
	)
	s.beforeCommit = func(_ context.Context, _ *table.Table, gr table.CompactionGroupResult) {
		once.Do(func() {
			committing := testStart.AddDate(0, 0, dayOf(gr))
			day = testStart.AddDate(0, 0, 2)
			if committing.Equal(day) {
				day = testStart
			}
			filter := iceberg.NewAnd(
				iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("ts"), iceberg.Timestamp(day.UnixMicro())), iceberg.LessThan(iceberg.Reference("ts"), iceberg.Timestamp(day.AddDate(0, 0, 1).UnixMicro()))),
				iceberg.NewAnd(iceberg.GreaterThanEqual(iceberg.Reference("id"), int64(100)), iceberg.LessThanEqual(iceberg.Reference("id"), int64(1500))))
			cur := load(t, ident)
			del := cur.NewTransaction()
			if err := del.Delete(ctx, filter, nil); err != nil {
				t.Errorf("delete: %v", err)
				return
			}
			if _, err := del.Commit(ctx); err != nil {
				t.Errorf("delete commit: %v", err)
				return
			}
			deleteOK = true
		})
	}
	rep, err := s.Run(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if !deleteOK {
		t.Fatal("the delete did not land")
	}
	where := fmt.Sprintf("ts >= from_iso8601_timestamp('%s') AND ts < from_iso8601_timestamp('%s') AND id BETWEEN 100 AND 1500", day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339))
	n := sql(t, "SELECT count(*) FROM lakehouse.raw."+ident[1]+" WHERE "+where).Rows[0][0].(int64)
	t.Logf("rewrite %+v; deleted rows back: %d", rep.Rewrite, n)
	if n != 0 {
		t.Fatalf("%d deleted rows came back", n)
	}
	if !rep.Rewrite.Stale || rep.Rewrite.Conflicts != 0 {
		t.Fatalf("rewrite %+v: want the first group committed past the delete and the rest planned again", rep.Rewrite)
	}
}

// dayOf is the day (0, 1, 2 after testStart) of a group's partition.
func dayOf(gr table.CompactionGroupResult) int {
	for _, v := range gr.OldDataFiles[0].Partition() {
		if rv := reflect.ValueOf(v); rv.CanInt() {
			return int(rv.Int()) - int(testStart.Unix()/86400)
		}
	}
	panic(fmt.Sprintf("no day in partition %v", gr.OldDataFiles[0].Partition()))
}
