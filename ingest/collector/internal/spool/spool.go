// Package spool is the collector's write-ahead log on local disk. Append
// returns once its record is written and fsynced; appends that arrive while
// a sync is under way are written and synced together (group commit), so
// concurrent writers share the cost of fsync. Records go to the active
// segment; Seal closes it for flushing and starts the next. Open recovers
// what a crash left: the active segment is cut after its last intact record
// and sealed, sealed segments are kept for flushing.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinel errors of Append and Open.
var (
	ErrClosed = errors.New("spool closed")
	ErrBroken = errors.New("spool cannot write")
	ErrLocked = errors.New("spool directory in use by another process")
)

// Pos is where an appended record lies.
type Pos struct {
	Segment string
	Offset  int64
}

// Stats describes the spool at one moment.
type Stats struct {
	Bytes        int64     // sealed and active segments, plus records waiting to be written
	Sealed       int       // sealed segments waiting to be flushed
	ActiveBytes  int64     // of the active segment
	ActiveEvents int       // the events weight of the active segment's records
	ActiveFirst  time.Time // first write into the active segment; zero when it is empty
	Oldest       time.Time // first write of the oldest record not yet flushed; zero when none
}

// Options tune a spool. The zero value is ready to use.
type Options struct {
	// SegmentBytes: the writer seals the active segment once it holds this
	// many bytes, so that no segment grows without bound while nothing
	// flushes. Default 64 MiB.
	SegmentBytes int64
	// OnSync, when set, observes every group commit: its duration and
	// number of records.
	OnSync func(time.Duration, int)
}

// Spool is a write-ahead log in one directory, which it locks.
type Spool struct {
	dir    string
	logger *slog.Logger
	opts   Options
	lock   *os.File
	wake   chan struct{}
	grown  chan struct{}

	mu     sync.Mutex // guards the fields below
	queue  []*pending
	queued int64
	closed bool
	broken error
	sealed []Segment
	act    active

	wmu sync.Mutex // held while the active file is written, synced or sealed
}

type active struct {
	f      *os.File
	name   string
	size   int64 // of the intact, synced records
	events int
	first  time.Time
}

type pending struct {
	payload []byte
	events  int
	done    chan result
}

type result struct {
	pos Pos
	err error
}

// Open locks dir (creating it), recovers its segments and starts a new
// active one.
func Open(logger *slog.Logger, dir string, opts Options) (_ *Spool, err error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening spool lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrLocked, dir, err)
	}
	s := &Spool{dir: dir, logger: logger, opts: opts, lock: lock, wake: make(chan struct{}, 1), grown: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			_ = lock.Close() // releases the lock
		}
	}()
	if s.sealed, err = s.recover(); err != nil {
		return nil, err
	}
	if s.act, err = s.create(); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return s, nil
}

// recover seals what was active when the last run stopped and lists the
// sealed segments, oldest first.
func (s *Spool) recover() ([]Segment, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing spool: %w", err)
	}
	var sealed []Segment
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.Type().IsRegular() || !strings.HasPrefix(name, prefix):
			continue
		case strings.HasSuffix(name, activeExt):
			seg, ok, err := s.sealRecovered(name)
			if err != nil {
				return nil, err
			}
			if ok {
				sealed = append(sealed, seg)
			}
		case strings.HasSuffix(name, sealedExt):
			seg, err := parseSealed(s.dir, name)
			if err != nil {
				return nil, err
			}
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("checking segment %s: %w", name, err)
			}
			if info.Size() < seg.Size {
				return nil, fmt.Errorf("%w: %s is shorter than its name says", ErrCorrupt, name)
			}
			sealed = append(sealed, seg)
		}
	}
	slices.SortFunc(sealed, func(a, b Segment) int { return strings.Compare(a.Name, b.Name) })
	return sealed, nil
}

// sealRecovered cuts a former active segment after its last intact record
// (a torn record was never acknowledged) and seals it; an empty one is
// removed. Doing it again gives the same result.
func (s *Spool) sealRecovered(file string) (Segment, bool, error) {
	path := filepath.Join(s.dir, file)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Segment{}, false, fmt.Errorf("opening segment %s: %w", file, err)
	}
	defer func() { _ = f.Close() }() // synced below before anything depends on it
	end, err := validEnd(f)
	if err != nil {
		return Segment{}, false, fmt.Errorf("reading segment %s: %w", file, err)
	}
	if info, err := f.Stat(); err == nil && info.Size() > end {
		s.logger.Warn("cutting torn tail of spool segment", "segment", file, "kept", end, "dropped", info.Size()-end)
	}
	if end == 0 {
		if err := os.Remove(path); err != nil {
			return Segment{}, false, fmt.Errorf("removing empty segment %s: %w", file, err)
		}
		return Segment{}, false, nil
	}
	if err := f.Truncate(end); err != nil {
		return Segment{}, false, fmt.Errorf("cutting segment %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		return Segment{}, false, fmt.Errorf("syncing segment %s: %w", file, err)
	}
	name := strings.TrimSuffix(file, activeExt)
	seg := Segment{Name: name, Size: end, Created: createdOf(name), path: filepath.Join(s.dir, sealedFileName(name, end))}
	seg.Oldest = seg.Created
	if err := os.Rename(path, seg.path); err != nil {
		return Segment{}, false, fmt.Errorf("sealing segment %s: %w", file, err)
	}
	return seg, true, nil
}

// create starts a new active segment; the caller syncs the directory.
func (s *Spool) create() (active, error) {
	name := newName(time.Now())
	f, err := os.OpenFile(filepath.Join(s.dir, name+activeExt), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return active{}, fmt.Errorf("creating segment: %w", err)
	}
	return active{f: f, name: name}, nil
}

// Run writes appended records until ctx is done; appends still waiting then
// fail with ErrClosed.
func (s *Spool) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.closed = true
			queue := s.queue
			s.queue, s.queued = nil, 0
			s.mu.Unlock()
			for _, p := range queue {
				p.done <- result{err: ErrClosed}
			}
			return
		case <-s.wake:
			s.writeQueued()
		}
	}
}

// Append writes payload as one record and returns once it is on disk.
// events weighs the record for Stats.ActiveEvents. When ctx ends first the
// record may still be written later.
func (s *Spool) Append(ctx context.Context, payload []byte, events int) (Pos, error) {
	if len(payload) == 0 || len(payload) > MaxRecord {
		return Pos{}, fmt.Errorf("appending to spool: record of %d bytes (want 1 to %d)", len(payload), MaxRecord)
	}
	p := &pending{payload: payload, events: events, done: make(chan result, 1)}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return Pos{}, ErrClosed
	case s.broken != nil:
		err := s.broken
		s.mu.Unlock()
		return Pos{}, err
	}
	s.queue = append(s.queue, p)
	s.queued += int64(len(payload) + headerLen)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-p.done:
		return r.pos, r.err
	case <-ctx.Done():
		return Pos{}, ctx.Err()
	}
}

// writeQueued writes everything queued in one write and one fsync.
func (s *Spool) writeQueued() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	queue, broken := s.queue, s.broken
	s.queue, s.queued = nil, 0
	act := s.act
	s.mu.Unlock()
	if len(queue) == 0 {
		return
	}
	if broken != nil {
		for _, p := range queue {
			p.done <- result{err: broken}
		}
		return
	}
	start := time.Now()
	var buf []byte
	offsets := make([]int64, len(queue))
	events := 0
	for i, p := range queue {
		offsets[i] = act.size + int64(len(buf))
		buf = frame(buf, p.payload)
		events += p.events
	}
	_, err := act.f.WriteAt(buf, act.size)
	if err == nil {
		err = act.f.Sync()
	}
	if err != nil {
		err = s.writeFailed(err)
		for _, p := range queue {
			p.done <- result{err: err}
		}
		return
	}
	if s.opts.OnSync != nil {
		s.opts.OnSync(time.Since(start), len(queue))
	}
	s.mu.Lock()
	if s.act.size == 0 {
		s.act.first = start
	}
	s.act.size += int64(len(buf))
	s.act.events += events
	full := s.act.size >= s.opts.SegmentBytes
	s.mu.Unlock()
	for i, p := range queue {
		p.done <- result{pos: Pos{Segment: act.name, Offset: offsets[i]}}
	}
	if full {
		if _, err := s.seal(); err != nil {
			s.logger.Error("sealing a full spool segment", "segment", act.name, "err", err)
		}
	}
	select {
	case s.grown <- struct{}{}:
	default:
	}
}

// writeFailed handles a failed write or fsync: the active segment is sealed
// at its last synced record, so whatever the failed write left behind is
// never read, and writing goes on in a new segment. When even that fails
// the spool refuses further appends. Called with wmu held.
func (s *Spool) writeFailed(cause error) error {
	s.logger.Error("spool write failed", "segment", s.act.name, "err", cause)
	err := fmt.Errorf("writing spool: %w", cause)
	if _, serr := s.seal(); serr != nil {
		s.mu.Lock()
		s.broken = fmt.Errorf("%w: %w (then %w)", ErrBroken, cause, serr)
		s.mu.Unlock()
		s.logger.Error("spool refuses appends", "err", serr)
	}
	return err
}

// Grown is signalled after records were added to the active segment.
func (s *Spool) Grown() <-chan struct{} { return s.grown }

// Seal seals the active segment, when it holds records, and starts a new
// one; ok says whether there was something to seal.
func (s *Spool) Seal() (seg Segment, ok bool, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	empty := s.act.size == 0
	s.mu.Unlock()
	if empty {
		return Segment{}, false, nil
	}
	seg, err = s.seal()
	return seg, err == nil, err
}

// seal renames the active segment to its sealed name, cut at its synced
// size, and starts a new one. Called with wmu held.
func (s *Spool) seal() (Segment, error) {
	next, err := s.create()
	if err != nil {
		return Segment{}, err
	}
	old := s.act
	seg := Segment{Name: old.name, Size: old.size, Created: createdOf(old.name), Oldest: old.first,
		path: filepath.Join(s.dir, sealedFileName(old.name, old.size))}
	if old.size == 0 {
		err = os.Remove(old.f.Name())
	} else {
		err = os.Rename(old.f.Name(), seg.path)
	}
	if err != nil {
		_ = next.f.Close()
		_ = os.Remove(next.f.Name())
		return Segment{}, fmt.Errorf("sealing segment %s: %w", old.name, err)
	}
	// From here on the old file carries its sealed name: nothing may be
	// written to it any more, whatever fails next.
	if cerr := old.f.Close(); cerr != nil {
		s.logger.Warn("closing sealed segment", "segment", old.name, "err", cerr) // its records were synced
	}
	s.mu.Lock()
	s.act = next
	if old.size > 0 {
		s.sealed = append(s.sealed, seg)
	}
	s.mu.Unlock()
	if err := syncDir(s.dir); err != nil {
		// The new segment's directory entry may not survive a power loss,
		// so records acknowledged in it might not either: refuse appends.
		s.mu.Lock()
		s.broken = fmt.Errorf("%w: %w", ErrBroken, err)
		s.mu.Unlock()
		return seg, err
	}
	return seg, nil
}

// Sealed lists the sealed segments waiting to be flushed, oldest first.
func (s *Spool) Sealed() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sealed)
}

// Remove deletes a flushed segment. The directory is not synced: should the
// removal be lost, the segment is flushed again, and the flush finds its
// batch already landed.
func (s *Spool) Remove(seg Segment) error {
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing flushed segment %s: %w", seg.Name, err)
	}
	s.mu.Lock()
	s.sealed = slices.DeleteFunc(s.sealed, func(x Segment) bool { return x.Name == seg.Name })
	s.mu.Unlock()
	return nil
}

// Stats describes the spool now.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Sealed: len(s.sealed), ActiveBytes: s.act.size, ActiveEvents: s.act.events, Bytes: s.act.size + s.queued}
	if s.act.size > 0 {
		st.ActiveFirst = s.act.first
	}
	for _, seg := range s.sealed {
		st.Bytes += seg.Size
		if st.Oldest.IsZero() || seg.Oldest.Before(st.Oldest) {
			st.Oldest = seg.Oldest
		}
	}
	if s.act.size > 0 && (st.Oldest.IsZero() || s.act.first.Before(st.Oldest)) {
		st.Oldest = s.act.first
	}
	return st
}

// Close closes the active segment and releases the directory. Run must
// have returned.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.act.f.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("closing spool: %w", err)
	}
	return nil
}
