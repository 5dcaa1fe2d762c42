package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

const (
	// batchRows bounds the rows of one Arrow batch of a flush.
	batchRows = 16384
	// sampleRows is how many records of the first flush type a new table.
	sampleRows = 10000
)

// reject is a record the flush quarantines.
type reject struct {
	topic, position, reason string
	raw                     []byte
}

// flushed is a flush decoded: accepted records as Arrow batches of the
// table's schema with lineage, and the rejects.
type flushed struct {
	batchID  string
	at       time.Time
	data     []arrow.RecordBatch
	rejects  []reject
	received int64
	accepted int64
	bytes    int64
}

// flush commits what is buffered as one flush, a single catalog
// transaction over the table and its quarantine table. The caller holds
// in.mu; on error nothing is committed (or, when the outcome is unknown,
// the next session's offsets tell) and the buffer stays for the caller to
// drop.
func (in *Ingester) flush(ctx context.Context) error {
	var fl spans
	for k, st := range in.parts {
		if len(st.recs) > 0 {
			fl = append(fl, span{Topic: k.topic, Partition: k.partition, From: st.from, Next: st.next})
		}
	}
	if len(fl) == 0 {
		in.started = time.Time{}
		return nil
	}
	fl = fl.sorted()
	start := time.Now()
	if in.dec == nil {
		if err := in.inferTables(ctx, fl); err != nil {
			return err
		}
	}
	f := in.decode(fl, start)
	parts, err := in.stage(ctx, fl, f)
	if err != nil {
		return err
	}
	results, err := in.sink.CommitOnce(ctx, parts...)
	took := time.Since(start)
	if err != nil {
		in.metrics.commits.WithLabelValues(outcome(err)).Inc()
		return fmt.Errorf("committing flush %s: %w", f.batchID, err)
	}
	skipped := true
	for _, r := range results {
		skipped = skipped && r.Skipped
	}
	in.metrics.commits.WithLabelValues(map[bool]string{false: "committed", true: "skipped"}[skipped]).Inc()
	in.metrics.commitSeconds.Observe(took.Seconds())
	in.metrics.rows.Add(float64(f.accepted))
	in.metrics.quarantined.Add(float64(len(f.rejects)))
	in.metrics.bytes.Add(float64(f.bytes))
	for _, r := range fl {
		k := tp{r.Topic, r.Partition}
		st := in.parts[k]
		in.unbuffer(st)
		st.from, st.next = r.Next, r.Next
		in.observeLag(k, st)
	}
	rep := FlushReport{BatchID: f.batchID, Offsets: fl.next(), Received: f.received, Accepted: f.accepted,
		Quarantined: int64(len(f.rejects)), Bytes: f.bytes, Skipped: skipped, Duration: took}
	in.count(func(s *Stats) {
		s.Received += rep.Received
		s.Accepted += rep.Accepted
		s.Quarantined += rep.Quarantined
		s.Bytes += rep.Bytes
		s.Flushes++
	})
	in.logger.Info("committed kafka flush", "batch", rep.BatchID, "received", rep.Received, "accepted", rep.Accepted,
		"quarantined", rep.Quarantined, "skipped", rep.Skipped, "offsets", fl.json(), "duration", took.Round(time.Millisecond))
	if in.cfg.OnFlush != nil {
		in.cfg.OnFlush(rep)
	}
	return nil
}

func outcome(err error) string {
	switch {
	case errors.Is(err, ErrOffsetsMoved):
		return "refused"
	case errors.Is(err, ingest.ErrCommitUnknown):
		return "unknown"
	}
	return "failed"
}

// inferTables types a new table from the flush's records and creates it.
// When no record has fields the table waits for a later flush, and this
// one's records are all quarantined.
func (in *Ingester) inferTables(ctx context.Context, fl spans) error {
	var sample [][]byte
	for _, r := range fl {
		for _, rec := range in.parts[tp{r.Topic, r.Partition}].recs {
			if len(sample) < sampleRows {
				sample = append(sample, rec.Value)
			}
		}
	}
	sc, err := infer(sample)
	if err != nil {
		in.logger.Warn("no columns to create the table from yet: quarantining the flush", "err", err)
		if _, err := in.sink.EnsureTable(ctx, ingest.QuarantineTable(in.cfg.Table), ingest.QuarantineSchema()); err != nil {
			return err
		}
		return nil
	}
	dec, err := in.createTables(ctx, sc)
	if err != nil {
		return err
	}
	in.dec = dec
	return nil
}

// decode splits the flush into accepted rows, stamped with the lineage
// columns, and rejects.
func (in *Ingester) decode(fl spans, at time.Time) flushed {
	f := flushed{batchID: fl.batchID(), at: at.UTC().Truncate(time.Microsecond)}
	dec := in.dec
	var rb *array.RecordBuilder
	n := 0
	if dec != nil {
		rb = array.NewRecordBuilder(memory.DefaultAllocator, dec.full)
		defer rb.Release()
	}
	cut := func() {
		if n > 0 {
			f.data = append(f.data, rb.NewRecordBatch())
			n = 0
		}
	}
	for _, r := range fl {
		for _, rec := range in.parts[tp{r.Topic, r.Partition}].recs {
			f.received++
			f.bytes += int64(len(rec.Value))
			pos := fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)
			reason := "the table has no columns yet: no record of the first flush had fields to type them"
			if dec != nil {
				reason = dec.decode(rec.Value)
			} else if _, _, err := objectFields(rec.Value); err != nil {
				reason = err.Error()
			}
			if reason != "" {
				f.rejects = append(f.rejects, reject{topic: rec.Topic, position: pos, reason: reason, raw: rec.Value})
				continue
			}
			dec.append(rb)
			lin := dec.schema.NumFields()
			rb.Field(lin).(*array.TimestampBuilder).Append(arrow.Timestamp(f.at.UnixMicro()))
			rb.Field(lin + 1).(*array.StringBuilder).Append("kafka:" + rec.Topic)
			rb.Field(lin + 2).(*array.StringBuilder).Append(f.batchID)
			rb.Field(lin + 3).(*array.StringBuilder).Append(pos)
			f.accepted++
			if n++; n == batchRows {
				cut()
			}
		}
	}
	if rb != nil {
		cut()
	}
	return f
}

// stage writes the data files of the flush's parts: the quarantine part
// and the data part, each with the offsets check and ledger as Prepare.
func (in *Ingester) stage(ctx context.Context, fl spans, f flushed) ([]*ingest.Staged, error) {
	props := iceberg.Properties{
		ingest.SourceProperty:      in.source,
		ingest.ReceivedProperty:    strconv.FormatInt(f.received, 10),
		ingest.AcceptedProperty:    strconv.FormatInt(f.accepted, 10),
		ingest.QuarantinedProperty: strconv.Itoa(len(f.rejects)),
		RangesProperty:             fl.json(),
		GroupProperty:              in.cfg.Group,
	}
	var parts []*ingest.Staged
	if len(f.rejects) > 0 {
		q, err := in.sink.Stage(ctx, ingest.QuarantineTable(in.cfg.Table), ingest.QuarantineSchema(),
			batches([]arrow.RecordBatch{quarantine(f)}), ingest.QuarantineBatchID(f.batchID), props)
		if err != nil {
			releaseAll(f.data)
			return nil, err
		}
		parts = append(parts, q)
	}
	if f.accepted > 0 {
		d, err := in.sink.Stage(ctx, in.cfg.Table, in.dec.full, batches(f.data), f.batchID, props)
		if err != nil {
			return nil, err
		}
		parts = append(parts, d)
	}
	for _, p := range parts {
		var absent table.Identifier
		if len(parts) == 1 {
			absent = other(p.Table, in.cfg.Table)
		}
		p.Prepare = prepare(ctx, in.sink, fl, absent)
	}
	return parts, nil
}

// other is the table of a flush that ident is not: the quarantine table of
// data, or the data table of the quarantine.
func other(ident, data table.Identifier) table.Identifier {
	if slices.Equal(ident, data) {
		return ingest.QuarantineTable(data)
	}
	return data
}

// batches yields recs, handing each over to the consumer (Stage releases
// what it writes); what it does not take is released.
func batches(recs []arrow.RecordBatch) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for i, r := range recs {
			if !yield(r, nil) {
				releaseAll(recs[i+1:])
				return
			}
		}
	}
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// quarantine builds the quarantine rows of the flush's rejects.
func quarantine(f flushed) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, ingest.QuarantineSchema())
	defer b.Release()
	at := arrow.Timestamp(f.at.UnixMicro())
	for _, r := range f.rejects {
		b.Field(0).(*array.TimestampBuilder).Append(at)
		b.Field(1).(*array.StringBuilder).Append("kafka:" + r.topic)
		b.Field(2).(*array.StringBuilder).Append(r.position)
		reason := r.reason
		if !utf8.Valid(r.raw) {
			reason += " (raw payload is not valid UTF-8: invalid bytes written as \\xNN)"
		}
		b.Field(3).(*array.StringBuilder).Append(reason)
		b.Field(4).(*array.StringBuilder).Append(escapeInvalidUTF8(r.raw))
		b.Field(5).(*array.StringBuilder).Append(f.batchID)
	}
	return b.NewRecordBatch()
}

// escapeInvalidUTF8 keeps valid UTF-8 as is and writes each invalid byte as
// \xNN, so that the payload fits a string column and can be restored.
func escapeInvalidUTF8(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	var sb strings.Builder
	for len(raw) > 0 {
		r, size := utf8.DecodeRune(raw)
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&sb, `\x%02x`, raw[0])
		} else {
			sb.Write(raw[:size])
		}
		raw = raw[size:]
	}
	return sb.String()
}
