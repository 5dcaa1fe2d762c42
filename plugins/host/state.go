package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// committed is what the host records in a commit's snapshot summary under
// ingest.PositionProperty: the plugin's checkpoint and where it stands.
type committed struct {
	Plugin string `json:"plugin"`
	Stream string `json:"stream"`
	// Run names one full read: a full refresh that stopped half-way goes
	// on under the same run; a finished one starts a new run.
	Run string `json:"run"`
	// Seq counts the source's commits, over every run: the next commit is
	// Seq+1, its batch id is derived from it.
	Seq int64 `json:"seq"`
	// Done: the plugin's read ended right after this checkpoint.
	Done  bool            `json:"done"`
	State json.RawMessage `json:"state"`
}

// batchID names commit seq of a source. Seq only grows, so a commit that a
// crashed run left unfinished is never confused with a later one.
func batchID(source string, seq int64) string {
	return fmt.Sprintf("%s#%d", source, seq)
}

// lastCommitted returns the newest checkpoint of source in ident or its
// quarantine table (a commit of rejects only lands in the quarantine), or
// nil when neither holds one.
func lastCommitted(ctx context.Context, sink *ingest.Sink, ident table.Identifier, source string) (*committed, error) {
	var best *committed
	for _, id := range []table.Identifier{ident, ingest.QuarantineTable(ident)} {
		tbl, err := sink.Catalog().LoadTable(ctx, id)
		if errors.Is(err, catalog.ErrNoSuchTable) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("loading table %v: %w", id, err)
		}
		c, err := newestIn(tbl, source)
		if err != nil {
			return nil, err
		}
		if c != nil && (best == nil || c.Seq > best.Seq) {
			best = c
		}
	}
	return best, nil
}

// newestIn walks tbl's snapshot ancestry from the current snapshot back and
// returns the first checkpoint of source. Snapshots of other branches or
// rolled back are not in the ancestry: their records are not in the table.
func newestIn(tbl *table.Table, source string) (*committed, error) {
	meta := tbl.Metadata()
	seen := map[int64]bool{}
	for snap := meta.CurrentSnapshot(); snap != nil && !seen[snap.SnapshotID]; {
		seen[snap.SnapshotID] = true
		if snap.Summary != nil && snap.Summary.Properties[ingest.SourceProperty] == source {
			raw := snap.Summary.Properties[ingest.PositionProperty]
			var c committed
			if err := json.Unmarshal([]byte(raw), &c); err != nil {
				return nil, fmt.Errorf("reading the checkpoint of %s in %v (snapshot %d): %w", source, tbl.Identifier(), snap.SnapshotID, err)
			}
			return &c, nil
		}
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	return nil, nil
}
