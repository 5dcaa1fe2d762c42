package compaction

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// Action is one operation a plan would run.
type Action struct {
	// Op is evolve-spec, bin-pack, sort, z-order, evolve, rewrite-manifests,
	// expire-snapshots or remove-orphans.
	Op     string
	Detail string
	Files  int
	Bytes  int64
}

// Plan is what Run would do to a table now.
type Plan struct {
	Table   table.Identifier
	Actions []Action
}

// Plan works out what Run would do to ident, without changing anything.
func (s *Service) Plan(ctx context.Context, ident table.Identifier) (Plan, error) {
	pl := Plan{Table: ident}
	if err := s.Halted(ctx, ident); err != nil {
		return pl, err
	}
	p, err := s.policyFor(ident)
	if err != nil || p.Disabled {
		return pl, err
	}
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return pl, fmt.Errorf("loading table %s: %w", Name(ident), err)
	}
	p = s.declaredSort(tbl, p)
	want, evolve, err := wantedSpec(tbl, p)
	if err != nil {
		return pl, err
	}
	if evolve && !sameFields(tbl.Spec(), want) {
		pl.Actions = append(pl.Actions, Action{Op: "evolve-spec", Detail: fmt.Sprintf("partition by %s, then rewrite every file under the old spec", strings.Join(p.Partitioning, ", "))})
	}
	rp, err := planRewrite(ctx, tbl, p)
	if err != nil {
		return pl, s.halt(ctx, ident, err)
	}
	if evolve && !sameFields(tbl.Spec(), want) && !rp.full {
		// After the spec changes every current file is under an old spec.
		rp.full = true
		rp.groups = packAll(mustTasks(ctx, tbl), int64(p.TargetFileSize))
	}
	if len(rp.groups) > 0 {
		pl.Actions = append(pl.Actions, Action{Op: rp.op, Files: rp.files(), Bytes: rp.bytes(),
			Detail: fmt.Sprintf("%d groups → about %d files of %s", len(rp.groups), max(1, int(rp.bytes()/int64(p.TargetFileSize))+1), p.TargetFileSize)})
	}
	if n := manifestCount(ctx, tbl); n > p.MaxManifests {
		pl.Actions = append(pl.Actions, Action{Op: "rewrite-manifests", Detail: fmt.Sprintf("%d manifests toward %s each", n, p.ManifestTargetSize)})
	}
	if ids := expirable(tbl.Metadata(), p.Snapshots, time.Now()); len(ids) > 0 {
		pl.Actions = append(pl.Actions, Action{Op: "expire-snapshots", Detail: fmt.Sprintf("%d of %d snapshots (max age %s, min kept %d, ingest ledgers kept)", len(ids), len(tbl.Metadata().Snapshots()), p.Snapshots.MaxAge, p.Snapshots.MinKept)})
	}
	orph, err := orphans(ctx, tbl, p.OrphanAge)
	if err != nil {
		return pl, err
	}
	if len(orph) > 0 {
		var b int64
		for _, o := range orph {
			b += o.SizeBytes
		}
		pl.Actions = append(pl.Actions, Action{Op: "remove-orphans", Files: len(orph), Bytes: b, Detail: fmt.Sprintf("unreferenced files older than %s", p.OrphanAge)})
	}
	return pl, nil
}

func mustTasks(ctx context.Context, tbl *table.Table) []table.FileScanTask {
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	tasks, _ := tbl.Scan().PlanFiles(ctx)
	return tasks
}

func manifestCount(ctx context.Context, tbl *table.Table) int {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return 0
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return 0
	}
	mans, err := snap.Manifests(fs)
	if err != nil {
		return 0
	}
	return len(mans)
}

// Report is what Run did to a table.
type Report struct {
	Table            table.Identifier
	SpecEvolved      bool
	Rewrite          RewriteReport
	ManifestsIn      int
	ManifestsOut     int
	ExpiredSnapshots int
	OrphansRemoved   int
	OrphanBytes      int64
	Took             time.Duration
}

// budget paces rewrites (see Serve's bytes-per-hour quota); nil is none.
type budget interface {
	take(ctx context.Context, bytes int64) error
}

// Run does the work ident's policy asks for now: partition evolution,
// file rewrites (committed group by group), manifest rewrite, snapshot
// expiry and orphan removal. A conflict with a concurrent commit leaves
// the conflicting group for the next pass and goes on; corrupt metadata
// halts the table.
//
// Run holds the table's lease while it works and fails with ErrLeaseHeld
// while another worker (a `compact serve`, `lakehouse up`) maintains it.
func (s *Service) Run(ctx context.Context, ident table.Identifier) (Report, error) {
	var rep Report
	err := s.withLease(ctx, ident, func(ctx context.Context) error {
		var err error
		rep, err = s.run(ctx, ident, nil)
		return err
	})
	rep.Table = ident
	return rep, err
}

func (s *Service) run(ctx context.Context, ident table.Identifier, b budget) (rep Report, err error) {
	began := time.Now()
	rep.Table = ident
	defer func() {
		rep.Took = time.Since(began)
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		s.metrics.runs.WithLabelValues(Name(ident), "run", outcome).Inc()
	}()
	if err := s.Halted(ctx, ident); err != nil {
		return rep, err
	}
	p, err := s.policyFor(ident)
	if err != nil || p.Disabled {
		return rep, err
	}
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return rep, fmt.Errorf("loading table %s: %w", Name(ident), err)
	}
	p = s.declaredSort(tbl, p)
	if want, ok, err := wantedSpec(tbl, p); err != nil {
		return rep, err
	} else if ok {
		if tbl, rep.SpecEvolved, err = evolveSpec(ctx, tbl, want); err != nil {
			return rep, err
		}
	}
	if tbl, rep.Rewrite, err = s.rewritePasses(ctx, tbl, p, b); err != nil {
		return rep, s.halt(ctx, ident, err)
	}
	if rep.Rewrite.Op == "evolve" && rep.Rewrite.Committed > 0 {
		// Evolution rewrites each old partition on its own: coarsening
		// (hours to days) leaves several files per new partition, which
		// a bin-pack pass now merges.
		var more RewriteReport
		if tbl, more, err = s.rewritePasses(ctx, tbl, p, b); err != nil {
			return rep, s.halt(ctx, ident, err)
		}
		more.Op = ""
		rep.Rewrite.add(more)
		rep.Rewrite.Took += more.Took
	}
	var errs []error
	if manifestCount(ctx, tbl) > p.MaxManifests {
		var merr error
		rep.ManifestsIn, rep.ManifestsOut, tbl, merr = rewriteManifests(ctx, tbl, int64(p.ManifestTargetSize))
		errs = append(errs, merr)
	}
	n, next, eerr := s.expireRetrying(ctx, tbl, p.Snapshots)
	rep.ExpiredSnapshots, tbl = n, next
	s.metrics.expiredSnapshots.WithLabelValues(Name(ident)).Add(float64(n))
	errs = append(errs, eerr)
	rep.OrphansRemoved, rep.OrphanBytes, err = s.removeOrphans(ctx, tbl, p.OrphanAge)
	s.metrics.orphansRemoved.WithLabelValues(Name(ident)).Add(float64(rep.OrphansRemoved))
	errs = append(errs, err)
	for _, e := range rep.Rewrite.Failed {
		errs = append(errs, e)
	}
	// The run began by checking the halts; measuring needs no second look.
	if _, err := s.status(ctx, ident, nil); err != nil {
		errs = append(errs, err)
	}
	return rep, s.halt(ctx, ident, errors.Join(errs...))
}

// maxRewritePasses bounds how often one Run plans again after a conflict.
const maxRewritePasses = 5

// splitGroups cuts each group into up to parts groups of consecutive
// files, none with fewer than minFiles files.
func splitGroups(groups []group, parts, minFiles int) []group {
	if parts <= 1 {
		return groups
	}
	var out []group
	for _, g := range groups {
		lo := 0
		for _, n := range partSizes(len(g.tasks), parts, minFiles) {
			part := group{key: g.key, tasks: g.tasks[lo : lo+n]}
			for _, t := range part.tasks {
				part.bytes += t.File.FileSizeBytes()
			}
			out = append(out, part)
			lo += n
		}
	}
	return out
}

// partSizes splits n files into up to parts runs of near-equal length,
// each at least minFiles long (one run when n is too small to split).
func partSizes(n, parts, minFiles int) []int {
	k := max(1, min(parts, n/max(1, minFiles)))
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// rewritePasses runs rewrite passes until one ends without a conflict.
func (s *Service) rewritePasses(ctx context.Context, tbl *table.Table, p policy.Policy, b budget) (_ *table.Table, total RewriteReport, _ error) {
	began := time.Now()
	defer func() { total.Took = time.Since(began) }()
	for pass := 0; pass < maxRewritePasses; pass++ {
		// After a conflict each group is cut in two, then four…: a
		// smaller group is read and written sooner, so it commits before
		// the next delete on its files when deletes come often.
		next, rep, err := s.rewrite(ctx, tbl, p, b, 1<<pass)
		total.add(rep)
		if err != nil || (rep.Conflicts == 0 && !rep.Stale) {
			return next, total, err
		}
		if tbl, err = s.cat.LoadTable(ctx, tbl.Identifier()); err != nil {
			return next, total, fmt.Errorf("reloading %s after a conflict: %w", Name(next.Identifier()), err)
		}
	}
	return tbl, total, nil
}

func (r *RewriteReport) add(o RewriteReport) {
	if r.Op == "" {
		r.Op = o.Op
	}
	r.Groups += o.Groups
	r.Committed += o.Committed
	r.Conflicts += o.Conflicts
	r.Stale = r.Stale || o.Stale
	r.FilesIn += o.FilesIn
	r.FilesOut += o.FilesOut
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
	r.Failed = append(r.Failed, o.Failed...)
}

// rewrite runs one rewrite pass: each group is written and committed on
// its own, so a conflict in one keeps the others. Groups are planned on
// one snapshot; each commit is validated against that snapshot.
func (s *Service) rewrite(ctx context.Context, tbl *table.Table, p policy.Policy, b budget, parts int) (*table.Table, RewriteReport, error) {
	rp, err := planRewrite(ctx, tbl, p)
	rp.groups = splitGroups(rp.groups, parts, p.MinInputFiles)
	rep := RewriteReport{Op: rp.op, Groups: len(rp.groups)}
	if err != nil || len(rp.groups) == 0 {
		return tbl, rep, err
	}
	planned := tbl
	name := Name(tbl.Identifier())
	for _, g := range rp.groups {
		if b != nil {
			if err := b.take(ctx, g.bytes); err != nil {
				return tbl, rep, err
			}
		}
		if err := ctx.Err(); err != nil {
			return tbl, rep, err
		}
		// Each group is staged on the planning snapshot, so its commit is
		// checked against everything committed since the plan was made.
		next, gr, err := s.rewriteGroup(ctx, planned, g, p, rp)
		switch {
		case errors.Is(err, ErrConflict):
			rep.Conflicts++
			s.metrics.conflicts.WithLabelValues(name).Inc()
			s.logger.Info("rewrite group lost to a concurrent commit; planning again on the new snapshot", "table", name, "group", g.key, "err", err)
			// The groups left were planned on the same snapshot and would
			// meet the same commit: plan them again instead.
			return tbl, rep, nil
		case errors.Is(err, ErrCorrupt):
			return tbl, rep, err
		case err != nil:
			rep.Failed = append(rep.Failed, err)
			continue
		}
		// When the commit landed on a newer snapshot than the plan's (a
		// replay, by us or by iceberg-go when the table sets commit
		// retries), what came in between was checked against this
		// group's files only: the other groups' reads may be stale.
		stale := false
		if head := next.CurrentSnapshot(); head != nil && head.ParentSnapshotID != nil && planned.CurrentSnapshot() != nil &&
			*head.ParentSnapshotID != planned.CurrentSnapshot().SnapshotID {
			why := conflictingFrom(planned.CurrentSnapshot(), next.Metadata(), next.Metadata().SnapshotByID(*head.ParentSnapshotID))
			stale = why != ""
		}
		tbl = next
		planned = next
		rep.Committed++
		rep.FilesIn += len(gr.OldDataFiles)
		rep.FilesOut += len(gr.NewDataFiles)
		rep.BytesIn += gr.BytesBefore
		rep.BytesOut += gr.BytesAfter
		s.metrics.filesRewritten.WithLabelValues(name).Add(float64(len(gr.OldDataFiles)))
		s.metrics.filesWritten.WithLabelValues(name).Add(float64(len(gr.NewDataFiles)))
		s.metrics.rewrittenBytes.WithLabelValues(name).Add(float64(gr.BytesBefore))
		if stale {
			rep.Stale = true
			return tbl, rep, nil
		}
	}
	if rp.full && rep.Conflicts == 0 && !rep.Stale && len(rep.Failed) == 0 {
		next, err := s.recordLayout(ctx, tbl, p)
		if err != nil {
			return tbl, rep, err
		}
		tbl = next
	}
	return tbl, rep, nil
}

// declaredSort is withDeclaredSort, logging an order it cannot write.
func (s *Service) declaredSort(tbl *table.Table, p policy.Policy) policy.Policy {
	p, why := withDeclaredSort(tbl, p)
	if why != "" {
		s.logger.Warn("compaction: "+why, "table", Name(tbl.Identifier()))
	}
	return p
}

// recordLayout notes that every file now has p's layout, and sets the
// table's sort order when p sorts, so writers that honour it sort too.
func (s *Service) recordLayout(ctx context.Context, tbl *table.Table, p policy.Policy) (*table.Table, error) {
	layout := layoutOf(p)
	order, sorts, err := sortOrderOf(tbl.Schema(), p)
	if err != nil {
		return tbl, err
	}
	if layout == tbl.Properties()[LayoutProperty] && !sorts {
		return tbl, nil
	}
	txn := tbl.NewTransaction()
	if err := txn.SetProperties(map[string]string{LayoutProperty: layout}); err != nil {
		return tbl, fmt.Errorf("recording layout of %s: %w", Name(tbl.Identifier()), err)
	}
	if sorts {
		if err := txn.ReplaceSortOrder(order); err != nil {
			return tbl, fmt.Errorf("setting sort order of %s: %w", Name(tbl.Identifier()), err)
		}
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return tbl, fmt.Errorf("recording layout of %s: %w", Name(tbl.Identifier()), err)
	}
	return next, nil
}

// RunAll runs every table of the zones that needs work, one after the
// other, and returns the reports of those it ran.
func (s *Service) RunAll(ctx context.Context) ([]Report, error) {
	idents, err := s.Tables(ctx)
	if err != nil {
		return nil, err
	}
	var (
		out  []Report
		errs []error
	)
	for _, ident := range idents {
		rep, err := s.Run(ctx, ident)
		out = append(out, rep)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", Name(ident), err))
		}
	}
	return out, errors.Join(errs...)
}
