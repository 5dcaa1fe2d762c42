package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tp is a topic-partition.
type tp struct {
	topic     string
	partition int32
}

// flushTimeout bounds one flush: decoding, writing and committing.
const flushTimeout = 2 * time.Minute

// partition is an owned partition's state: records buffered since the
// last commit, [from, next).
type partition struct {
	from  int64 // the lake's next offset; -1 while the lake has none and no record came
	next  int64 // after the last buffered record; -1 likewise
	recs  []*kgo.Record
	hwm   int64 // high watermark at the last fetch; -1 before
	fresh bool  // no record yet in this session
}

// clientOptions: the caller's options first, so that the consumer settings
// exactly-once relies on win.
func (in *Ingester) clientOptions() []kgo.Opt {
	reset := kgo.NewOffset().AtStart()
	if in.cfg.StartAtEnd {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{kgo.WithLogger(kgoLogger{in.logger})}
	opts = append(opts, in.cfg.ClientOptions...)
	opts = append(opts,
		kgo.SeedBrokers(in.cfg.Brokers...),
		kgo.ConsumeTopics(in.cfg.Topics...),
		kgo.ConsumerGroup(in.cfg.Group),
		kgo.DisableAutoCommit(), // the lake holds the offsets
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(reset),
		kgo.AdjustFetchOffsetsFn(in.assigned),
		kgo.OnPartitionsRevoked(in.revoked),
		kgo.OnPartitionsLost(in.lost),
	)
	if in.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(in.cfg.InstanceID))
	}
	return opts
}

// session is one group membership: join, consume and flush until ctx ends
// (then flush what is buffered) or something fails. Records still
// buffered when it ends are dropped; the next session reads them again
// from the lake's offsets.
func (in *Ingester) session(ctx context.Context) error {
	if err := in.openTables(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(in.clientOptions()...)
	if err != nil {
		return fmt.Errorf("creating kafka client: %w", err)
	}
	defer func() {
		in.mu.Lock()
		in.dropAll()
		in.mu.Unlock()
		cl.Close() // revokes what is left: nothing is buffered to flush
		in.mu.Lock()
		for k := range in.parts {
			in.forget(k)
		}
		in.rewind = nil
		in.mu.Unlock()
	}()
	for {
		in.mu.Lock()
		wait, room := in.untilDue(), max(in.cfg.FlushRows-in.rows, 1)
		in.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := cl.PollRecords(pctx, room)
		cancel()
		err := in.take(ctx, fetches)
		cl.AllowRebalance()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// take buffers what a poll returned and flushes when due, or, when ctx
// ended, flushes what is buffered.
func (in *Ingester) take(ctx context.Context, fetches kgo.Fetches) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.rewind != nil {
		return in.rewind
	}
	for _, fe := range fetches.Errors() {
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded), errors.Is(fe.Err, context.Canceled):
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			return fmt.Errorf("polling kafka: %w", fe.Err)
		default:
			in.logger.Warn("fetching from kafka", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	fetches.EachPartition(in.buffer)
	if ctx.Err() == nil && !in.due() {
		return nil
	}
	// A flush under way finishes when ctx ends: stopping commits what
	// was read, it does not throw it away.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	return in.flush(fctx)
}

// buffer keeps the records of an owned partition past what is buffered.
func (in *Ingester) buffer(f kgo.FetchTopicPartition) {
	k := tp{f.Topic, f.Partition}
	st := in.parts[k]
	if st == nil {
		return // fetched before the partition was revoked
	}
	if f.HighWatermark >= 0 {
		st.hwm = f.HighWatermark
	}
	for _, r := range f.Records {
		if st.next >= 0 && r.Offset < st.next {
			continue // already buffered or committed
		}
		if st.fresh && st.from >= 0 && r.Offset > st.from {
			in.logger.Warn("kafka no longer holds the records after the lake's offset (retention, compaction or transaction markers)",
				"topic", k.topic, "partition", k.partition, "lake_offset", st.from, "first_record", r.Offset)
		}
		st.fresh = false
		if st.from < 0 {
			st.from = r.Offset
		}
		st.recs = append(st.recs, r)
		st.next = r.Offset + 1
		in.rows++
		in.bytes += int64(len(r.Value))
		if in.started.IsZero() {
			in.started = time.Now()
		}
	}
	in.observeLag(k, st)
}

func (in *Ingester) observeLag(k tp, st *partition) {
	if st.hwm < 0 || st.from < 0 {
		return
	}
	in.metrics.lag.WithLabelValues(k.topic, strconv.Itoa(int(k.partition))).Set(float64(st.hwm - st.from))
	var lag int64
	for _, p := range in.parts {
		if p.hwm >= 0 && p.from >= 0 {
			lag += p.hwm - p.from
		}
	}
	in.count(func(s *Stats) { s.Lag = lag })
}

func (in *Ingester) due() bool {
	return in.rows >= in.cfg.FlushRows || in.bytes >= in.cfg.FlushBytes ||
		(!in.started.IsZero() && time.Since(in.started) >= in.cfg.FlushInterval)
}

func (in *Ingester) untilDue() time.Duration {
	if in.started.IsZero() {
		return in.cfg.FlushInterval
	}
	return max(time.Until(in.started.Add(in.cfg.FlushInterval)), time.Millisecond)
}

// assigned starts newly assigned partitions at the lake's offsets, not at
// the group's: the group's committed offsets are not the truth.
func (in *Ingester) assigned(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	lake, err := Committed(ctx, in.sink, in.cfg.Table)
	if err != nil {
		return nil, fmt.Errorf("reading the lake's offsets of assigned partitions: %w", err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var starts []string
	for topic, ps := range offsets {
		for p := range ps {
			st := &partition{from: -1, next: -1, hwm: -1, fresh: true}
			start := "beginning"
			if off, ok := lake.Get(topic, p); ok {
				ps[p] = kgo.NewOffset().At(off).WithEpoch(-1)
				st.from, st.next = off, off
				start = strconv.FormatInt(off, 10)
			} else if in.cfg.StartAtEnd {
				ps[p] = kgo.NewOffset().AtEnd()
				start = "end"
			} else {
				ps[p] = kgo.NewOffset().AtStart()
			}
			in.parts[tp{topic, p}] = st
			starts = append(starts, fmt.Sprintf("%s/%d@%s", topic, p, start))
		}
	}
	slices.Sort(starts)
	in.logger.Info("assigned kafka partitions", "from", strings.Join(starts, " "))
	return offsets, nil
}

// revoked commits what is buffered before the partitions go to another
// member: the group waits for this callback, so the new owner starts at
// the offsets committed here. If the commit fails the records are dropped
// and the session starts over.
func (in *Ingester) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	held := false
	for topic, ps := range revoked {
		for _, p := range ps {
			if st := in.parts[tp{topic, p}]; st != nil && len(st.recs) > 0 {
				held = true
			}
		}
	}
	if held && in.rewind == nil {
		if err := in.flush(ctx); err != nil {
			in.rewind = fmt.Errorf("committing before giving up partitions: %w", err)
			in.dropAll()
		}
	}
	for topic, ps := range revoked {
		for _, p := range ps {
			in.forget(tp{topic, p})
		}
	}
	if len(revoked) > 0 {
		in.logger.Info("kafka partitions revoked", "partitions", revoked)
	}
}

// lost drops the buffered records of partitions taken away without a
// revoke (the session timed out): they may be another member's already,
// so nothing of them may be committed.
func (in *Ingester) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for topic, ps := range lost {
		for _, p := range ps {
			in.forget(tp{topic, p})
		}
	}
	in.logger.Warn("kafka partitions lost: their uncommitted records are dropped", "partitions", lost)
}

// forget drops a partition and what is buffered of it.
func (in *Ingester) forget(k tp) {
	st := in.parts[k]
	if st == nil {
		return
	}
	in.unbuffer(st)
	delete(in.parts, k)
	in.metrics.lag.DeleteLabelValues(k.topic, strconv.Itoa(int(k.partition)))
}

// dropAll drops every buffered record; the partitions stay owned but must
// be read again from the lake's offsets (a new session does).
func (in *Ingester) dropAll() {
	for _, st := range in.parts {
		in.unbuffer(st)
	}
	in.started = time.Time{}
}

func (in *Ingester) unbuffer(st *partition) {
	for _, r := range st.recs {
		in.rows--
		in.bytes -= int64(len(r.Value))
	}
	st.recs = nil
	st.next = st.from
	if in.rows == 0 {
		in.started = time.Time{}
	}
}

// kgoLogger passes franz-go's logs on, its info as debug: it is chatty.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug-4):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := map[kgo.LogLevel]slog.Level{kgo.LogLevelError: slog.LevelError, kgo.LogLevelWarn: slog.LevelWarn,
		kgo.LogLevelInfo: slog.LevelDebug, kgo.LogLevelDebug: slog.LevelDebug - 4}[level]
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}
