package ingest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Config says how a Sink writes. Start from DefaultConfig.
type Config struct {
	// Compression is the Parquet codec of the data files of the tables the
	// sink creates (their write.parquet.compression-codec): zstd, snappy,
	// gzip, lz4, brotli or uncompressed. Default zstd.
	Compression string
	// TargetFileSize is the size at which the writer of a table the sink
	// creates starts a new data file (its write.target-file-size-bytes).
	// Default 128 MiB.
	TargetFileSize int64
	// EvolvingZones lists the zones (namespaces) whose tables take the
	// columns a batch adds and the widenings it needs (int to long, float
	// to double, a larger decimal precision); the tables of other zones
	// keep their schema. Default raw.
	EvolvingZones []string
	// Writers is how many Parquet files a stage into an unpartitioned
	// table encodes at once, each on its own core, the batches dealt round
	// robin (arrow-go's encoder uses one core per file). A stage of a
	// single batch writes one file. Default: the number of CPUs Go may
	// use, at most 4. (Partitioned tables use iceberg-go's own fan-out.)
	Writers int
}

// DefaultConfig is the configuration Open starts from.
func DefaultConfig() Config {
	return Config{Compression: "zstd", TargetFileSize: 128 << 20, EvolvingZones: []string{"raw"}, Writers: min(runtime.GOMAXPROCS(0), 4)}
}

// Validate reports a setting the writer would refuse.
func (c Config) Validate() error {
	switch c.Compression {
	case "zstd", "snappy", "gzip", "lz4", "lz4raw", "brotli", "uncompressed":
	default:
		return fmt.Errorf("compression %q: want zstd, snappy, gzip, lz4, lz4raw, brotli or uncompressed", c.Compression)
	}
	if c.TargetFileSize <= 0 {
		return errors.New("target file size must be positive")
	}
	if c.Writers < 1 {
		return errors.New("writers must be at least 1")
	}
	return nil
}

func (c Config) tableProperties() iceberg.Properties {
	return iceberg.Properties{
		table.ParquetCompressionKey:       c.Compression,
		table.WriteTargetFileSizeBytesKey: strconv.FormatInt(c.TargetFileSize, 10),
	}
}

// evolves reports whether ident's schema follows its batches.
func (c Config) evolves(ident table.Identifier) bool {
	return len(ident) > 1 && slices.Contains(c.EvolvingZones, ident[0])
}

// Option changes the Config a Sink starts from.
type Option func(*Config)

// WithConfig replaces the whole configuration.
func WithConfig(cfg Config) Option { return func(c *Config) { *c = cfg } }

// WithCompression sets Config.Compression.
func WithCompression(codec string) Option { return func(c *Config) { c.Compression = codec } }

// WithTargetFileSize sets Config.TargetFileSize.
func WithTargetFileSize(bytes int64) Option { return func(c *Config) { c.TargetFileSize = bytes } }

// WithWriters sets Config.Writers.
func WithWriters(n int) Option { return func(c *Config) { c.Writers = n } }

// WithEvolvingZones sets Config.EvolvingZones; none keeps every schema strict.
func WithEvolvingZones(zones ...string) Option {
	return func(c *Config) { c.EvolvingZones = zones }
}

// TableOption shapes a table EnsureTable creates.
type TableOption func(*tableOptions)

type tableOptions struct{ partitionBy []string }

// PartitionBy partitions a new table by the declared fields, e.g.
// "day(event_ts)", "bucket(16, customer_id)" (see ParsePartitionSpec).
func PartitionBy(fields ...string) TableOption {
	return func(o *tableOptions) { o.partitionBy = append(o.partitionBy, fields...) }
}
