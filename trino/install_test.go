package trino

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1" //nolint:gosec // matches what Maven publishes
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testVersion = "476"

// fakeMaven serves io.trino artifacts and their .sha1 files, counting hits.
type fakeMaven struct {
	mu    sync.Mutex
	files map[string][]byte // path under the repo root -> body
	sums  map[string]string // overrides the published sum
	hits  map[string]int
}

func newFakeMaven(t *testing.T) (*fakeMaven, *httptest.Server) {
	t.Helper()
	m := &fakeMaven{files: map[string][]byte{}, sums: map[string]string{}, hits: map[string]int{}}
	core := tarGz(t, []tarEntry{
		{name: "trino-server-core-476/", dir: true},
		{name: "trino-server-core-476/bin/launcher.properties", body: "main-class=io.trino.server.TrinoServer\n"},
		{name: "trino-server-core-476/bin/launcher", body: "#!/bin/sh\n", mode: 0o755},
		{name: "trino-server-core-476/lib/shared.jar", body: "jar"},
		{name: "trino-server-core-476/plugin/geospatial/shared.jar", link: "trino-server-core-476/lib/shared.jar"},
	})
	m.add("trino-server-core", "tar.gz", core)
	m.add("trino-iceberg", "zip", zipOf(t, map[string]string{"trino-iceberg-476/iceberg.jar": "ice"}))
	m.add("trino-tpch", "zip", zipOf(t, map[string]string{"trino-tpch-476/tpch.jar": "tpch"}))
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

func (m *fakeMaven) add(id, ext string, body []byte) {
	m.files["/io/trino/"+id+"/"+testVersion+"/"+id+"-"+testVersion+"."+ext] = body
}

func (m *fakeMaven) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hits[r.URL.Path]++
	if base, ok := strings.CutSuffix(r.URL.Path, ".sha1"); ok {
		body, found := m.files[base]
		if !found {
			http.NotFound(w, r)
			return
		}
		sum := sha1Hex(body)
		if s, ok := m.sums[base]; ok {
			sum = s
		}
		_, _ = io.WriteString(w, sum) // Maven serves the bare hex
		return
	}
	body, ok := m.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(body)
}

func (m *fakeMaven) downloads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for p, c := range m.hits {
		if !strings.HasSuffix(p, ".sha1") {
			n += c
		}
	}
	return n
}

func sha1Hex(b []byte) string {
	h := sha1.Sum(b) //nolint:gosec // see import
	return hex.EncodeToString(h[:])
}

type tarEntry struct {
	name, body, link, symlink string
	dir                       bool
	mode                      int64
}

func tarGz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		case e.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, e.link, 0
		case e.symlink != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, e.symlink, 0
		case e.mode != 0:
			hdr.Mode = e.mode
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestInstallExtractsAndThenWorksOffline(t *testing.T) {
	m, srv := newFakeMaven(t)
	var progressOut bytes.Buffer
	cfg := Config{Version: testVersion, CacheDir: t.TempDir(), Mirror: srv.URL, Progress: &progressOut}
	dir, err := Install(context.Background(), discardLogger(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfg.CacheDir, testVersion, "trino-server-"+testVersion); dir != want {
		t.Errorf("install dir = %q, want %q", dir, want)
	}
	for rel, body := range map[string]string{
		"bin/launcher.properties":         "main-class=io.trino.server.TrinoServer\n",
		"plugin/geospatial/shared.jar":    "jar",
		"plugin/iceberg/iceberg.jar":      "ice",
		"plugin/tpch/tpch.jar":            "tpch",
		installMarker:                     "ok\n",
		"../trino-iceberg-476.zip.sha1":   sha1Hex(m.files["/io/trino/trino-iceberg/476/trino-iceberg-476.zip"]) + "\n",
		"../trino-server-core-476.tar.gz": string(m.files["/io/trino/trino-server-core/476/trino-server-core-476.tar.gz"]),
	} {
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("reading %s: %v", rel, err)
			continue
		}
		if string(got) != body {
			t.Errorf("%s = %q, want %q", rel, got, body)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "bin", "launcher")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/launcher lost its executable bit: %v", err)
	}
	if !strings.Contains(progressOut.String(), "downloaded trino-iceberg-476.zip") {
		t.Errorf("progress output lacks a final line:\n%s", progressOut.String())
	}
	if strings.Contains(progressOut.String(), "\r") {
		t.Errorf("progress to a non-terminal contains carriage returns")
	}
	leftovers, _ := filepath.Glob(filepath.Join(cfg.CacheDir, testVersion, "*.part"))
	if len(leftovers) > 0 {
		t.Errorf("part files left behind: %v", leftovers)
	}

	srv.Close() // a completed install must not need the network
	again, err := Install(context.Background(), discardLogger(), cfg)
	if err != nil || again != dir {
		t.Fatalf("second Install = %q, %v", again, err)
	}
}

func TestInstallReusesVerifiedArtifacts(t *testing.T) {
	m, srv := newFakeMaven(t)
	cfg := Config{Version: testVersion, CacheDir: t.TempDir(), Mirror: srv.URL}
	versionDir := filepath.Join(cfg.CacheDir, testVersion)
	if err := os.MkdirAll(versionDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A good cached core and a corrupt cached iceberg zip, without .sha1 files.
	core := m.files["/io/trino/trino-server-core/476/trino-server-core-476.tar.gz"]
	if err := os.WriteFile(filepath.Join(versionDir, "trino-server-core-476.tar.gz"), core, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(versionDir, "trino-iceberg-476.zip"), []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	// And a half-extracted tree from a crashed run.
	if err := os.MkdirAll(filepath.Join(versionDir, "trino-server-476", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := Install(context.Background(), discardLogger(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.downloads(); got != 2 {
		t.Errorf("downloads = %d, want 2 (iceberg again and tpch)", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "plugin", "iceberg", "iceberg.jar")); err != nil {
		t.Errorf("the corrupt zip was not replaced: %v", err)
	}
}

func TestInstallReportsChecksumMismatch(t *testing.T) {
	m, srv := newFakeMaven(t)
	const wrong = "0123456789abcdef0123456789abcdef01234567"
	m.sums["/io/trino/trino-tpch/476/trino-tpch-476.zip"] = wrong
	cfg := Config{Version: testVersion, CacheDir: t.TempDir(), Mirror: srv.URL}
	_, err := Install(context.Background(), discardLogger(), cfg)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("Install error = %v, want ErrChecksumMismatch", err)
	}
	actual := sha1Hex(m.files["/io/trino/trino-tpch/476/trino-tpch-476.zip"])
	for _, want := range []string{"trino-tpch-476.zip", "expected sha1 " + wrong, "got " + actual} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	versionDir := filepath.Join(cfg.CacheDir, testVersion)
	if _, err := os.Stat(filepath.Join(versionDir, "trino-tpch-476.zip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a mismatching download was kept: %v", err)
	}
	if parts, _ := filepath.Glob(filepath.Join(versionDir, "*.part")); len(parts) > 0 {
		t.Errorf("part files left behind: %v", parts)
	}
	if _, err := os.Stat(filepath.Join(versionDir, "trino-server-"+testVersion)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an install dir exists after a failed install: %v", err)
	}
}

func TestExtractKeepsEntriesInside(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	archive := filepath.Join(dir, "a.tar.gz")
	write := func(entries []tarEntry) {
		t.Helper()
		if err := os.WriteFile(archive, tarGz(t, entries), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Names are cleaned as if rooted, so ".." cannot climb out of dest.
	write([]tarEntry{{name: "top/../../escape.txt", body: "x"}, {name: "top/a/../b.txt", body: "b"}})
	if err := extractTarGz(context.Background(), archive, out); err != nil {
		t.Fatalf("extractTarGz: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an entry escaped the destination")
	}
	if b, err := os.ReadFile(filepath.Join(out, "b.txt")); err != nil || string(b) != "b" {
		t.Errorf("b.txt = %q, %v", b, err)
	}

	// A symlink pointing outside is refused.
	write([]tarEntry{{name: "top/lib/evil", symlink: "../../../etc"}})
	err := extractTarGz(context.Background(), archive, out)
	if err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("extractTarGz with an escaping symlink = %v", err)
	}
}

func TestProgressOnATerminalRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "x.zip", 4<<20)
	p.tty = true
	clock := p.start
	p.now = func() time.Time { return clock }
	for range 4 {
		clock = clock.Add(progressInterval)
		if _, err := p.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
	}
	p.finish()
	got := out.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "\r") || !strings.Contains(got, "100% (4.0 of 4.0 MB)") {
		t.Errorf("terminal progress = %q", got)
	}
}
