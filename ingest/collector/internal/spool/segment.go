package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A segment file is a sequence of records, each an 8-byte header (payload
// length and CRC-32C of the payload, little endian) and the payload. The
// writer only appends, so a crash can leave at most one torn record, at the
// end; recovery cuts it off. Names:
//
//	seg-<unix nanos>-<random>.wal           the active segment, still written
//	seg-<unix nanos>-<random>.<size>.sealed sealed: its records are [0, size)
//
// Sealing renames, so the byte range a sealed segment stands for is fixed
// on disk, atomically, before the segment is flushed: every run flushes it
// under the same range, whatever bytes may follow.
const (
	headerLen = 8
	activeExt = ".wal"
	sealedExt = ".sealed"
	prefix    = "seg-"

	// MaxRecord bounds one record's payload.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Segment is a sealed segment: immutable, waiting to be flushed.
type Segment struct {
	Name    string    // unique among all segments ever made: seg-<unix nanos>-<random>
	Size    int64     // its records are the bytes [0, Size)
	Created time.Time // when it was started, decoded from Name
	Oldest  time.Time // when its first record was written, when known; else Created
	path    string
}

// Record is one record read back from a segment.
type Record struct {
	Offset  int64 // of the record's header in its segment
	Payload []byte
}

// newName names a new segment: time-ordered, and never the same twice, so
// batch ids derived from it never repeat.
func newName(now time.Time) string {
	return fmt.Sprintf("%s%020d-%08x", prefix, now.UnixNano(), rand.Uint32())
}

func createdOf(name string) time.Time {
	s := strings.TrimPrefix(name, prefix)
	if i := strings.IndexByte(s, '-'); i > 0 {
		if n, err := strconv.ParseInt(s[:i], 10, 64); err == nil {
			return time.Unix(0, n)
		}
	}
	return time.Time{}
}

func sealedFileName(name string, size int64) string {
	return name + "." + strconv.FormatInt(size, 10) + sealedExt
}

// parseSealed reads a sealed segment's file name.
func parseSealed(dir, file string) (Segment, error) {
	base := strings.TrimSuffix(file, sealedExt)
	i := strings.LastIndexByte(base, '.')
	if i < 0 || !strings.HasPrefix(base, prefix) {
		return Segment{}, fmt.Errorf("sealed segment %s: malformed name", file)
	}
	size, err := strconv.ParseInt(base[i+1:], 10, 64)
	if err != nil || size <= 0 {
		return Segment{}, fmt.Errorf("sealed segment %s: malformed size", file)
	}
	name := base[:i]
	c := createdOf(name)
	return Segment{Name: name, Size: size, Created: c, Oldest: c, path: filepath.Join(dir, file)}, nil
}

// frame appends payload's record to dst.
func frame(dst, payload []byte) []byte {
	var h [headerLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(payload, castagnoli))
	return append(append(dst, h[:]...), payload...)
}

// next decodes the record at the start of b; ok is false when b does not
// start with a whole, intact record.
func next(b []byte) (payload []byte, n int, ok bool) {
	if len(b) < headerLen {
		return nil, 0, false
	}
	size := binary.LittleEndian.Uint32(b[0:4])
	if size == 0 || size > MaxRecord || int64(len(b)-headerLen) < int64(size) {
		return nil, 0, false
	}
	payload = b[headerLen : headerLen+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, false
	}
	return payload, headerLen + int(size), true
}

// validEnd is where the intact records at the start of the file end.
func validEnd(f *os.File) (int64, error) {
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	var end int64
	for {
		_, n, ok := next(b[end:])
		if !ok {
			return end, nil
		}
		end += int64(n)
	}
}

// ErrCorrupt is returned when a sealed segment does not hold the intact
// records its name promises: the disk lost or changed acknowledged data.
var ErrCorrupt = errors.New("spool segment corrupt")

// Read returns the records of a sealed segment.
func Read(seg Segment) ([]Record, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("opening segment %s: %w", seg.Name, err)
	}
	defer func() { _ = f.Close() }() // read only
	b := make([]byte, seg.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrCorrupt, seg.Name, err)
	}
	var recs []Record
	for off := 0; off < len(b); {
		payload, n, ok := next(b[off:])
		if !ok {
			return nil, fmt.Errorf("%w: %s has no intact record at byte %d of %d", ErrCorrupt, seg.Name, off, len(b))
		}
		recs = append(recs, Record{Offset: int64(off), Payload: payload})
		off += n
	}
	return recs, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
