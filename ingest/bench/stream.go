package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/kafka"
	"github.com/lakehouse-go/lakehouse/trino"
)

// StreamConfig says how the streaming measurement runs.
type StreamConfig struct {
	Table      table.Identifier
	Rate       int           // events per second produced. Default 10,000.
	Duration   time.Duration // how long to produce. Default 60s.
	Flush      time.Duration // kafka.Config.FlushInterval. Default 2s.
	Partitions int32         // of the kfake topic. Default 3.
	Poll       time.Duration // how often the sampler checks visibility. Default 100ms.
	Tick       time.Duration // the producer sends a batch every Tick. Default 10ms.
	// TrinoURL, when set, makes Trino the judge of visibility: a batch is
	// visible once a query counts all its rows in the table. Otherwise the
	// catalog is: once the table's committed offsets cover the batch.
	TrinoURL string
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Rate <= 0 {
		c.Rate = 10_000
	}
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.Flush <= 0 {
		c.Flush = 2 * time.Second
	}
	if c.Partitions <= 0 {
		c.Partitions = 3
	}
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
		if c.TrinoURL != "" {
			c.Poll = 250 * time.Millisecond
		}
	}
	if c.Tick <= 0 {
		c.Tick = 10 * time.Millisecond
	}
	return c
}

// StreamResult is the streaming measurement.
type StreamResult struct {
	Config    StreamConfig
	Events    int64         // produced
	Batches   int           // producer batches (one per Tick)
	Elapsed   time.Duration // producing
	Landed    kafka.Stats   // the ingester's totals
	Latencies []time.Duration
	Check     string // how visibility was checked
}

// Rate is the achieved produce rate, events/s.
func (r StreamResult) Rate() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Percentile of the latencies, p in [0,1] (nearest rank).
func (r StreamResult) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// prodBatch is what the producer sent in one tick.
type prodBatch struct {
	at      time.Time       // when the batch was handed to the client
	size    int             // records in the batch
	pending int             // records not acknowledged yet
	last    map[int32]int64 // per partition the highest offset acknowledged
	seen    time.Time       // when the sampler first saw all of it in the lake
}

// Stream produces JSON events (the generator's clickstream rows, each with
// its produce time in produced_at) to an in-process Kafka at a steady rate
// while kafka.Run lands them, and measures per producer batch the time from
// producing it to the lake's committed offsets covering all of it, as a
// reader loading the table through the catalog sees them.
func Stream(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, events *Dataset, cfg StreamConfig) (StreamResult, error) {
	cfg = cfg.withDefaults()
	res := StreamResult{Config: cfg, Check: "catalog: load the table and its quarantine table, offsets ledger of the current snapshot (kafka.Committed)"}
	check := catalogCheck(sink, cfg.Table, "clicks")
	if cfg.TrinoURL != "" {
		res.Check = "Trino: count the table's rows per produced_at (one value per producer batch) for the batches not seen yet"
		check = trinoCheck(cfg.TrinoURL, cfg.Table)
	}
	const topic = "clicks"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(cfg.Partitions, topic))
	if err != nil {
		return res, fmt.Errorf("starting kfake: %w", err)
	}
	defer cluster.Close()
	values, err := eventJSON(events, cfg.Rate*int(cfg.Duration/time.Second+1))
	if err != nil {
		return res, err
	}
	sc := arrow.NewSchema(append(slices.Clone(events.Schema.Fields()),
		arrow.Field{Name: "produced_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true}), nil)
	in, err := kafka.New(logger, sink, kafka.Config{
		Brokers: cluster.ListenAddrs(), Topics: []string{topic}, Group: "ingestbench",
		Table: cfg.Table, Schema: sc, FlushInterval: cfg.Flush,
	})
	if err != nil {
		return res, fmt.Errorf("preparing kafka ingest: %w", err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(runCtx) }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return res, fmt.Errorf("connecting producer: %w", err)
	}
	defer cl.Close()

	var mu sync.Mutex
	var batches []*prodBatch
	samplerDone := make(chan error, 1)
	stopSampler := make(chan struct{})
	go func() {
		samplerDone <- sample(ctx, cfg, check, &mu, &batches, stopSampler)
	}()

	start := time.Now()
	res.Events, res.Batches = produce(ctx, cl, cfg, values, &mu, &batches)
	res.Elapsed = time.Since(start)
	if err := cl.Flush(ctx); err != nil {
		return res, fmt.Errorf("flushing producer: %w", err)
	}
	// Everything produced should land within a few flush intervals.
	wait := time.NewTimer(10*cfg.Flush + 30*time.Second)
	defer wait.Stop()
	select {
	case err = <-samplerDone:
	case <-wait.C:
		err = errors.New("waiting for the last events to land: timed out")
	case err = <-runErr:
		err = fmt.Errorf("running kafka ingest: %w (stopped early)", err)
	}
	close(stopSampler)
	stopRun()
	if rerr := <-runErr; rerr != nil && err == nil {
		err = fmt.Errorf("running kafka ingest: %w", rerr)
	}
	res.Landed = in.Stats()
	mu.Lock()
	for _, b := range batches {
		if !b.seen.IsZero() {
			res.Latencies = append(res.Latencies, b.seen.Sub(b.at))
		}
	}
	mu.Unlock()
	return res, err
}

// produce sends values round robin at cfg.Rate for cfg.Duration, one batch
// per tick, and records each batch's offsets as they are acknowledged.
func produce(ctx context.Context, cl *kgo.Client, cfg StreamConfig, values [][]byte, mu *sync.Mutex, batches *[]*prodBatch) (int64, int) {
	tick := time.NewTicker(cfg.Tick)
	defer tick.Stop()
	start := time.Now()
	var sent int64
	n := 0
	for {
		select {
		case <-ctx.Done():
			return sent, n
		case now := <-tick.C:
			el := now.Sub(start)
			if el >= cfg.Duration {
				return sent, n
			}
			due := int64(el.Seconds()*float64(cfg.Rate)) - sent
			if due <= 0 {
				continue
			}
			b := &prodBatch{at: time.Now(), size: int(due), pending: int(due), last: map[int32]int64{}}
			mu.Lock()
			*batches = append(*batches, b)
			mu.Unlock()
			stamp := b.at.UTC().Format(time.RFC3339Nano)
			for range due {
				v := values[sent%int64(len(values))]
				val := make([]byte, 0, len(v)+48)
				val = append(val, v[:len(v)-1]...)
				val = append(val, `,"produced_at":"`...)
				val = append(val, stamp...)
				val = append(val, `"}`...)
				cl.Produce(ctx, &kgo.Record{Value: val}, func(r *kgo.Record, err error) {
					mu.Lock()
					defer mu.Unlock()
					b.pending--
					if err == nil && r.Offset > b.last[r.Partition] {
						b.last[r.Partition] = r.Offset
					} else if err == nil {
						if _, ok := b.last[r.Partition]; !ok {
							b.last[r.Partition] = r.Offset
						}
					}
				})
				sent++
			}
			n++
		}
	}
}

// visibility reports which of the given batches (fully acknowledged by
// Kafka, not seen yet) a reader of the lake sees completely now.
type visibility func(ctx context.Context, batches []*prodBatch) ([]bool, error)

// catalogCheck: the table's committed offsets (what a reader loading the
// table through the catalog gets) cover the batch.
func catalogCheck(sink *ingest.Sink, ident table.Identifier, topic string) visibility {
	return func(ctx context.Context, batches []*prodBatch) ([]bool, error) {
		off, err := kafka.Committed(ctx, sink, ident)
		if err != nil {
			return nil, fmt.Errorf("sampling committed offsets: %w", err)
		}
		seen := make([]bool, len(batches))
		for i, b := range batches {
			seen[i] = covered(off, topic, b.last)
		}
		return seen, nil
	}
}

// trinoCheck: a Trino query counts all the batch's rows. Each batch has its
// own produced_at, so one grouped query answers for every batch at once.
func trinoCheck(trinoURL string, ident table.Identifier) visibility {
	name := "lakehouse." + strings.Join(ident, ".")
	return func(ctx context.Context, batches []*prodBatch) ([]bool, error) {
		oldest := batches[0].at
		for _, b := range batches {
			if b.at.Before(oldest) {
				oldest = b.at
			}
		}
		stmt := fmt.Sprintf(`SELECT CAST(round(to_unixtime(produced_at) * 1e6) AS bigint), count(*)
			FROM %s WHERE produced_at >= from_unixtime_nanos(%d) GROUP BY 1`, name, oldest.Truncate(time.Microsecond).UnixNano())
		res, err := trino.Query(ctx, trinoURL, "", stmt)
		if err != nil {
			return nil, fmt.Errorf("sampling through Trino: %w", err)
		}
		counts := make(map[int64]int64, len(res.Rows))
		for _, row := range res.Rows {
			us, ok1 := row[0].(int64)
			n, ok2 := row[1].(int64)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("sampling through Trino: unexpected row %v", row)
			}
			counts[us] = n
		}
		seen := make([]bool, len(batches))
		for i, b := range batches {
			seen[i] = counts[b.at.UnixMicro()] >= int64(b.size)
		}
		return seen, nil
	}
}

// sample checks visibility every cfg.Poll and stamps each fully
// acknowledged batch when the check first sees it. It returns nil once
// production stopped and every batch was seen.
func sample(ctx context.Context, cfg StreamConfig, check visibility, mu *sync.Mutex, batches *[]*prodBatch, stop <-chan struct{}) error {
	tick := time.NewTicker(cfg.Poll)
	defer tick.Stop()
	stamped := 0 // batches before this index are all seen
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return nil
		case <-tick.C:
		}
		mu.Lock()
		var ready []*prodBatch
		all := true
		for i := stamped; i < len(*batches); i++ {
			b := (*batches)[i]
			if !b.seen.IsZero() {
				continue
			}
			all = false
			if b.pending == 0 {
				ready = append(ready, b)
			}
		}
		producing := len(*batches) == 0 || time.Since((*batches)[len(*batches)-1].at) < 2*cfg.Tick+50*time.Millisecond
		mu.Unlock()
		if all && !producing {
			return nil
		}
		if len(ready) == 0 {
			continue
		}
		seen, err := check(ctx, ready)
		if err != nil {
			return err
		}
		now := time.Now()
		mu.Lock()
		for i, b := range ready {
			if seen[i] {
				b.seen = now
			}
		}
		for stamped < len(*batches) && !(*batches)[stamped].seen.IsZero() {
			stamped++
		}
		mu.Unlock()
	}
}

func covered(off kafka.Offsets, topic string, last map[int32]int64) bool {
	for p, o := range last {
		next, ok := off.Get(topic, p)
		if !ok || next <= o {
			return false
		}
	}
	return true
}

// eventJSON renders up to n of the dataset's rows as JSON objects.
func eventJSON(d *Dataset, n int) ([][]byte, error) {
	var out [][]byte
	for _, r := range d.Records {
		for i := range int(r.NumRows()) {
			if len(out) == n {
				return out, nil
			}
			obj := make(map[string]any, r.NumCols())
			for c, col := range r.Columns() {
				if col.IsNull(i) {
					continue
				}
				name := r.Schema().Field(c).Name
				switch a := col.(type) {
				case *array.String:
					obj[name] = a.Value(i)
				case *array.Float64:
					obj[name] = a.Value(i)
				case *array.Int64:
					obj[name] = a.Value(i)
				case *array.Timestamp:
					obj[name] = a.Value(i).ToTime(arrow.Microsecond).UTC().Format(time.RFC3339Nano)
				default:
					return nil, fmt.Errorf("rendering events as JSON: column %s of type %s", name, col.DataType())
				}
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return nil, fmt.Errorf("rendering events as JSON: %w", err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("rendering events as JSON: no events")
	}
	return out, nil
}
