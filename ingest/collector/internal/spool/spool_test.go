package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running opens a spool in dir and runs its writer until the test ends or
// stop is called, as a process that exits would.
func running(t *testing.T, dir string, opts Options) (s *Spool, stop func()) {
	t.Helper()
	s, err := Open(quiet(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

func payloads(t *testing.T, seg Segment) []string {
	t.Helper()
	recs, err := Read(seg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Payload))
	}
	return out
}

func TestAppendedRecordsAreReadBackAfterSealing(t *testing.T) {
	s, _ := running(t, t.TempDir(), Options{})
	var want []string
	for i := range 5 {
		p := fmt.Sprintf("record %d", i)
		pos, err := s.Append(context.Background(), []byte(p), 2)
		if err != nil {
			t.Fatal(err)
		}
		if pos.Offset < 0 || pos.Segment == "" {
			t.Fatalf("bad position %+v", pos)
		}
		want = append(want, p)
	}
	if st := s.Stats(); st.ActiveEvents != 10 || st.Oldest.IsZero() {
		t.Fatalf("stats = %+v, want 10 active events and an oldest time", st)
	}
	seg, ok, err := s.Seal()
	if err != nil || !ok {
		t.Fatalf("Seal = %v, %v", ok, err)
	}
	if got := payloads(t, seg); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("read %q, want %q", got, want)
	}
	if _, ok, _ := s.Seal(); ok {
		t.Fatal("sealing an empty active segment sealed something")
	}
	if err := s.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Bytes != 0 || st.Sealed != 0 {
		t.Fatalf("stats after removal = %+v", st)
	}
}

func TestConcurrentAppendsShareSyncs(t *testing.T) {
	var syncs, records atomic.Int64
	s, _ := running(t, t.TempDir(), Options{OnSync: func(_ time.Duration, n int) { syncs.Add(1); records.Add(int64(n)) }})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := s.Append(context.Background(), []byte(fmt.Sprintf("w%d-%d", w, i)), 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if records.Load() != 800 {
		t.Fatalf("synced %d records, want 800", records.Load())
	}
	if syncs.Load() >= 800 {
		t.Fatalf("%d syncs for 800 concurrent appends: no group commit", syncs.Load())
	}
	t.Logf("800 appends in %d syncs", syncs.Load())
}

// crashedSpool leaves dir as a killed process would: an active segment with
// the given intact records followed by tail.
func crashedSpool(t *testing.T, dir string, records []string, tail []byte) string {
	t.Helper()
	var b []byte
	for _, r := range records {
		b = frame(b, []byte(r))
	}
	name := newName(time.Now().Add(-time.Minute))
	if err := os.WriteFile(filepath.Join(dir, name+activeExt), append(b, tail...), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestRecoveryCutsATornTail(t *testing.T) {
	whole := frame(nil, []byte("never acknowledged"))
	badCRC := bytes.Clone(whole)
	badCRC[len(badCRC)-1] ^= 0xff
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"nothing follows the last intact record", nil},
		{"a partial header follows", whole[:5]},
		{"a header without its whole payload follows", whole[:len(whole)-3]},
		{"a record with a wrong checksum follows", badCRC},
		{"zeros follow, as after a lost size update", make([]byte, 64)},
		{"a length beyond the limit follows", []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := crashedSpool(t, dir, []string{"one", "two", "three"}, tc.tail)
			for run := range 2 { // recovering twice gives the same segment
				s, stop := running(t, dir, Options{})
				sealed := s.Sealed()
				if len(sealed) != 1 || sealed[0].Name != name {
					t.Fatalf("run %d: sealed %+v, want %s", run, sealed, name)
				}
				if got := strings.Join(payloads(t, sealed[0]), ","); got != "one,two,three" {
					t.Fatalf("run %d: records %q", run, got)
				}
				want := int64(len(frame(frame(frame(nil, []byte("one")), []byte("two")), []byte("three"))))
				if sealed[0].Size != want {
					t.Fatalf("run %d: size %d, want %d", run, sealed[0].Size, want)
				}
				stop()
			}
		})
	}
}

func TestRecoveryRemovesEmptySegmentsAndKeepsSealedOnes(t *testing.T) {
	dir := t.TempDir()
	crashedSpool(t, dir, nil, []byte{1, 2})
	s, stop := running(t, dir, Options{})
	if _, err := s.Append(context.Background(), []byte("x"), 1); err != nil {
		t.Fatal(err)
	}
	seg, _, err := s.Seal()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	s2, _ := running(t, dir, Options{})
	sealed := s2.Sealed()
	if len(sealed) != 1 || sealed[0].Name != seg.Name || sealed[0].Size != seg.Size {
		t.Fatalf("sealed after restart = %+v, want %+v", sealed, seg)
	}
	entries, _ := os.ReadDir(dir)
	var wal int
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), activeExt) {
			wal++
		}
	}
	if wal != 1 {
		t.Fatalf("%d active segments on disk, want just the new one", wal)
	}
}

func TestSecondOpenOfADirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, _ = running(t, dir, Options{})
	if _, err := Open(quiet(), dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestReadReportsCorruptionInsideASealedSegment(t *testing.T) {
	dir := t.TempDir()
	s, _ := running(t, dir, Options{})
	for _, p := range []string{"alpha", "beta"} {
		if _, err := s.Append(context.Background(), []byte(p), 1); err != nil {
			t.Fatal(err)
		}
	}
	seg, _, err := s.Seal()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(seg.path)
	b[headerLen] ^= 0xff
	if err := os.WriteFile(seg.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(seg); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read: %v, want ErrCorrupt", err)
	}
}

func TestAppendAfterRunStopsFails(t *testing.T) {
	s, err := Open(quiet(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Run(ctx)
	if _, err := s.Append(context.Background(), []byte("late"), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Run: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAFullSegmentIsSealedWithoutWaitingForTheFlusher(t *testing.T) {
	s, _ := running(t, t.TempDir(), Options{SegmentBytes: 100})
	for i := range 10 {
		if _, err := s.Append(context.Background(), bytes.Repeat([]byte{'x'}, 40), 1); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	sealed := s.Sealed()
	if len(sealed) < 3 {
		t.Fatalf("%d sealed segments after 480 bytes with segments of 100, want at least 3", len(sealed))
	}
	n := 0
	for _, seg := range sealed {
		n += len(payloads(t, seg))
	}
	if st := s.Stats(); n+st.ActiveEvents != 10 {
		t.Fatalf("%d records sealed and %d active, want 10 in all", n, st.ActiveEvents)
	}
}
