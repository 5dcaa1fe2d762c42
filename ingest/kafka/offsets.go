package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// Snapshot-summary keys of a Kafka commit, next to ingest.BatchIDProperty
// and the row counts of ingest (ReceivedProperty and the others).
const (
	// OffsetsProperty is the table's offset ledger after the commit: for
	// every topic-partition the table has records of, the next offset to
	// read, as JSON {"topic":{"0":1234}}. A commit writes the offsets it
	// consumed and carries the others forward from the snapshot it applies
	// on, so the newest ledger survives the expiry of older snapshots.
	OffsetsProperty = "lakehouse.kafka.offsets"
	// RangesProperty is what the commit itself consumed: per
	// topic-partition [first offset, next offset), as JSON
	// {"topic":{"0":[1000,1234]}}. The batch id is derived from it.
	RangesProperty = "lakehouse.kafka.ranges"
	// GroupProperty is the consumer group of the process that committed.
	GroupProperty = "lakehouse.kafka.group"
)

// ErrOffsetsMoved refuses a commit whose records the table already holds in
// part: another consumer committed offsets of one of its partitions past
// where the commit starts (the partition moved to it in a rebalance, or
// this process was cut off from the group). The records are dropped and
// consumption resumes from the table's offsets.
var ErrOffsetsMoved = errors.New("committed offsets moved past the flush")

// Offsets are next offsets to read, by topic and partition.
type Offsets map[string]map[int32]int64

// Get returns the offset of one partition and whether it is there.
func (o Offsets) Get(topic string, partition int32) (int64, bool) {
	off, ok := o[topic][partition]
	return off, ok
}

func (o Offsets) set(topic string, partition int32, off int64) {
	if o[topic] == nil {
		o[topic] = map[int32]int64{}
	}
	o[topic][partition] = off
}

// raise keeps the larger offset of each partition.
func (o Offsets) raise(other Offsets) {
	for t, ps := range other {
		for p, off := range ps {
			if cur, ok := o.Get(t, p); !ok || off > cur {
				o.set(t, p, off)
			}
		}
	}
}

func (o Offsets) clone() Offsets {
	c := Offsets{}
	c.raise(o)
	return c
}

// MarshalJSON writes partitions as string keys in order, the way JSON
// objects need them.
func (o Offsets) MarshalJSON() ([]byte, error) {
	out := map[string]map[string]int64{}
	for t, ps := range o {
		out[t] = map[string]int64{}
		for p, off := range ps {
			out[t][strconv.Itoa(int(p))] = off
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Offsets) UnmarshalJSON(b []byte) error {
	var in map[string]map[string]int64
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*o = Offsets{}
	for t, ps := range in {
		for k, off := range ps {
			p, err := strconv.ParseInt(k, 10, 32)
			if err != nil || p < 0 || off < 0 {
				return fmt.Errorf("topic %q: partition %q at %d is not a partition and offset", t, k, off)
			}
			o.set(t, int32(p), off)
		}
	}
	return nil
}

// span is what one flush consumed of one partition: [From, Next).
type span struct {
	Topic      string
	Partition  int32
	From, Next int64
}

// spans are sorted by topic and partition, one per partition.
type spans []span

func (s spans) sorted() spans {
	slices.SortFunc(s, func(a, b span) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return s
}

// batchID names the flush by its offset ranges: the same ranges are the
// same records, so a flush committed twice lands once.
func (s spans) batchID() string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "%s\x00%d\x00%d\x00%d\x00", r.Topic, r.Partition, r.From, r.Next)
	}
	h := sha256.Sum256([]byte(b.String()))
	return "kafka/" + hex.EncodeToString(h[:16])
}

func (s spans) next() Offsets {
	o := Offsets{}
	for _, r := range s {
		o.set(r.Topic, r.Partition, r.Next)
	}
	return o
}

func (s spans) json() string {
	out := map[string]map[string][2]int64{}
	for _, r := range s {
		if out[r.Topic] == nil {
			out[r.Topic] = map[string][2]int64{}
		}
		out[r.Topic][strconv.Itoa(int(r.Partition))] = [2]int64{r.From, r.Next}
	}
	b, _ := json.Marshal(out) // maps of strings and numbers always marshal
	return string(b)
}

// ledger reads a table's offsets: walking from the current snapshot to its
// oldest ancestor, each partition takes its offset from the newest snapshot
// that recorded it. Snapshots without a ledger (compaction rewrites, other
// writers) are passed over; snapshots of other branches or rolled back do
// not count, their records are not in the table.
func ledger(tbl *table.Table) (Offsets, error) {
	meta := tbl.Metadata()
	var history []iceberg.Properties
	seen := map[int64]bool{}
	for snap := meta.CurrentSnapshot(); snap != nil && !seen[snap.SnapshotID]; {
		seen[snap.SnapshotID] = true
		var props iceberg.Properties
		if snap.Summary != nil {
			props = snap.Summary.Properties
		}
		history = append(history, props)
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	off, err := resume(history)
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of %v: %w", tbl.Identifier(), err)
	}
	return off, nil
}

// resume is the per-partition newest offset over snapshot summaries given
// newest first.
func resume(history []iceberg.Properties) (Offsets, error) {
	out := Offsets{}
	for i, props := range history {
		raw, ok := props[OffsetsProperty]
		if !ok {
			continue
		}
		var o Offsets
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return nil, fmt.Errorf("snapshot %d back: %s: %w", i, OffsetsProperty, err)
		}
		for t, ps := range o {
			for p, off := range ps {
				if _, ok := out.Get(t, p); !ok {
					out.set(t, p, off)
				}
			}
		}
	}
	return out, nil
}

// check refuses a flush that overlaps what the table holds: for each of the
// flush's partitions the table's ledger must not be past the flush's first
// offset. It returns the ledger the commit records.
func check(committed Offsets, flush spans) (Offsets, error) {
	var moved []string
	for _, r := range flush {
		if off, ok := committed.Get(r.Topic, r.Partition); ok && off > r.From {
			moved = append(moved, fmt.Sprintf("%s/%d is committed up to %d, the flush starts at %d", r.Topic, r.Partition, off, r.From))
		}
	}
	if len(moved) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrOffsetsMoved, strings.Join(moved, "; "))
	}
	out := committed.clone()
	for _, r := range flush {
		out.set(r.Topic, r.Partition, r.Next)
	}
	return out, nil
}

// prepare is the Staged.Prepare of one part of a flush: the check and the
// ledger, against the table as it will be committed on. A flush of
// accepted records only, or of rejects only, commits to one of the two
// tables; absent then names the other one, which is checked as loaded
// now: the commit does not touch it, but an overlapping flush of another
// member may be there.
func prepare(ctx context.Context, sink *ingest.Sink, flush spans, absent table.Identifier) func(*table.Table) (iceberg.Properties, error) {
	return func(tbl *table.Table) (iceberg.Properties, error) {
		committed, err := ledger(tbl)
		if err != nil {
			return nil, err
		}
		next, err := check(committed, flush)
		if err != nil {
			return nil, err
		}
		if absent != nil {
			other, err := tableLedger(ctx, sink, absent)
			if err != nil {
				return nil, err
			}
			if _, err := check(other, flush); err != nil {
				return nil, fmt.Errorf("%v: %w", absent, err)
			}
		}
		b, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("writing the offset ledger: %w", err)
		}
		return iceberg.Properties{OffsetsProperty: string(b)}, nil
	}
}

// Committed returns the offsets the lake holds of a Kafka ingestion into
// ident: per partition the larger of the table's and its quarantine
// table's ledger (a flush whose records were all accepted, or all
// quarantined, commits to one of them only). Missing tables hold nothing.
func Committed(ctx context.Context, sink *ingest.Sink, ident table.Identifier) (Offsets, error) {
	out := Offsets{}
	for _, id := range []table.Identifier{ident, ingest.QuarantineTable(ident)} {
		o, err := tableLedger(ctx, sink, id)
		if err != nil {
			return nil, err
		}
		out.raise(o)
	}
	return out, nil
}

// tableLedger is the ledger of one table; a missing table holds nothing.
func tableLedger(ctx context.Context, sink *ingest.Sink, ident table.Identifier) (Offsets, error) {
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return Offsets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading table %v: %w", ident, err)
	}
	return ledger(tbl)
}
