package compaction

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iceio "github.com/apache/iceberg-go/io"
)

// countingIO counts the reads that reach the underlying files.
type countingIO struct {
	iceio.LocalFS
	readAts *int
}

func (c countingIO) Open(name string) (iceio.File, error) {
	f, err := c.LocalFS.Open(name)
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, readAts: c.readAts}, nil
}

type countingFile struct {
	iceio.File
	readAts *int
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	*c.readAts++
	return c.File.ReadAt(p, off)
}

func TestWholeReadsServeSmallObjectsFromOneReadAndPassLargeOnesThrough(t *testing.T) {
	dir := t.TempDir()
	small, large := filepath.Join(dir, "small"), filepath.Join(dir, "large")
	if err := os.WriteFile(small, []byte("PAR1 footer and column chunks PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(large, []byte(strings.Repeat("x", 64)), 0o644); err != nil {
		t.Fatal(err)
	}
	var readAts int
	fs := wholeReadIO{WriteFileIO: countingIO{readAts: &readAts}, limit: 40}

	f, err := fs.Open(small)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	for _, off := range []int64{0, 29, 5} {
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	if got, _ := f.ReadAt(buf, 29); got != 5 || string(buf[:got]) != " PAR1" {
		t.Fatalf("ReadAt(29) = %q, want the object's last 5 bytes", buf[:got])
	}
	if st, err := f.Stat(); err != nil || st.Size() != 34 {
		t.Fatalf("Stat: %v, %v; want size 34", st, err)
	}
	if readAts != 0 {
		t.Fatalf("%d ranged reads reached the store for a small object, want none (one whole read)", readAts)
	}

	g, err := fs.Open(large)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.ReadAt(buf, 10); err != nil {
		t.Fatal(err)
	}
	if readAts != 1 {
		t.Fatalf("%d ranged reads for an object above the limit, want it passed through", readAts)
	}
	if _, err := fs.Open(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("opening a missing object: %v, want not-exist", err)
	}
}
