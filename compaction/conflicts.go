package compaction

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/health"
)

// conflicting says why the commits on top of the planning snapshot (in
// fresh's main history) may touch any row a plan read, or "": appends of
// data files do not; deletes, overwrites and replacements of files may,
// and so does a history that no longer holds the planning snapshot (a
// rollback). It is the table-wide test that tells whether the groups of a
// plan not committed yet were read from a stale snapshot.
func conflicting(planned *table.Snapshot, fresh table.Metadata) string {
	return conflictingFrom(planned, fresh, fresh.CurrentSnapshot())
}

// conflictingFrom is conflicting for the history ending at head.
func conflictingFrom(planned *table.Snapshot, fresh table.Metadata, head *table.Snapshot) string {
	if planned == nil {
		return "table had no snapshot"
	}
	for snap := head; snap != nil; {
		if snap.SnapshotID == planned.SnapshotID {
			return ""
		}
		if why := summaryConflict(snap); why != "" {
			return why
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = fresh.SnapshotByID(*snap.ParentSnapshotID)
	}
	return "the planning snapshot left the table's history"
}

// summaryConflict says, from its summary alone, why snap may touch rows
// of existing files, or "" when it only appends.
func summaryConflict(snap *table.Snapshot) string {
	if snap.Summary == nil {
		return fmt.Sprintf("snapshot %d has no summary", snap.SnapshotID)
	}
	if op := snap.Summary.Operation; op != table.OpAppend && op != table.OpReplace {
		return fmt.Sprintf("snapshot %d is a %s", snap.SnapshotID, op)
	}
	for _, k := range []string{"deleted-data-files", "added-delete-files", "added-position-delete-files", "added-equality-delete-files", "added-dvs", "removed-delete-files"} {
		if n, _ := strconv.ParseInt(snap.Summary.Properties[k], 10, 64); n > 0 {
			return fmt.Sprintf("snapshot %d has %s=%d", snap.SnapshotID, k, n)
		}
	}
	return ""
}

// filePathFieldID is the field id of file_path in position delete files.
var filePathFieldID = func() int {
	f, _ := iceberg.PositionalDeleteSchema.FindFieldByName("file_path")
	return f.ID
}()

// groupConflict says why the commits on top of the planning snapshot may
// touch the rows of the data files old, or "": one of them was removed
// (rewritten or deleted whole), or a delete file was added that targets
// one of them (by its referenced data file or file_path bounds) or, not
// naming a file, shares their partition; an equality delete anywhere in
// their partitions or in an unpartitioned spec counts too. Appends and
// deletes in other partitions do not conflict, so a rewrite commits past
// streaming writers and deletes elsewhere. A history that no longer holds
// the planning snapshot conflicts.
func groupConflict(fs iceio.IO, planned *table.Snapshot, fresh table.Metadata, old []iceberg.DataFile) (string, error) {
	if planned == nil {
		return "table had no snapshot", nil
	}
	paths := map[string]bool{}
	parts := map[string]bool{}
	for _, df := range old {
		paths[df.FilePath()] = true
		parts[health.PartitionKey(int(df.SpecID()), df.Partition())] = true
	}
	for snap := fresh.CurrentSnapshot(); snap != nil; {
		if snap.SnapshotID == planned.SnapshotID {
			return "", nil
		}
		if why, err := snapshotConflict(fs, snap, paths, parts); why != "" || err != nil {
			return why, err
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = fresh.SnapshotByID(*snap.ParentSnapshotID)
	}
	return "the planning snapshot left the table's history", nil
}

// snapshotConflict checks the files one snapshot added and removed.
func snapshotConflict(fs iceio.IO, snap *table.Snapshot, paths, parts map[string]bool) (string, error) {
	if summaryConflict(snap) == "" {
		return "", nil // appends only (or a manifest rewrite)
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return "", fmt.Errorf("%w: reading manifests of snapshot %d: %w", ErrCorrupt, snap.SnapshotID, err)
	}
	for _, m := range mans {
		if m.SnapshotID() != snap.SnapshotID {
			continue
		}
		entries, err := m.FetchEntries(fs, false)
		if err != nil {
			return "", fmt.Errorf("%w: reading manifest %s: %w", ErrCorrupt, m.FilePath(), err)
		}
		for _, e := range entries {
			if e.SnapshotID() != snap.SnapshotID {
				continue
			}
			df := e.DataFile()
			key := health.PartitionKey(int(df.SpecID()), df.Partition())
			switch {
			case e.Status() == iceberg.EntryStatusDELETED && df.ContentType() == iceberg.EntryContentData && paths[df.FilePath()]:
				return fmt.Sprintf("snapshot %d removed %s", snap.SnapshotID, df.FilePath()), nil
			case e.Status() != iceberg.EntryStatusADDED:
			case df.ContentType() == iceberg.EntryContentPosDeletes:
				if ref := referencedFile(df); ref != "" {
					if paths[ref] {
						return fmt.Sprintf("snapshot %d deletes rows of %s", snap.SnapshotID, ref), nil
					}
				} else if parts[key] || len(df.Partition()) == 0 {
					return fmt.Sprintf("snapshot %d adds position deletes in partition %s", snap.SnapshotID, key), nil
				}
			case df.ContentType() == iceberg.EntryContentEqDeletes && (parts[key] || len(df.Partition()) == 0):
				return fmt.Sprintf("snapshot %d adds equality deletes in partition %s", snap.SnapshotID, key), nil
			}
		}
	}
	return "", nil
}

// referencedFile is the one data file a position delete file targets, or "".
func referencedFile(df iceberg.DataFile) string {
	if ref := df.ReferencedDataFile(); ref != nil && *ref != "" {
		return *ref
	}
	lo, hi := df.LowerBoundValues()[filePathFieldID], df.UpperBoundValues()[filePathFieldID]
	if len(lo) == 0 || !bytes.Equal(lo, hi) {
		return ""
	}
	return string(lo)
}
