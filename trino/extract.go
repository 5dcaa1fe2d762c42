package trino

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// extractInstall unpacks the server tarball and plugin zips into a temp dir
// beside dest, marks it complete and renames it into place, so dest is
// either absent, complete, or a leftover without a marker that we replace.
func extractInstall(ctx context.Context, logger *slog.Logger, dest, server string, plugins map[string]string) (err error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".extract-*")
	if err != nil {
		return fmt.Errorf("creating temp dir: %w", err)
	}
	defer func() {
		if err != nil {
			if rmErr := os.RemoveAll(tmp); rmErr != nil {
				logger.Warn("removing partial extraction", "dir", tmp, "err", rmErr)
			}
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
	if err := extractTarGz(ctx, server, tmp); err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(server), err)
	}
	for dir, zipPath := range plugins {
		if err := extractZip(ctx, zipPath, filepath.Join(tmp, "plugin", dir)); err != nil {
			return fmt.Errorf("extracting %s: %w", filepath.Base(zipPath), err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, installMarker), []byte("ok\n"), 0o644); err != nil {
		return fmt.Errorf("writing install marker: %w", err)
	}
	if _, statErr := os.Stat(dest); statErr == nil {
		if isInstalled(dest) {
			// Another process finished first; use its copy.
			if err := os.RemoveAll(tmp); err != nil {
				logger.Warn("removing duplicate extraction", "dir", tmp, "err", err)
			}
			return nil
		}
		logger.Warn("removing incomplete trino install", "dir", dest)
		if err := os.RemoveAll(dest); err != nil {
			return fmt.Errorf("removing incomplete install: %w", err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if isInstalled(dest) {
			return nil // lost a race to a complete install
		}
		return fmt.Errorf("moving install into place: %w", err)
	}
	return nil
}

// stripTop removes the archive's top-level directory ("trino-server-core-476/",
// "trino-iceberg-476/"), returning "" for the top directory itself.
func stripTop(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	_, rest, _ := strings.Cut(name, "/")
	return rest
}

// safeJoin joins an archive path to root, refusing paths that escape it.
func safeJoin(root, rel string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("archive entry %q escapes the destination", rel)
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

func extractTarGz(ctx context.Context, archive, dest string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("reading gzip: %w", err)
	}
	defer func() { _ = gz.Close() }() // read-only
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := extractTarEntry(tr, hdr, dest); err != nil {
			return err
		}
	}
}

func extractTarEntry(tr *tar.Reader, hdr *tar.Header, dest string) error {
	rel := stripTop(hdr.Name)
	if rel == "" {
		return nil
	}
	target, err := safeJoin(dest, rel)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(target, 0o755)
	case tar.TypeReg:
		return writeEntry(target, tr, hdr.FileInfo().Mode().Perm())
	case tar.TypeLink:
		// The server tarball hard-links plugin jars to lib/ (573 of them in
		// 476); keep them as hard links to save ~100 MB.
		src, err := safeJoin(dest, stripTop(hdr.Linkname))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.Link(src, target)
	case tar.TypeSymlink:
		resolved := path.Join(path.Dir(rel), hdr.Linkname)
		if path.IsAbs(hdr.Linkname) || !filepath.IsLocal(filepath.FromSlash(resolved)) {
			return fmt.Errorf("archive symlink %q -> %q escapes the destination", rel, hdr.Linkname)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.Symlink(hdr.Linkname, target)
	default:
		return nil // pax headers and device files have no place in an install
	}
}

func extractZip(ctx context.Context, archive, dest string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return err
	}
	defer func() { _ = zr.Close() }() // read-only
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := stripTop(zf.Name)
		if rel == "" {
			continue
		}
		target, err := safeJoin(dest, rel)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := extractZipFile(zf, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("zip entry %q has unsupported mode %v", zf.Name, mode)
		}
	}
	return nil
}

func extractZipFile(zf *zip.File, target string) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("opening %s: %w", zf.Name, err)
	}
	defer func() { _ = rc.Close() }() // read-only; checksum errors come from Read
	perm := zf.Mode().Perm()
	if perm == 0 {
		perm = 0o644 // zips made without Unix attributes
	}
	return writeEntry(target, rc, perm)
}

func writeEntry(target string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		_ = out.Close() // the copy error is the one to report
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	return nil
}
