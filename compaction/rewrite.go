package compaction

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	tcomp "github.com/apache/iceberg-go/table/compaction"
	"github.com/google/uuid"

	"github.com/lakehouse-go/lakehouse/compaction/health"
	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
)

// Snapshot-summary and table properties of maintenance commits.
const (
	// CommitIDProperty identifies one maintenance commit, so that a commit
	// whose outcome the catalog left unknown can be found (or not) later.
	CommitIDProperty = "lakehouse.compaction.commit-id"
	// OperationProperty names the maintenance operation of a snapshot:
	// bin-pack, sort, z-order, evolve.
	OperationProperty = "lakehouse.compaction.operation"
	// LayoutProperty is the table property recording the layout every data
	// file was rewritten to ("sort:a,b", "zorder:a,b"); a policy asking for
	// another layout rewrites the whole table once.
	LayoutProperty = "lakehouse.compaction.layout"
)

// cleanupTimeout bounds removing a failed rewrite's files and settling an
// unknown commit outcome, which go on after the caller's context ended.
const cleanupTimeout = 30 * time.Second

// maxCommitAttempts bounds how often one group's commit is replayed on a
// newer snapshot after losing a race with a non-conflicting writer.
const maxCommitAttempts = 8

func layoutOf(p policy.Policy) string {
	switch {
	case len(p.Sort) > 0:
		return "sort:" + strings.Join(p.Sort, ",")
	case len(p.ZOrder) > 0:
		return "zorder:" + strings.Join(p.ZOrder, ",")
	}
	return ""
}

// group is the files of one partition rewritten and committed together.
type group struct {
	key   string
	tasks []table.FileScanTask
	bytes int64
}

func (g group) files() int { return len(g.tasks) }

// rewritePlan is the groups of one rewrite pass and how they are written.
type rewritePlan struct {
	op     string // bin-pack, sort, z-order, evolve
	full   bool   // every file, to reach a new layout or spec
	groups []group
}

func (r rewritePlan) bytes() (n int64) {
	for _, g := range r.groups {
		n += g.bytes
	}
	return n
}

func (r rewritePlan) files() (n int) {
	for _, g := range r.groups {
		n += g.files()
	}
	return n
}

// planRewrite picks the groups to rewrite on tbl's current snapshot.
func planRewrite(ctx context.Context, tbl *table.Table, p policy.Policy) (rewritePlan, error) {
	rp := rewritePlan{op: "bin-pack"}
	switch {
	case len(p.Sort) > 0:
		rp.op = "sort"
	case len(p.ZOrder) > 0:
		rp.op = "z-order"
	}
	if tbl.CurrentSnapshot() == nil {
		return rp, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return rp, fmt.Errorf("%w: planning files of %s: %w", ErrCorrupt, Name(tbl.Identifier()), err)
	}
	// Groups then take files of neighbouring ranges.
	tasks, _ = clusterOrder(tbl.Schema(), tasks)
	spec := tbl.Spec()
	curSpec := spec.ID()
	var oldSpec []table.FileScanTask
	for _, t := range tasks {
		if int(t.File.SpecID()) != curSpec {
			oldSpec = append(oldSpec, t)
		}
	}
	target := int64(p.TargetFileSize)
	switch {
	case len(oldSpec) > 0:
		if rp.op == "bin-pack" {
			rp.op = "evolve"
		}
		rp.full, rp.groups = true, packAll(oldSpec, target)
		return rp, nil
	case layoutOf(p) != "" && layoutOf(p) != tbl.Properties()[LayoutProperty]:
		rp.full, rp.groups = true, packAll(tasks, target)
		return rp, nil
	}
	cfg := tcomp.Config{
		TargetFileSizeBytes:  target,
		MinFileSizeBytes:     health.SmallFileLimit(p),
		MaxFileSizeBytes:     target * 9 / 5,
		MinInputFiles:        uint(p.MinInputFiles),
		DeleteFileThreshold:  5,
		DeleteRatioThreshold: p.DeleteFileRatio,
		PackingLookback:      tcomp.DefaultPackingLookback,
	}
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return rp, fmt.Errorf("planning rewrite of %s: %w", Name(tbl.Identifier()), err)
	}
	for _, g := range plan.Groups {
		// The packer may take a later file into an earlier bin: order each
		// bin again, so its rows, rewritten as read, keep the clustering.
		ordered, _ := clusterOrder(tbl.Schema(), g.Tasks)
		rp.groups = append(rp.groups, group{key: g.PartitionKey, tasks: ordered, bytes: g.TotalSizeBytes})
	}
	return rp, nil
}

// packAll groups every task by partition, packing each partition's files
// in order until a group reaches target bytes.
func packAll(tasks []table.FileScanTask, target int64) []group {
	byPart := map[string][]table.FileScanTask{}
	var keys []string
	for _, t := range tasks {
		k := health.PartitionKey(int(t.File.SpecID()), t.File.Partition())
		if _, ok := byPart[k]; !ok {
			keys = append(keys, k)
		}
		byPart[k] = append(byPart[k], t)
	}
	var out []group
	for _, k := range keys {
		cur := group{key: k}
		for _, t := range byPart[k] {
			cur.tasks = append(cur.tasks, t)
			cur.bytes += t.File.FileSizeBytes()
			if cur.bytes >= target {
				out = append(out, cur)
				cur = group{key: k}
			}
		}
		if len(cur.tasks) > 0 {
			out = append(out, cur)
		}
	}
	return out
}

// RewriteReport sums up one rewrite pass.
type RewriteReport struct {
	Op                string
	Groups, Committed int
	Conflicts         int
	FilesIn, FilesOut int
	BytesIn, BytesOut int64
	Failed            []error // groups that failed for another reason than a conflict
	// Stale: a commit landed past deletes on other groups' files, so the
	// rest of the plan was dropped and planned again.
	Stale bool
	// Took is the time spent planning, writing and committing groups.
	Took time.Duration
}

// executeGroup writes the group's rows (deletes applied) as new files
// without committing them.
func (s *Service) executeGroup(ctx context.Context, tbl *table.Table, g group, p policy.Policy, rp rewritePlan) (table.CompactionGroupResult, error) {
	tbl = wholeReads(tbl)
	if rp.op != "bin-pack" {
		return writeOrdered(ctx, tbl, g, p, s.cfg.ScanConcurrency, s.cfg.WriterParallelism)
	}
	parts := splitForCores(g, s.cfg.WriterParallelism)
	if len(parts) == 1 {
		return s.binPack(ctx, tbl, g, p)
	}
	// A Parquet writer encodes on one core: a large group is written as
	// several files at once, one per core, and committed as one.
	results := make([]table.CompactionGroupResult, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.binPack(ctx, tbl, part, p)
		}()
	}
	wg.Wait()
	out := table.CompactionGroupResult{PartitionKey: g.key}
	for _, r := range results {
		out.OldDataFiles = append(out.OldDataFiles, r.OldDataFiles...)
		out.NewDataFiles = append(out.NewDataFiles, r.NewDataFiles...)
		out.SafePosDeletes = append(out.SafePosDeletes, r.SafePosDeletes...)
		out.SafeDeletionVectors = append(out.SafeDeletionVectors, r.SafeDeletionVectors...)
		out.BytesBefore += r.BytesBefore
		out.BytesAfter += r.BytesAfter
	}
	return out, errors.Join(errs...)
}

func (s *Service) binPack(ctx context.Context, tbl *table.Table, g group, p policy.Policy) (table.CompactionGroupResult, error) {
	return table.ExecuteCompactionGroup(ctx, tbl, table.CompactionTaskGroup{PartitionKey: g.key, Tasks: g.tasks, TotalSizeBytes: g.bytes},
		table.WithCompactionTargetFileSize(int64(p.TargetFileSize)),
		table.WithCompactionScanConcurrency(max(1, s.cfg.ScanConcurrency/max(1, s.cfg.WriterParallelism))))
}

// minSplitBytes is the least input worth a writer of its own.
const minSplitBytes = 32 << 20

// splitForCores cuts g into up to n parts of about equal bytes, each of
// at least minSplitBytes; one part when g is small or n is 1.
func splitForCores(g group, n int) []group {
	sizes := make([]int64, len(g.tasks))
	for i, t := range g.tasks {
		sizes[i] = t.File.FileSizeBytes()
	}
	var parts []group
	lo := 0
	for _, hi := range cuts(sizes, g.bytes, n) {
		part := group{key: g.key, tasks: g.tasks[lo:hi]}
		for _, sz := range sizes[lo:hi] {
			part.bytes += sz
		}
		parts = append(parts, part)
		lo = hi
	}
	return parts
}

// cuts returns the end indexes of up to n runs of sizes of about equal
// total, each run's total at least minSplitBytes.
func cuts(sizes []int64, total int64, n int) []int {
	n = min(n, int(total/minSplitBytes), len(sizes))
	if n <= 1 {
		return []int{len(sizes)}
	}
	share := total / int64(n)
	var out []int
	var cur int64
	for i, sz := range sizes {
		cur += sz
		if cur >= share && len(out) < n-1 && i < len(sizes)-1 {
			out = append(out, i+1)
			cur = 0
		}
	}
	return append(out, len(sizes))
}

// rewriteGroup executes and commits one group. Whatever happens, the
// files it wrote are either in the committed snapshot or removed again.
func (s *Service) rewriteGroup(ctx context.Context, tbl *table.Table, g group, p policy.Policy, rp rewritePlan) (*table.Table, table.CompactionGroupResult, error) {
	gr, err := s.executeGroup(ctx, tbl, g, p, rp)
	if err != nil {
		if s.observeRewrite != nil {
			s.observeRewrite(gr, false)
		}
		return nil, gr, errors.Join(fmt.Errorf("rewriting group %s of %s: %w", g.key, Name(tbl.Identifier()), err), s.removeFiles(ctx, tbl, gr.NewDataFiles))
	}
	if len(gr.NewDataFiles) == 0 && len(gr.OldDataFiles) == 0 {
		return tbl, gr, nil
	}
	next, err := s.commitGroup(ctx, tbl, gr, rp.op)
	if s.observeRewrite != nil {
		s.observeRewrite(gr, err == nil)
	}
	if err != nil {
		return nil, gr, err
	}
	return next, gr, nil
}

// commitGroup commits gr as a rewrite planned on planned's snapshot. A
// commit that loses the race with a writer is replayed on the new
// snapshot when nothing committed since the planning snapshot deletes
// rows or replaces files (so the rows gr wrote are still exactly the
// live rows of the files it replaces); otherwise the new files are
// removed and the error wraps ErrConflict.
func (s *Service) commitGroup(ctx context.Context, planned *table.Table, gr table.CompactionGroupResult, op string) (*table.Table, error) {
	fs, err := planned.FS(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("opening storage of %s: %w", Name(planned.Identifier()), err), s.removeFiles(ctx, planned, gr.NewDataFiles))
	}
	rewritten := map[string]struct{}{}
	for _, df := range gr.OldDataFiles {
		rewritten[df.FilePath()] = struct{}{}
	}
	// Only delete files whose every target is rewritten here may go: a
	// position delete file also covering a file left alone must stay.
	dead, err := table.CollectDeadPositionDeletes(ctx, fs, planned.CurrentSnapshot(), rewritten)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%w: collecting dead deletes of %s: %w", ErrCorrupt, Name(planned.Identifier()), err), s.removeFiles(ctx, planned, gr.NewDataFiles))
	}
	commitID := uuid.NewString()
	if s.beforeCommit != nil {
		s.beforeCommit(ctx, planned, gr)
	}
	base := planned
	for attempt := 1; ; attempt++ {
		next, err := commitRewrite(ctx, base, gr, dead, snapshotProps(base, op, commitID))
		if err == nil {
			return next, nil
		}
		if errors.Is(err, table.ErrCommitDiverged) {
			// iceberg-go's replay found this group's files gone or its base
			// expired, before sending anything to the catalog.
			return nil, errors.Join(fmt.Errorf("committing rewrite of %s: %w: %w", Name(planned.Identifier()), ErrConflict, err), s.removeFiles(ctx, planned, gr.NewDataFiles))
		}
		if !errors.Is(err, table.ErrCommitFailed) {
			return s.settleUnknown(ctx, planned, gr, commitID, err)
		}
		fresh, lerr := s.cat.LoadTable(ctx, planned.Identifier())
		if lerr != nil {
			return nil, errors.Join(fmt.Errorf("reloading %s after a lost commit: %w", Name(planned.Identifier()), lerr), s.removeFiles(ctx, planned, gr.NewDataFiles))
		}
		why, cerr := groupConflict(fs, planned.CurrentSnapshot(), fresh.Metadata(), gr.OldDataFiles)
		if cerr != nil {
			why = cerr.Error()
		}
		if why != "" || attempt >= maxCommitAttempts {
			if why == "" {
				why = fmt.Sprintf("lost %d commit races", attempt)
			}
			return nil, errors.Join(fmt.Errorf("committing rewrite of %s: %w: %s", Name(planned.Identifier()), ErrConflict, why), s.removeFiles(ctx, planned, gr.NewDataFiles))
		}
		base = fresh
		if err := ctxtime.Sleep(ctx, time.Duration(25+rand.IntN(100*attempt))*time.Millisecond); err != nil {
			return nil, errors.Join(err, s.removeFiles(ctx, planned, gr.NewDataFiles))
		}
	}
}

// commitRewrite stages and commits one rewrite snapshot on base.
func commitRewrite(ctx context.Context, base *table.Table, gr table.CompactionGroupResult, dead []iceberg.DataFile, props iceberg.Properties) (*table.Table, error) {
	txn := base.NewTransaction()
	rw := txn.NewRewrite(props)
	for _, df := range gr.OldDataFiles {
		rw.DeleteFile(df)
	}
	for _, df := range gr.NewDataFiles {
		rw.AddFile(df)
	}
	seen := map[string]bool{}
	for _, df := range slices.Concat(dead, gr.SafeDeletionVectors) {
		if !seen[df.FilePath()] {
			seen[df.FilePath()] = true
			rw.DeleteFile(df)
		}
	}
	if err := rw.Commit(ctx); err != nil {
		return nil, fmt.Errorf("staging rewrite of %s: %w", Name(base.Identifier()), err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("committing rewrite of %s: %w", Name(base.Identifier()), err)
	}
	return next, nil
}

// settleUnknown finds out whether a commit whose outcome the catalog did
// not tell landed: its commit id is in a snapshot, or it did not and its
// files are removed. When the table cannot be read the files stay (they
// may be live); orphan removal takes them later if they are not.
func (s *Service) settleUnknown(ctx context.Context, planned *table.Table, gr table.CompactionGroupResult, commitID string, cause error) (*table.Table, error) {
	// Settle even when ctx ended (a shutdown mid-commit is the usual cause).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var lerr error
	for i := range 3 {
		if i > 0 {
			if err := ctxtime.Sleep(ctx, time.Duration(i)*time.Second); err != nil {
				break
			}
		}
		fresh, err := s.cat.LoadTable(ctx, planned.Identifier())
		if err != nil {
			lerr = err
			continue
		}
		for _, snap := range fresh.Metadata().Snapshots() {
			if snap.Summary != nil && snap.Summary.Properties[CommitIDProperty] == commitID {
				return fresh, nil
			}
		}
		return nil, errors.Join(cause, s.removeFiles(ctx, planned, gr.NewDataFiles))
	}
	return nil, errors.Join(cause, fmt.Errorf("outcome unknown, files kept for orphan removal: %w", lerr))
}

// removeFiles deletes data files a rewrite wrote but did not commit.
func (s *Service) removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) error {
	if len(files) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	fs, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("opening storage to remove %d uncommitted files: %w", len(files), err)
	}
	var errs []error
	for _, df := range files {
		if err := fs.Remove(df.FilePath()); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing uncommitted file %s: %w", df.FilePath(), err))
		}
	}
	s.logger.Debug("removed uncommitted rewrite output", "table", Name(tbl.Identifier()), "files", len(files))
	return errors.Join(errs...)
}
