package compaction

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"
)

// orphans lists the files under tbl's location that no metadata of tbl
// references (any snapshot's manifest list, manifests and their files,
// the metadata log, statistics) and that are older than age: younger
// files may belong to a commit in flight. Only paths under the table's
// own location (with a trailing slash, so raw/orders never reaches into
// raw/orders_archive) are returned.
func orphans(ctx context.Context, tbl *table.Table, age time.Duration) ([]table.OrphanFile, error) {
	root := strings.TrimSuffix(tbl.Location(), "/")
	loc := root + "/"
	plan, err := tbl.PlanOrphanFiles(ctx, table.WithFilesOlderThan(age), table.WithLocation(root))
	if err != nil {
		return nil, fmt.Errorf("listing orphan files of %s: %w", Name(tbl.Identifier()), err)
	}
	var out []table.OrphanFile
	for _, f := range plan.OrphanFiles() {
		if strings.HasPrefix(f.Path, loc) {
			out = append(out, f)
		}
	}
	return out, nil
}

// removeOrphans removes the orphans of tbl older than age and returns
// how many went and their bytes.
func (s *Service) removeOrphans(ctx context.Context, tbl *table.Table, age time.Duration) (int, int64, error) {
	files, err := orphans(ctx, tbl, age)
	if err != nil || len(files) == 0 {
		return 0, 0, err
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("opening storage of %s: %w", Name(tbl.Identifier()), err)
	}
	var (
		n     int
		bytes int64
		errs  []error
	)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return n, bytes, err
		}
		if err := fs.Remove(f.Path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing orphan %s: %w", f.Path, err))
			continue
		}
		n++
		bytes += f.SizeBytes
	}
	return n, bytes, errors.Join(errs...)
}

// rewriteManifests merges tbl's manifests toward target bytes each.
func rewriteManifests(ctx context.Context, tbl *table.Table, target int64) (int, int, *table.Table, error) {
	txn := tbl.NewTransaction()
	res, err := txn.RewriteManifests(ctx, table.WithManifestTargetSize(target))
	if err != nil {
		return 0, 0, tbl, fmt.Errorf("rewriting manifests of %s: %w", Name(tbl.Identifier()), err)
	}
	if res.IsNoOp() {
		return 0, 0, tbl, nil
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		if errors.Is(err, table.ErrCommitFailed) {
			err = fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return 0, 0, tbl, fmt.Errorf("committing manifests of %s: %w", Name(tbl.Identifier()), err)
	}
	return len(res.RewrittenManifests), len(res.AddedManifests), next, nil
}
