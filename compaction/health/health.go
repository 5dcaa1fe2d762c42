// Package health measures what a table's maintenance depends on: how many
// data files each partition has and how small they are, how many rows
// delete files mask, how much history and how many manifests the table
// carries; and says, against a policy, why the table needs work.
package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// ErrCorrupt marks metadata that cannot be read: a manifest list or a
// manifest that is missing or unparseable. Maintenance halts the table.
var ErrCorrupt = errors.New("corrupt table metadata")

// Stats describe a table's current snapshot and history.
type Stats struct {
	DataFiles  int
	DataBytes  int64
	Records    int64
	SmallFiles int // below 3/4 of the policy's target size
	// Compactable counts the small files of partitions holding at least
	// the policy's min-input-files of them: what a bin-pack would take.
	Compactable     int
	DeleteFiles     int // position and equality delete files, deletion vectors
	DeletedRecords  int64
	Partitions      int
	MaxFilesPerPart int
	Snapshots       int
	Expirable       int // snapshots older than the retention's max age beyond min-kept
	Manifests       int
	ManifestBytes   int64
	OldSpecFiles    int // data files written under another spec than the wanted one
	SpecID          int
}

// SmallFileRatio is the share of data files that are small.
func (s Stats) SmallFileRatio() float64 {
	if s.DataFiles == 0 {
		return 0
	}
	return float64(s.SmallFiles) / float64(s.DataFiles)
}

// DeleteRatio is the share of rows masked by delete files.
func (s Stats) DeleteRatio() float64 {
	if s.Records == 0 {
		return 0
	}
	return float64(s.DeletedRecords) / float64(s.Records)
}

// SmallFileLimit is the size under which a data file counts as small.
func SmallFileLimit(p policy.Policy) int64 { return int64(p.TargetFileSize) * 3 / 4 }

// Measure reads tbl's current snapshot's manifests. wantSpec is the spec
// id files should be under (-1: the table's current one; any other
// negative id: a spec the table does not have yet).
func Measure(ctx context.Context, tbl *table.Table, p policy.Policy, wantSpec int) (Stats, error) {
	meta := tbl.Metadata()
	st := Stats{Snapshots: len(meta.Snapshots()), SpecID: meta.DefaultPartitionSpec()}
	if wantSpec == -1 {
		wantSpec = st.SpecID
	}
	st.Expirable = expirable(meta, p.Snapshots, time.Now())
	snap := meta.CurrentSnapshot()
	if snap == nil {
		return st, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return st, fmt.Errorf("opening storage of %v: %w", tbl.Identifier(), err)
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return st, fmt.Errorf("%w: reading manifest list %s: %w", ErrCorrupt, snap.ManifestList, err)
	}
	perPart := map[string]int{}
	smallPerPart := map[string]int{}
	small := SmallFileLimit(p)
	for _, m := range mans {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Manifests++
		st.ManifestBytes += m.Length()
		entries, err := m.FetchEntries(fs, true)
		if err != nil {
			return st, fmt.Errorf("%w: reading manifest %s: %w", ErrCorrupt, m.FilePath(), err)
		}
		for _, e := range entries {
			df := e.DataFile()
			if df.ContentType() != iceberg.EntryContentData {
				st.DeleteFiles++
				st.DeletedRecords += df.Count()
				continue
			}
			st.DataFiles++
			st.DataBytes += df.FileSizeBytes()
			st.Records += df.Count()
			key := PartitionKey(int(df.SpecID()), df.Partition())
			perPart[key]++
			if df.FileSizeBytes() < small {
				st.SmallFiles++
				smallPerPart[key]++
			}
			if int(df.SpecID()) != wantSpec {
				st.OldSpecFiles++
			}
		}
	}
	st.Partitions = len(perPart)
	for _, n := range smallPerPart {
		if n >= p.MinInputFiles {
			st.Compactable += n
		}
	}
	for _, n := range perPart {
		st.MaxFilesPerPart = max(st.MaxFilesPerPart, n)
	}
	return st, nil
}

// PartitionKey names a partition of a spec, e.g. "0/{1000=20250}".
func PartitionKey(specID int, part map[int]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/{", specID)
	for i, k := range slices.Sorted(maps.Keys(part)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d=%v", k, part[k])
	}
	b.WriteByte('}')
	return b.String()
}

// expirable counts the snapshots of main's history that retention lets
// go by age and count alone (ledger snapshots kept by the expiry rule are
// counted too: this is a trigger, not the exact outcome).
func expirable(meta table.Metadata, r policy.Retention, now time.Time) int {
	cutoff := now.Add(-r.MaxAge).UnixMilli()
	n, kept := 0, 0
	for _, s := range meta.Snapshots() {
		if s.TimestampMs < cutoff {
			n++
		} else {
			kept++
		}
	}
	if kept < r.MinKept {
		n -= min(n, r.MinKept-kept)
	}
	return n
}

// Reasons says why a table with stats st needs work under p; none means
// it does not.
func Reasons(st Stats, p policy.Policy) []string {
	var out []string
	if st.Compactable > 0 && st.SmallFileRatio() >= p.SmallFileRatio {
		out = append(out, fmt.Sprintf("%d of %d data files are small (%.0f%%), %d in partitions worth a rewrite", st.SmallFiles, st.DataFiles, 100*st.SmallFileRatio(), st.Compactable))
	}
	if st.DeleteFiles > 0 && st.DeleteRatio() >= p.DeleteFileRatio {
		out = append(out, fmt.Sprintf("delete files mask %.0f%% of rows", 100*st.DeleteRatio()))
	}
	if st.OldSpecFiles > 0 {
		out = append(out, fmt.Sprintf("%d data files under an old partition spec", st.OldSpecFiles))
	}
	if st.Expirable > 0 {
		out = append(out, fmt.Sprintf("%d snapshots past retention", st.Expirable))
	}
	if st.Manifests > p.MaxManifests {
		out = append(out, fmt.Sprintf("%d manifests (max %d)", st.Manifests, p.MaxManifests))
	}
	return out
}
