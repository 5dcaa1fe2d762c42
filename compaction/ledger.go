package compaction

import (
	"encoding/json"
	"strconv"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
)

// Ingestion keeps its exactly-once state in snapshot summaries, so
// maintenance must not lose it:
//
//   - The Kafka offset ledger (kafka.OffsetsProperty) is read by walking
//     main's history from the head, newest snapshot first, until the
//     history ends. Maintenance commits carry the merged ledger of their
//     parent forward into their own summary, and expiry keeps every
//     snapshot from the head back to the newest one carrying a ledger, so
//     the walk always finds it.
//   - Batch ids (ingest.BatchIDProperty, used by file, poll and collector
//     ingestion and AppendOnce) are looked up in any snapshot. Expiry keeps
//     a snapshot carrying one until it is older than the policy's
//     snapshots.dedupe-horizon: re-ingesting a source whose batch landed
//     longer ago than that lands it again. That horizon is the honest
//     limit of the dedupe.

// snapshotProps are the summary properties of a maintenance commit on
// base: its identity and the ledger carried forward. The carried ledger is
// exact only while the commit is not replayed by iceberg-go on another
// parent, which happens only when the table sets commit.retry.num-retries;
// then nothing is carried and expiry's chain rule alone keeps the ledger.
func snapshotProps(base *table.Table, op, commitID string) iceberg.Properties {
	props := iceberg.Properties{CommitIDProperty: commitID, OperationProperty: op}
	if n, _ := strconv.Atoi(base.Properties()[table.CommitNumRetriesKey]); n > 0 {
		return props
	}
	if l, ok := mergedOffsets(base.Metadata()); ok {
		props[kafka.OffsetsProperty] = l
	}
	return props
}

// mergedOffsets is the Kafka ledger as the Kafka source reads it: per
// topic-partition the offset of the newest snapshot of main's history
// recording it. ok is false when no snapshot records one (or one does not
// parse: then carrying forward would hide it, and the chain rule keeps it).
func mergedOffsets(meta table.Metadata) (string, bool) {
	out := map[string]map[string]int64{}
	found := false
	for snap := meta.CurrentSnapshot(); snap != nil; {
		if snap.Summary != nil {
			if raw, ok := snap.Summary.Properties[kafka.OffsetsProperty]; ok {
				var o map[string]map[string]int64
				if err := json.Unmarshal([]byte(raw), &o); err != nil {
					return "", false
				}
				found = true
				for t, ps := range o {
					if out[t] == nil {
						out[t] = map[string]int64{}
					}
					for p, off := range ps {
						if _, seen := out[t][p]; !seen {
							out[t][p] = off
						}
					}
				}
			}
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	if !found {
		return "", false
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// carriesBatch reports whether snap records an ingest batch id.
func carriesBatch(snap table.Snapshot) bool {
	return snap.Summary != nil && snap.Summary.Properties[ingest.BatchIDProperty] != ""
}

// carriesLedger reports whether snap records a Kafka offset ledger.
func carriesLedger(snap table.Snapshot) bool {
	if snap.Summary == nil {
		return false
	}
	_, ok := snap.Summary.Properties[kafka.OffsetsProperty]
	return ok
}
