package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

// newCluster starts an in-process Kafka (kfake) on loopback with one topic.
func newCluster(t *testing.T, topic string, partitions int32) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// eventSchema is the declared schema of the click events.
func eventSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "user", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: arrowfill.TimestampTZ.ArrowType(), Nullable: true},
		{Name: "mobile", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
}

// event is click event i as JSON; every 37th is malformed, in one of six
// ways, and valid is false.
func event(i int) (value []byte, valid bool) {
	if i%37 == 36 {
		switch (i / 37) % 6 {
		case 0:
			return fmt.Appendf(nil, `{"id":%d,"user":"u%d"`, i, i), false // cut off
		case 1:
			return fmt.Appendf(nil, `{"id":%d,"qty":"three"}`, i), false // wrong type
		case 2:
			return fmt.Appendf(nil, `{"id":%d,"coupon":"SAVE10"}`, i), false // no such column
		case 3:
			return fmt.Appendf(nil, `[%d]`, i), false // not an object
		case 4:
			return fmt.Appendf(nil, "{\"id\":%d,\"user\":\"\xff\xfe\"}", i), false // not UTF-8
		default:
			return nil, false // tombstone
		}
	}
	ts := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339)
	kinds := []string{"view", "cart", "search", "buy"}
	return fmt.Appendf(nil, `{"id":%d,"user":"u%d","event":%q,"page":"/p/%d","price":%d.%02d,"qty":%d,"ts":%q,"mobile":%t}`,
		i, i%500, kinds[i%4], i%97, i%300, i%100, qty(i), ts, i%2 == 0), true
}

func qty(i int) int64 { return int64(i%5 + 1) }

// produced is one message as the broker stored it.
type produced struct {
	id        int
	value     []byte
	valid     bool
	partition int32
	offset    int64
}

// producer writes events to a topic, round robin over its partitions,
// and remembers where each landed.
type producer struct {
	cl         *kgo.Client
	topic      string
	partitions int32
	mu         sync.Mutex
	all        []produced
}

func newProducer(t *testing.T, brokers []string, topic string, partitions int32) *producer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{cl: cl, topic: topic, partitions: partitions}
}

// produce writes events [from, from+n).
func (p *producer) produce(ctx context.Context, from, n int) error {
	recs := make([]*kgo.Record, n)
	for k := range n {
		v, _ := event(from + k)
		recs[k] = &kgo.Record{Key: []byte(strconv.Itoa(from + k)), Value: v, Partition: int32((from + k) % int(p.partitions))}
	}
	res := p.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("producing: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range res { // in the order they were acknowledged
		id, err := strconv.Atoi(string(r.Record.Key))
		if err != nil {
			return err
		}
		_, valid := event(id)
		p.all = append(p.all, produced{id: id, value: r.Record.Value, valid: valid, partition: r.Record.Partition, offset: r.Record.Offset})
	}
	return nil
}

func (p *producer) messages() []produced {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.all)
}

// ends are the next offsets of every partition: what a caught-up
// ingestion has committed.
func (p *producer) ends() Offsets {
	o := Offsets{}
	for _, m := range p.messages() {
		if cur, ok := o.Get(p.topic, m.partition); !ok || m.offset+1 > cur {
			o.set(p.topic, m.partition, m.offset+1)
		}
	}
	return o
}

// caughtUp reports whether the lake holds the offsets of everything
// produced.
func caughtUp(ctx context.Context, sink *ingest.Sink, ident table.Identifier, want Offsets) (bool, error) {
	got, err := Committed(ctx, sink, ident)
	if err != nil {
		return false, err
	}
	for t, ps := range want {
		for p, off := range ps {
			if g, _ := got.Get(t, p); g < off {
				return false, nil
			}
		}
	}
	return true, nil
}

func waitCaughtUp(t *testing.T, sink *ingest.Sink, ident table.Identifier, want Offsets, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := caughtUp(context.Background(), sink, ident, want)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			got, _ := Committed(context.Background(), sink, ident)
			t.Fatalf("the lake holds offsets %v after %v, want %v", got, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// committedTotal is the sum of the lake's offsets: records consumed.
func committedTotal(t *testing.T, sink *ingest.Sink, ident table.Identifier) int64 {
	t.Helper()
	o, err := Committed(context.Background(), sink, ident)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, ps := range o {
		for _, off := range ps {
			n += off
		}
	}
	return n
}

func scanTable(t *testing.T, sink *ingest.Sink, ident table.Identifier) arrow.Table {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan().ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(at.Release)
	return at
}

// column calls f for each value of a column of at.
func columnOf[A arrow.Array](t *testing.T, at arrow.Table, name string, f func(a A, i int)) {
	t.Helper()
	idx := at.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %v", name, at.Schema())
	}
	for _, chunk := range at.Column(idx[0]).Data().Chunks() {
		a, ok := chunk.(A)
		if !ok {
			t.Fatalf("column %q is %T", name, chunk)
		}
		for i := range chunk.Len() {
			f(a, i)
		}
	}
}

// verifyExactlyOnce checks that the table holds every valid message once
// and the quarantine table every malformed one once, each at its own
// position, and that the commits' offset ranges tile every partition.
func verifyExactlyOnce(t *testing.T, sink *ingest.Sink, ident table.Identifier, topic string, all []produced) {
	t.Helper()
	wantPos := map[int]string{}
	malformed := map[string][]byte{}
	var wantQty int64
	valid := 0
	for _, m := range all {
		pos := fmt.Sprintf("%s/%d/%d", topic, m.partition, m.offset)
		if m.valid {
			valid++
			wantPos[m.id] = pos
			wantQty += qty(m.id)
		} else {
			malformed[pos] = m.value
		}
	}

	data := scanTable(t, sink, ident)
	if data.NumRows() != int64(valid) {
		t.Errorf("table holds %d rows, want %d valid messages", data.NumRows(), valid)
	}
	var ids []int64
	columnOf(t, data, "id", func(a *array.Int64, i int) { ids = append(ids, a.Value(i)) })
	var positions []string
	columnOf(t, data, ingest.ColSourcePosition, func(a *array.String, i int) { positions = append(positions, a.Value(i)) })
	var sumQty int64
	columnOf(t, data, "qty", func(a *array.Int64, i int) { sumQty += a.Value(i) })
	seen := map[int64]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Errorf("id %d is in the table twice", id)
		}
		seen[id] = true
		if want, ok := wantPos[int(id)]; !ok || positions[i] != want {
			t.Errorf("id %d at %s, want it at %q", id, positions[i], want)
		}
	}
	if len(seen) != valid || sumQty != wantQty {
		t.Errorf("table holds %d distinct ids, sum(qty) %d; want %d and %d", len(seen), sumQty, valid, wantQty)
	}

	q := scanTable(t, sink, ingest.QuarantineTable(ident))
	if q.NumRows() != int64(len(malformed)) {
		t.Errorf("quarantine holds %d rows, want %d malformed messages", q.NumRows(), len(malformed))
	}
	var qpos, raws, reasons []string
	columnOf(t, q, "position", func(a *array.String, i int) { qpos = append(qpos, a.Value(i)) })
	columnOf(t, q, "raw_payload", func(a *array.String, i int) { raws = append(raws, a.Value(i)) })
	columnOf(t, q, "reason", func(a *array.String, i int) { reasons = append(reasons, a.Value(i)) })
	qseen := map[string]bool{}
	for i, pos := range qpos {
		want, ok := malformed[pos]
		switch {
		case qseen[pos]:
			t.Errorf("%s is in the quarantine twice", pos)
		case !ok:
			t.Errorf("%s is in the quarantine but was not malformed", pos)
		case raws[i] != escapeInvalidUTF8(want) || reasons[i] == "":
			t.Errorf("%s quarantined as %q (%s), want %q with a reason", pos, raws[i], reasons[i], want)
		}
		qseen[pos] = true
	}
	checkRangesTile(t, sink, ident, topic, all)
}

// checkRangesTile checks that the offset ranges of the commits of both
// tables, one flush per batch id, cover every partition from its first
// offset to its end without gap or overlap.
func checkRangesTile(t *testing.T, sink *ingest.Sink, ident table.Identifier, topic string, all []produced) {
	t.Helper()
	flushes := map[string]string{} // batch id → ranges
	for _, id := range []table.Identifier{ident, ingest.QuarantineTable(ident)} {
		tbl, err := sink.Catalog().LoadTable(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tbl.Metadata().Snapshots() {
			if s.Summary == nil || s.Summary.Properties[RangesProperty] == "" {
				continue
			}
			bid := strings.TrimSuffix(s.Summary.Properties[ingest.BatchIDProperty], ingest.QuarantineBatchID(""))
			flushes[bid] = s.Summary.Properties[RangesProperty]
		}
	}
	byPart := map[int32][][2]int64{}
	for _, raw := range flushes {
		var r map[string]map[string][2]int64
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatal(err)
		}
		for p, rng := range r[topic] {
			var pi int32
			fmt.Sscan(p, &pi)
			byPart[pi] = append(byPart[pi], rng)
		}
	}
	ends := map[int32]int64{}
	for _, m := range all {
		ends[m.partition] = max(ends[m.partition], m.offset+1)
	}
	for p, end := range ends {
		rs := byPart[p]
		slices.SortFunc(rs, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		next := int64(0)
		for _, r := range rs {
			if r[0] != next {
				t.Errorf("partition %d: a flush covers [%d,%d), the previous one ended at %d", p, r[0], r[1], next)
			}
			next = r[1]
		}
		if next != end {
			t.Errorf("partition %d: flushes end at %d, the partition at %d", p, next, end)
		}
	}
}
