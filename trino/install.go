package trino

import (
	"context"
	"crypto/sha1" //nolint:gosec // Maven Central publishes SHA-1 sums; we verify what exists.
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const installMarker = ".lakehouse-install-complete"

// artifact is one Maven artifact in group io.trino.
type artifact struct {
	id        string // artifactId
	ext       string // packaging
	pluginDir string // plugin/<dir> for plugins; "" for the server itself
}

func artifacts() []artifact {
	return []artifact{
		{id: "trino-server-core", ext: "tar.gz"},
		{id: "trino-iceberg", ext: "zip", pluginDir: "iceberg"},
		{id: "trino-tpch", ext: "zip", pluginDir: "tpch"},
	}
}

func (a artifact) fileName(version string) string {
	return a.id + "-" + version + "." + a.ext
}

func (a artifact) url(mirror, version string) string {
	return mirror + "/io/trino/" + a.id + "/" + version + "/" + a.fileName(version)
}

// installDir is <CacheDir>/<version>/trino-server-<version>.
func installDir(cfg Config) string {
	return filepath.Join(cfg.CacheDir, cfg.Version, "trino-server-"+cfg.Version)
}

// Install downloads (unless cached) trino-server-core, trino-iceberg and
// trino-tpch for cfg.Version from cfg.Mirror, verifies each against its
// published .sha1 (kept beside the artifact so later runs verify offline),
// and extracts them into <CacheDir>/<version>/trino-server-<version>/ with
// the plugins under plugin/iceberg and plugin/tpch. It returns that
// directory. A complete install carries a marker file and is reused without
// touching the network.
func Install(ctx context.Context, logger *slog.Logger, cfg Config) (string, error) {
	cfg = cfg.WithDefaults()
	if err := problemsError(cfg.installProblems()); err != nil {
		return "", err
	}
	cacheDir, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return "", fmt.Errorf("resolving CacheDir: %w", err)
	}
	cfg.CacheDir = cacheDir
	dir := installDir(cfg)
	if isInstalled(dir) {
		logger.Debug("trino already installed", "dir", dir)
		return dir, nil
	}
	versionDir := filepath.Dir(dir)
	if err := os.MkdirAll(versionDir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache dir: %w", err)
	}
	client := &http.Client{Transport: downloadTransport()}
	var server string
	plugins := map[string]string{}
	for _, a := range artifacts() {
		path, err := ensureArtifact(ctx, logger, client, cfg, a)
		if err != nil {
			return "", err
		}
		if a.pluginDir == "" {
			server = path
		} else {
			plugins[a.pluginDir] = path
		}
	}
	start := time.Now()
	logger.Info("extracting trino", "version", cfg.Version, "dir", dir)
	if err := extractInstall(ctx, logger, dir, server, plugins); err != nil {
		return "", fmt.Errorf("extracting trino %s: %w", cfg.Version, err)
	}
	logger.Info("trino installed", "dir", dir, "elapsed", time.Since(start).Round(time.Millisecond))
	return dir, nil
}

func isInstalled(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, installMarker))
	return err == nil
}

func downloadTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return t
}

// ensureArtifact returns the path of a cached artifact that matches its
// published checksum, downloading it when absent or corrupt.
func ensureArtifact(ctx context.Context, logger *slog.Logger, client *http.Client, cfg Config, a artifact) (string, error) {
	name := a.fileName(cfg.Version)
	path := filepath.Join(cfg.CacheDir, cfg.Version, name)
	url := a.url(cfg.Mirror, cfg.Version)
	want, err := expectedSHA1(ctx, client, url, path+".sha1")
	if err != nil {
		return "", fmt.Errorf("fetching checksum of %s: %w", name, err)
	}
	switch got, err := fileSHA1(path); {
	case err == nil && got == want:
		logger.Debug("cached artifact verified", "file", path)
		return path, nil
	case err == nil:
		logger.Warn("cached artifact does not match its checksum; downloading again",
			"file", path, "expected", want, "actual", got)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("verifying %s: %w", path, err)
	}
	logger.Info("downloading trino artifact", "url", url)
	if err := download(ctx, client, url, path, want, cfg.Progress); err != nil {
		return "", fmt.Errorf("downloading %s: %w", name, err)
	}
	return path, nil
}

// expectedSHA1 reads the checksum stored beside the artifact, or fetches
// url.sha1 and stores it.
func expectedSHA1(ctx context.Context, client *http.Client, url, sumPath string) (string, error) {
	b, err := os.ReadFile(sumPath)
	if err == nil {
		if sum, err := parseSHA1(string(b)); err == nil {
			return sum, nil
		}
		// A damaged sum file is refetched rather than trusted.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", sumPath, err)
	}
	body, err := httpGetSmall(ctx, client, url+".sha1")
	if err != nil {
		return "", err
	}
	sum, err := parseSHA1(body)
	if err != nil {
		return "", fmt.Errorf("parsing %s.sha1: %w", url, err)
	}
	if err := writeFileAtomic(sumPath, []byte(sum+"\n"), 0o644); err != nil {
		return "", err
	}
	return sum, nil
}

// parseSHA1 accepts "<hex>" and "<hex>  <file name>".
func parseSHA1(s string) (string, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", errors.New("empty checksum")
	}
	sum := strings.ToLower(fields[0])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha1.Size {
		return "", fmt.Errorf("%q is not a SHA-1 sum", fields[0])
	}
	return sum, nil
}

func httpGetSmall(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("building request for %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }() // read fully below; close cannot lose data
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", url, err)
	}
	return string(b), nil
}

func fileSHA1(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read-only
	h := sha1.New()                  //nolint:gosec // see import
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checksumError names the file, where it came from, and both sums.
func checksumError(name, url, want, got string) error {
	return fmt.Errorf("verifying %s from %s: %w: expected sha1 %s, got %s", name, url, ErrChecksumMismatch, want, got)
}

// download streams url into a .part file beside dest, hashing as it goes,
// and renames it to dest only when the SHA-1 matches want. The .part name is
// unique so concurrent installs cannot write into each other's file.
func download(ctx context.Context, client *http.Client, url, dest, want string, progressTo io.Writer) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }() // errors surface through io.Copy
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	part, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".*.part")
	if err != nil {
		return fmt.Errorf("creating part file: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = part.Close() // already failing; the first error is the one to report
		}
		if err != nil {
			_ = os.Remove(part.Name())
		}
	}()
	h := sha1.New() //nolint:gosec // see import
	p := newProgress(progressTo, filepath.Base(dest), resp.ContentLength)
	if _, err := io.Copy(io.MultiWriter(part, h, p), resp.Body); err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	p.finish()
	closed = true
	if err := part.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", part.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return checksumError(filepath.Base(dest), url, want, got)
	}
	if err := os.Chmod(part.Name(), 0o644); err != nil {
		return fmt.Errorf("setting mode of %s: %w", part.Name(), err)
	}
	if err := os.Rename(part.Name(), dest); err != nil {
		return fmt.Errorf("renaming %s: %w", part.Name(), err)
	}
	return nil
}
