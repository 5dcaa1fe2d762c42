package ingest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
)

// commitAttempts bounds how often CommitOnce starts over after losing a race
// to another writer of the same tables.
const commitAttempts = 6

// ErrCommitUnknown means the catalog may or may not have applied a commit
// (a 5xx or a lost connection) and a reload could not tell: nothing is
// retried automatically; running the same ingestion again settles it.
var ErrCommitUnknown = errors.New("commit state unknown")

// Staged is one table's part of a commit: Parquet data files already written
// under the table's location but not referenced by any snapshot yet, so
// readers do not see them until CommitOnce.
type Staged struct {
	Table   table.Identifier
	BatchID string             // recorded in the snapshot summary (BatchIDProperty)
	Props   iceberg.Properties // further snapshot-summary properties
	Rows    int64
	// Prepare, when set, is called with the table as loaded for each commit
	// attempt, after the batch-id check. An error refuses the commit: no
	// part lands, every part's staged files are removed and CommitOnce
	// returns the error. The properties it returns join the snapshot
	// summary. The commit only applies on top of the table state Prepare
	// saw, so what it checked still holds when the snapshot lands.
	Prepare func(*table.Table) (iceberg.Properties, error)
	tbl     *table.Table // as loaded for writing
	files   []iceberg.DataFile
}

// Stage writes records as Parquet data files of the existing table ident.
// In an evolving zone (Config.EvolvingZones) the table's schema is first
// brought up to sc (see evolve); a batch that cannot fit is
// ErrIncompatibleSchema and nothing is written.
// The iterator's batches are released as they are written, so a stage can
// be larger than memory.
func (s *Sink) Stage(ctx context.Context, ident table.Identifier, sc *arrow.Schema, records iter.Seq2[arrow.RecordBatch, error], batchID string, props iceberg.Properties) (*Staged, error) {
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return nil, fmt.Errorf("loading table %v: %w", ident, err)
	}
	if s.cfg.evolves(ident) {
		if tbl, err = s.evolve(ctx, tbl, sc); err != nil {
			return nil, err
		}
	}
	st := &Staged{Table: ident, BatchID: batchID, Props: props, tbl: tbl}
	st.files, st.Rows, err = writeFiles(ctx, tbl, sc, records, s.cfg.Writers)
	if err != nil {
		s.discard(ctx, tbl, st.files)
		return nil, fmt.Errorf("writing data files of %v: %w", ident, err)
	}
	if st.Rows == 0 {
		s.discard(ctx, tbl, st.files)
		st.files = nil
	}
	return st, nil
}

// CommitOnce makes the staged parts visible, each with its batch id in its
// snapshot summary, skipping any part whose batch its table already holds.
// All remaining parts go in one catalog transaction (the REST catalog's
// multi-table commit), so readers see every part or none: there is no
// moment at which one table has a batch and another lacks its share. After
// losing a race to another writer it reloads the tables, checks the batch
// ids again and retries, so two runs of the same batch land it once.
// Results are part for part; Skipped parts were already there.
func (s *Sink) CommitOnce(ctx context.Context, parts ...*Staged) ([]AppendResult, error) {
	start := time.Now()
	results := make([]AppendResult, len(parts))
	for attempt := 1; ; attempt++ {
		tbls, commits, pending, err := s.prepare(ctx, parts)
		if err != nil {
			return nil, err
		}
		for i := range parts {
			results[i].Skipped = !slices.Contains(pending, i)
		}
		if len(commits) == 0 {
			s.discardSkipped(ctx, tbls, parts, results)
			return finish(results, parts, start), nil
		}
		err = s.commitAll(ctx, commits)
		switch {
		case err == nil:
			s.discardSkipped(ctx, tbls, parts, results)
			return finish(results, parts, start), nil
		case errors.Is(err, table.ErrCommitFailed) && attempt < commitAttempts:
			s.logger.Info("commit lost a race, retrying", "attempt", attempt, "err", err)
			if err := ctxtime.Sleep(ctx, time.Duration(attempt)*150*time.Millisecond); err != nil {
				return nil, err
			}
		case rejected(err):
			s.discardUnlanded(ctx, parts, pending)
			return nil, fmt.Errorf("committing %d table(s): %w", len(commits), err)
		default:
			// The catalog may have applied it: never retry blindly, never
			// delete files a snapshot may now reference.
			if err := s.settleUnknown(ctx, parts, pending, err); err != nil {
				return nil, err
			}
			s.discardSkipped(ctx, tbls, parts, results)
			return finish(results, parts, start), nil
		}
	}
}

// rejected: the catalog answered that it did not apply the commit.
func rejected(err error) bool {
	for _, e := range []error{table.ErrCommitFailed, rest.ErrBadRequest, rest.ErrForbidden, rest.ErrUnauthorized, catalog.ErrNoSuchTable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// prepare loads each part's table and builds the commits of the parts whose
// batch is not there yet; pending lists their indexes.
func (s *Sink) prepare(ctx context.Context, parts []*Staged) ([]*table.Table, []table.TableCommit, []int, error) {
	tbls := make([]*table.Table, len(parts))
	var commits []table.TableCommit
	var pending []int
	for i, p := range parts {
		tbl, err := s.cat.LoadTable(ctx, p.Table)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("loading table %v: %w", p.Table, err)
		}
		tbls[i] = tbl
		if HasBatch(tbl, p.BatchID) {
			continue
		}
		props := iceberg.Properties{}
		maps.Copy(props, p.Props)
		if p.Prepare != nil {
			more, err := p.Prepare(tbl)
			if err != nil {
				for _, q := range parts {
					s.discardStaged(ctx, q)
				}
				return nil, nil, nil, fmt.Errorf("preparing commit of %v: %w", p.Table, err)
			}
			maps.Copy(props, more)
		}
		props[BatchIDProperty] = p.BatchID
		txn := tbl.NewTransaction()
		if err := txn.AddDataFiles(ctx, p.files, props, table.WithoutDuplicateCheck()); err != nil {
			return nil, nil, nil, fmt.Errorf("adding data files to %v: %w", p.Table, err)
		}
		tc, err := txn.TableCommit()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("preparing commit of %v: %w", p.Table, err)
		}
		commits = append(commits, tc)
		pending = append(pending, i)
	}
	return tbls, commits, pending, nil
}

// commitAll commits in one catalog transaction; a catalog without the
// multi-table endpoint gets the commits one by one, in the given order.
func (s *Sink) commitAll(ctx context.Context, commits []table.TableCommit) error {
	err := s.cat.CommitTransaction(ctx, commits)
	if !errors.Is(err, rest.ErrEndpointNotSupported) {
		return err
	}
	s.logger.Warn("catalog has no multi-table commits; committing table by table")
	for _, c := range commits {
		if _, _, err := s.cat.CommitTable(ctx, c.Identifier, c.Requirements, c.Updates); err != nil {
			return err
		}
	}
	return nil
}

// settleUnknown reloads the tables after a commit of unknown outcome (also
// when ctx was cancelled mid-request): if every pending batch is there the
// commit went through.
func (s *Sink) settleUnknown(ctx context.Context, parts []*Staged, pending []int, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	landed := 0
	for _, i := range pending {
		tbl, err := s.cat.LoadTable(ctx, parts[i].Table)
		if err != nil {
			return fmt.Errorf("%w: %w (reloading %v: %w); run it again to settle", ErrCommitUnknown, cause, parts[i].Table, err)
		}
		if HasBatch(tbl, parts[i].BatchID) {
			landed++
		}
	}
	if landed == len(pending) {
		return nil
	}
	return fmt.Errorf("%w: %w (%d of %d parts visible); run it again to settle", ErrCommitUnknown, cause, landed, len(pending))
}

// discardSkipped removes the staged files of parts another writer landed
// first; nothing references them.
func (s *Sink) discardSkipped(ctx context.Context, tbls []*table.Table, parts []*Staged, results []AppendResult) {
	for i, r := range results {
		if r.Skipped {
			s.discard(ctx, tbls[i], parts[i].files)
		}
	}
}

// discardUnlanded removes the staged files of the pending parts whose
// batch is not in their table: table by table, a catalog without
// multi-table commits may have taken some parts before refusing one.
func (s *Sink) discardUnlanded(ctx context.Context, parts []*Staged, pending []int) {
	for _, i := range pending {
		tbl, err := s.cat.LoadTable(ctx, parts[i].Table)
		if err != nil || HasBatch(tbl, parts[i].BatchID) {
			continue
		}
		s.discardStaged(ctx, parts[i])
	}
}

// discardStaged removes the files of a stage that will not be committed.
func (s *Sink) discardStaged(ctx context.Context, st *Staged) {
	if st != nil {
		s.discard(ctx, st.tbl, st.files)
	}
}

// discard removes unreferenced data files, best effort: what is left is an
// orphan that table maintenance removes.
func (s *Sink) discard(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	if tbl == nil || len(files) == 0 {
		return
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		s.logger.Warn("leaving orphan data files", "table", tbl.Identifier(), "files", len(files), "err", err)
		return
	}
	for _, df := range files {
		if err := fs.Remove(df.FilePath()); err != nil {
			s.logger.Warn("leaving orphan data file", "file", df.FilePath(), "err", err)
		}
	}
}

func finish(results []AppendResult, parts []*Staged, start time.Time) []AppendResult {
	for i := range results {
		if !results[i].Skipped {
			results[i].Rows = parts[i].Rows
		}
		results[i].Duration = time.Since(start)
	}
	return results
}
