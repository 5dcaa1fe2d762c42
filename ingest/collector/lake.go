package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// errNotReady: the table's schema is not known yet (the catalog has not
// answered since the start).
var errNotReady = errors.New("collector not ready: the table's schema is not known yet")

// lake is what the collector needs of ingest.Sink; tests give a fake.
type lake interface {
	// tableSchema returns the source columns of ident. With create set, a
	// missing table and its quarantine table are created from it first;
	// without, a missing table gives nil.
	tableSchema(ctx context.Context, ident table.Identifier, create *arrow.Schema) (*arrow.Schema, error)
	land(ctx context.Context, open ingest.Opener, t ingest.Target) (ingest.Report, error)
}

type sinkLake struct{ sink *ingest.Sink }

func (l sinkLake) tableSchema(ctx context.Context, ident table.Identifier, create *arrow.Schema) (*arrow.Schema, error) {
	if create == nil {
		tbl, err := l.sink.Catalog().LoadTable(ctx, ident)
		if errors.Is(err, catalog.ErrNoSuchTable) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("loading table %v: %w", ident, err)
		}
		return ingest.SourceSchema(tbl)
	}
	sc, err := ingest.WithLineage(create)
	if err != nil {
		return nil, fmt.Errorf("preparing schema of %v: %w", ident, err)
	}
	tbl, err := l.sink.EnsureTable(ctx, ident, sc)
	if err != nil {
		return nil, err
	}
	if _, err := l.sink.EnsureTable(ctx, ingest.QuarantineTable(ident), ingest.QuarantineSchema()); err != nil {
		return nil, err
	}
	return ingest.SourceSchema(tbl)
}

func (l sinkLake) land(ctx context.Context, open ingest.Opener, t ingest.Target) (ingest.Report, error) {
	return l.sink.Land(ctx, open, t)
}

// schemaState is the schema events are checked against.
type schemaState struct {
	mu       sync.Mutex
	resolved bool          // the catalog answered
	sc       *arrow.Schema // nil after resolving: inferred from the first valid events
}

func (s *schemaState) current() (*arrow.Schema, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sc, s.resolved
}

// resolveSchema learns the table's columns, creating the table from the
// declared schema when it is missing.
func (c *Collector) resolveSchema(ctx context.Context) error {
	sc, err := c.lake.tableSchema(ctx, c.cfg.Table, c.cfg.Schema)
	if err != nil {
		return err
	}
	c.schema.mu.Lock()
	defer c.schema.mu.Unlock()
	if !c.schema.resolved || c.schema.sc == nil {
		c.schema.sc, c.schema.resolved = sc, true
	}
	return nil
}

// schemaFor is the schema to check a request's candidates against. When
// there is none yet, it is inferred from them (through the files source)
// and the table is created with it before the request is acknowledged.
func (c *Collector) schemaFor(ctx context.Context, name string, candidates []acceptedEvent) (*arrow.Schema, error) {
	if sc, ok := c.schema.current(); !ok {
		return nil, errNotReady
	} else if sc != nil || len(candidates) == 0 {
		return sc, nil
	}
	c.schema.mu.Lock() // held across the catalog calls: one request infers
	defer c.schema.mu.Unlock()
	if c.schema.sc != nil {
		return c.schema.sc, nil
	}
	conv, err := convert(ctx, c.tmp, name+"-infer", candidates, nil, false)
	if err != nil {
		return nil, fmt.Errorf("inferring schema: %w", err)
	}
	sc, err := c.lake.tableSchema(ctx, c.cfg.Table, conv.schema)
	if err != nil {
		return nil, err
	}
	c.logger.Info("created table from the first events' inferred schema", "columns", sc.NumFields())
	c.schema.sc = sc
	return sc, nil
}
