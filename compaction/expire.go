package compaction

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// expirable returns the ids of tbl's snapshots that retention r lets go,
// by these rules, in order:
//   - snapshots of refs other than main, and their history, are kept;
//   - main's newest r.MinKept snapshots and every one younger than
//     r.MaxAge are kept;
//   - main's history from the head back to the newest snapshot carrying a
//     Kafka ledger is kept unbroken (the ledger is read by walking it);
//   - a snapshot carrying an ingest batch id is kept until older than
//     r.DedupeHorizon;
//   - the rest go.
func expirable(meta table.Metadata, r policy.Retention, now time.Time) []int64 {
	keep := map[int64]bool{}
	ageCutoff := now.Add(-r.MaxAge).UnixMilli()
	dedupeCutoff := now.Add(-r.DedupeHorizon).UnixMilli()
	for name, ref := range meta.Refs() {
		keep[ref.SnapshotID] = true
		if name == table.MainBranch {
			continue
		}
		for _, s := range ancestry(meta, ref.SnapshotID) {
			keep[s.SnapshotID] = true
		}
	}
	if head := meta.CurrentSnapshot(); head != nil {
		chain := ancestry(meta, head.SnapshotID)
		ledgerAt := -1
		for i, s := range chain {
			if carriesLedger(s) {
				ledgerAt = i
				break
			}
		}
		for i, s := range chain {
			if i < r.MinKept || i <= ledgerAt || s.TimestampMs >= ageCutoff {
				keep[s.SnapshotID] = true
			}
		}
	}
	var out []int64
	for _, s := range meta.Snapshots() {
		switch {
		case keep[s.SnapshotID]:
		case carriesBatch(s) && s.TimestampMs >= dedupeCutoff:
		case s.TimestampMs >= ageCutoff: // unreferenced but young
		default:
			out = append(out, s.SnapshotID)
		}
	}
	return out
}

// ancestry is the history of id, newest first, up to the first snapshot
// whose parent is gone.
func ancestry(meta table.Metadata, id int64) []table.Snapshot {
	var out []table.Snapshot
	seen := map[int64]bool{}
	for s := meta.SnapshotByID(id); s != nil && !seen[s.SnapshotID]; {
		seen[s.SnapshotID] = true
		out = append(out, *s)
		if s.ParentSnapshotID == nil {
			break
		}
		s = meta.SnapshotByID(*s.ParentSnapshotID)
	}
	return out
}

// expire removes the snapshots retention lets go and then the files only
// they referenced. The commit asserts main did not move since tbl was
// loaded, so a concurrent ingest commit makes it fail harmlessly (the
// next pass retries) instead of expiring against a stale ledger.
func (s *Service) expire(ctx context.Context, tbl *table.Table, r policy.Retention) (int, *table.Table, error) {
	ids := expirable(tbl.Metadata(), r, time.Now())
	if len(ids) == 0 {
		return 0, tbl, nil
	}
	var head *int64
	if cur := tbl.CurrentSnapshot(); cur != nil {
		head = &cur.SnapshotID
	}
	update := table.NewRemoveSnapshotsUpdate(ids, true)
	reqs := []table.Requirement{table.AssertTableUUID(tbl.Metadata().TableUUID()), table.AssertRefSnapshotID(table.MainBranch, head)}
	if _, _, err := s.cat.CommitTable(ctx, tbl.Identifier(), reqs, []table.Update{update}); err != nil {
		if errors.Is(err, table.ErrCommitFailed) {
			return 0, tbl, fmt.Errorf("expiring snapshots of %s: %w: %w", Name(tbl.Identifier()), ErrConflict, err)
		}
		return 0, tbl, fmt.Errorf("expiring snapshots of %s: %w", Name(tbl.Identifier()), err)
	}
	post, err := s.cat.LoadTable(ctx, tbl.Identifier())
	if err != nil {
		return len(ids), tbl, fmt.Errorf("reloading %s after expiry: %w", Name(tbl.Identifier()), err)
	}
	// Files only expired snapshots referenced; a failure leaves orphans
	// for orphan removal, never a live file gone.
	if err := update.PostCommit(ctx, tbl, post); err != nil {
		s.logger.Warn("removing files of expired snapshots", "table", Name(tbl.Identifier()), "err", err)
	}
	return len(ids), post, nil
}

// expireRetrying expires, and when a writer committed meanwhile, reloads
// the table and decides again (the ledger rule needs the newest history),
// a few times.
func (s *Service) expireRetrying(ctx context.Context, tbl *table.Table, r policy.Retention) (int, *table.Table, error) {
	for attempt := 1; ; attempt++ {
		n, next, err := s.expire(ctx, tbl, r)
		if !errors.Is(err, ErrConflict) || attempt == 3 {
			return n, next, err
		}
		fresh, lerr := s.cat.LoadTable(ctx, tbl.Identifier())
		if lerr != nil {
			return 0, tbl, errors.Join(err, lerr)
		}
		tbl = fresh
	}
}
