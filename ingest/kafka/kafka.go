// Package kafka is the ingest source for Kafka topics of JSON records. A
// consumer group member reads its partitions, turns the records into Arrow
// batches of the table's columns and commits them in flushes (on FlushRows,
// FlushBytes or FlushInterval): each flush is one catalog transaction over
// the table (accepted records, with lineage) and its quarantine table
// (rejects, with reason, raw payload and topic/partition/offset).
//
// Exactly once: the lake, not Kafka's group offsets, says where to resume.
// A flush's snapshot summary records what it consumed (RangesProperty, and
// a batch id derived from those ranges) and the table's offset ledger
// (OffsetsProperty: per partition the next offset, its own partitions
// advanced, the others carried forward). A member newly assigned a
// partition starts at the offset of the newest snapshot that recorded it,
// in the table or its quarantine table. Before a flush lands, the ledger
// of the very table state the commit applies on must not be past the
// flush's first offset of any of its partitions (ingest.Staged.Prepare);
// otherwise another member committed those records (a partition moved
// while this one still held them) and the flush is refused with
// ErrOffsetsMoved, dropped, and read again from the lake's offsets.
// Revoked partitions are flushed before the group hands them on; lost ones
// are dropped; a crash loses only uncommitted work.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
)

// Config says what to consume and where it lands.
type Config struct {
	// Brokers are seed brokers, host:port. Required.
	Brokers []string
	// Topics are consumed together into Table. Required.
	Topics []string
	// Group is the consumer group: processes in one group share the
	// partitions. Required.
	Group string
	// InstanceID, when set, makes this process a static group member: a
	// restart with the same id takes its partitions back at once, without
	// a rebalance of the group.
	InstanceID string
	// Table is <zone>.<table>; rejects go to <zone>.<table>__quarantine.
	// Required.
	Table table.Identifier
	// Schema declares the records' columns (bool, int32, int64, float32,
	// float64, date32, string, timestamp[us] with or without zone), matched
	// by name with the records' top-level JSON fields. When the table
	// exists its columns win. Nil: the table's columns, or, for a new
	// table, columns inferred from the records of the first flush.
	Schema *arrow.Schema
	// FlushRows flushes once this many records are buffered. Default 100000.
	FlushRows int
	// FlushBytes flushes once the buffered record values hold this many
	// bytes. Default 64 MiB.
	FlushBytes int64
	// FlushInterval flushes this long after the first record of a flush
	// was buffered. Default 10s.
	FlushInterval time.Duration
	// StartAtEnd starts partitions the lake holds nothing of at their end
	// instead of their beginning. Default false: from the beginning.
	StartAtEnd bool
	// Registerer, when set, gets the metrics (see metrics.go), labelled
	// with the table.
	Registerer prometheus.Registerer
	// OnFlush, when set, is called after each committed flush.
	OnFlush func(FlushReport)
	// ClientOptions are further franz-go options (TLS, SASL, timeouts);
	// they cannot replace the consumer settings this package relies on.
	ClientOptions []kgo.Opt
}

func (c Config) withDefaults() Config {
	if c.FlushRows <= 0 {
		c.FlushRows = 100000
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = 64 << 20
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Second
	}
	return c
}

// Validate reports what is missing or invalid.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("no topics"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("no consumer group"))
	}
	if len(c.Table) < 2 {
		errs = append(errs, fmt.Errorf("table %v is not <zone>.<table>", c.Table))
	}
	if c.Schema != nil {
		if _, err := newDecoder(c.Schema); err != nil {
			errs = append(errs, fmt.Errorf("declared schema: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validating kafka ingest config: %w", err)
	}
	return nil
}

// Stats are an ingester's totals since it started, over committed flushes.
type Stats struct {
	Received    int64 // records committed: Accepted + Quarantined
	Accepted    int64 // in the table
	Quarantined int64 // in the quarantine table
	Bytes       int64 // record values committed
	Flushes     int64 // commits
	Rewinds     int64 // failed sessions: buffered records dropped, read again from the lake's offsets
	Lag         int64 // records in the owned partitions not yet committed, as of the last fetch
}

// FlushReport is one committed flush. Accepted + Quarantined = Received.
type FlushReport struct {
	BatchID     string
	Offsets     Offsets // next offset of each partition the flush covered
	Received    int64
	Accepted    int64
	Quarantined int64
	Bytes       int64
	Skipped     bool // the same offset ranges had landed already
	Duration    time.Duration
}

// Ingester consumes Kafka into one table. Run it once.
type Ingester struct {
	logger  *slog.Logger
	sink    *ingest.Sink
	cfg     Config
	source  string
	metrics *metrics

	statsMu sync.Mutex
	stats   Stats

	// mu guards the consumption state: the poll loop holds it while it
	// buffers and flushes, the rebalance callbacks while they run.
	mu      sync.Mutex
	parts   map[tp]*partition // owned partitions
	dec     *decoder          // nil until the table's columns are known
	rewind  error             // set by a callback: the session must start over
	started time.Time         // when the first record of the flush was buffered
	rows    int
	bytes   int64
}

// New checks cfg and prepares an ingester.
func New(logger *slog.Logger, sink *ingest.Sink, cfg Config) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := newMetrics(cfg.Registerer, cfg.Table)
	return &Ingester{
		logger:  logger.With("table", strings.Join(cfg.Table, "."), "group", cfg.Group),
		sink:    sink,
		cfg:     cfg,
		source:  "kafka:" + strings.Join(cfg.Topics, ","),
		metrics: m,
		parts:   map[tp]*partition{},
	}, nil
}

// Run consumes until ctx ends, flushing and committing; what is buffered
// when ctx ends is committed before Run returns nil. Failures of a session
// (catalog or commit errors) drop the buffer and start over from the lake's
// offsets after a backoff; Run returns the error once ten sessions in a
// row failed without committing.
func Run(ctx context.Context, logger *slog.Logger, sink *ingest.Sink, cfg Config) error {
	in, err := New(logger, sink, cfg)
	if err != nil {
		return err
	}
	return in.Run(ctx)
}

// Stats returns the totals so far; safe to call while Run runs.
func (in *Ingester) Stats() Stats {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	return in.stats
}

func (in *Ingester) count(f func(*Stats)) {
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	f(&in.stats)
}

// Run consumes until ctx ends; see the package function Run.
func (in *Ingester) Run(ctx context.Context) error {
	const maxFailures = 10
	failures := 0
	for {
		before := in.Stats().Flushes
		err := in.session(ctx)
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return nil // stopped before the session got going
			}
			return err // nil unless the final flush failed
		}
		if in.Stats().Flushes > before {
			failures = 0
		}
		failures++
		in.count(func(s *Stats) { s.Rewinds++ })
		in.metrics.rewinds.Inc()
		if failures >= maxFailures {
			return fmt.Errorf("consuming %v: %d sessions in a row failed: %w", in.cfg.Topics, failures, err)
		}
		wait := min(time.Duration(1<<(failures-1))*250*time.Millisecond, 15*time.Second)
		in.logger.Warn("kafka ingest session ended: resuming from the lake's offsets", "err", err, "in", wait)
		if err := ctxtime.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

// openTables learns the table's columns when the table exists or a schema
// is declared (creating the tables then); otherwise the first flush infers
// them. Each session does, so a restarted session sees a changed table.
func (in *Ingester) openTables(ctx context.Context) error {
	tbl, err := in.sink.Catalog().LoadTable(ctx, in.cfg.Table)
	var dec *decoder
	switch {
	case err == nil:
		if _, err = in.sink.EnsureTable(ctx, ingest.QuarantineTable(in.cfg.Table), ingest.QuarantineSchema()); err == nil {
			dec, err = in.decoderOf(tbl)
		}
	case !errors.Is(err, catalog.ErrNoSuchTable):
		return fmt.Errorf("loading table %v: %w", in.cfg.Table, err)
	case in.cfg.Schema != nil:
		dec, err = in.createTables(ctx, in.cfg.Schema)
	default:
		err = nil
	}
	in.mu.Lock()
	in.dec = dec
	in.mu.Unlock()
	return err
}

// createTables creates the table with sc's columns and its quarantine
// table, unless they exist.
func (in *Ingester) createTables(ctx context.Context, sc *arrow.Schema) (*decoder, error) {
	full, err := ingest.WithLineage(sc)
	if err != nil {
		return nil, fmt.Errorf("preparing schema of %v: %w", in.cfg.Table, err)
	}
	if _, err := in.sink.EnsureTable(ctx, ingest.QuarantineTable(in.cfg.Table), ingest.QuarantineSchema()); err != nil {
		return nil, err
	}
	tbl, err := in.sink.EnsureTable(ctx, in.cfg.Table, full)
	if err != nil {
		return nil, err
	}
	return in.decoderOf(tbl)
}

// decoderOf decodes into the table's own columns, so that every process of
// the group splits records alike whoever created the table: a record is
// accepted or quarantined the same way by whichever consumer reads it.
func (in *Ingester) decoderOf(tbl *table.Table) (*decoder, error) {
	sc, err := ingest.SourceSchema(tbl)
	if err != nil {
		return nil, err
	}
	fields := sc.Fields()
	for i, f := range fields {
		if tf, ok := tbl.Schema().FindFieldByName(f.Name); ok && tf.Required {
			fields[i].Nullable = false
		}
	}
	dec, err := newDecoder(arrow.NewSchema(fields, nil))
	if err != nil {
		return nil, fmt.Errorf("reading records into %v: %w", in.cfg.Table, err)
	}
	return dec, nil
}
