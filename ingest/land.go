package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// Target says where one source lands and under which batch id.
type Target struct {
	Table   table.Identifier // <zone>.<table>; rejects go to QuarantineTable(Table)
	Source  string           // written to _source and to the quarantine's source column
	BatchID string           // names the source's content: the same content must get the same id
	// Progress, when set, is called after each step of the source with the
	// number of records received so far.
	Progress func(received int64)
	// PartitionBy partitions the table when Land creates it, e.g.
	// "day(event_ts)" (see ParsePartitionSpec); an existing table keeps its
	// partitioning.
	PartitionBy []string
}

// Report says what became of one source's records. Accepted + Quarantined
// is always Received.
type Report struct {
	Received    int64 // records read from the source
	Accepted    int64 // of those, the records in the table
	Quarantined int64 // of those, the records in the quarantine table
	Skipped     int64 // of Received, records an earlier run had landed: not written again
	Duration    time.Duration
}

// Opener opens a source. declared is the schema its records must have (the
// source columns of the target table, when that exists); nil lets the
// source declare or infer its own. Land returns its errors as they are.
type Opener func(ctx context.Context, declared *arrow.Schema) (Source, error)

// Land opens the source, reads it to its end and lands it: accepted
// records, stamped with the lineage columns, in t.Table under t.BatchID;
// rejects in the quarantine table under QuarantineBatchID(t.BatchID); both
// tables are created when missing. The two parts are committed together
// (see CommitOnce), and a part whose batch id its table already holds is not
// written again, so running Land twice on the same content lands it once
// and a run that stopped half-way is completed, not doubled. When the
// snapshot summaries show that everything is there, Land returns without
// opening the source.
func (s *Sink) Land(ctx context.Context, open Opener, t Target) (rep Report, err error) {
	start := time.Now()
	st, tbl, err := s.landedState(ctx, t)
	if err != nil {
		return Report{}, err
	}
	if st.done() {
		rep := st.counts
		rep.Skipped, rep.Duration = rep.Received, time.Since(start)
		return rep, nil
	}
	var declared *arrow.Schema
	if tbl != nil {
		if declared, err = SourceSchema(tbl); err != nil {
			return Report{}, err
		}
	}
	src, err := open(ctx, declared)
	if err != nil {
		return Report{}, err
	}
	defer func() {
		if cerr := src.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", t.Source, cerr)
		}
	}()
	l := &landing{sink: s, t: t, st: st, lin: lineage{at: start.UTC().Truncate(time.Microsecond), source: t.Source, batchID: t.BatchID}}
	if err := l.ensureTables(ctx, src.Schema()); err != nil {
		return Report{}, err
	}
	parts, err := l.stage(ctx, src)
	if err != nil {
		return l.rep, err
	}
	if err := l.commit(ctx, parts); err != nil {
		return l.rep, err
	}
	l.rep.Duration = time.Since(start)
	s.logger.Debug("landed source", "source", t.Source, "table", t.Table, "received", l.rep.Received,
		"accepted", l.rep.Accepted, "quarantined", l.rep.Quarantined, "skipped", l.rep.Skipped)
	return l.rep, nil
}

// landing is one run of Land.
type landing struct {
	sink     *Sink
	t        Target
	st       landedState
	lin      lineage
	schema   *arrow.Schema // the data table's: source columns and lineage
	rep      Report
	rejects  []Reject
	position []byte // the source's last Batch.Position
	misfit   error  // ErrIncompatibleSchema: every record goes to quarantine
}

func (l *landing) ensureTables(ctx context.Context, sc *arrow.Schema) error {
	var err error
	if l.schema, err = WithLineage(sc); err != nil {
		return fmt.Errorf("preparing schema of %v: %w", l.t.Table, err)
	}
	tbl, err := l.sink.EnsureTable(ctx, l.t.Table, l.schema, PartitionBy(l.t.PartitionBy...))
	if err != nil {
		return err
	}
	if _, err = l.sink.EnsureTable(ctx, QuarantineTable(l.t.Table), QuarantineSchema()); err != nil {
		return err
	}
	// A source whose columns cannot fit lands in the quarantine whole, each
	// record with the reason: the table keeps its schema and the run goes on.
	if !l.sink.cfg.evolves(l.t.Table) {
		_, changes, err := schemaChanges(tbl.Schema(), l.schema)
		if err == nil && len(changes) > 0 {
			err = fmt.Errorf("%w: the source needs %s, and tables in zone %q keep their schema (only %s evolve)",
				ErrIncompatibleSchema, strings.Join(changes, ", "), l.t.Table[0], evolvingList(l.sink.cfg.EvolvingZones))
		}
		if errors.Is(err, ErrIncompatibleSchema) {
			l.misfit = err
			l.sink.logger.Warn("quarantining source: its schema does not fit the table", "source", l.t.Source, "table", l.t.Table, "err", err)
			return nil
		}
		return err
	}
	if _, err = l.sink.evolve(ctx, tbl, l.schema); errors.Is(err, ErrIncompatibleSchema) {
		l.misfit = err
		l.sink.logger.Warn("quarantining source: its schema does not fit the table", "source", l.t.Source, "table", l.t.Table, "err", err)
		return nil
	}
	return err
}

// stage reads the source to its end and writes the data files of the parts
// that are missing, the quarantine part first: a catalog without
// multi-table commits gets the parts one by one, and then the data commit
// seals the source.
func (l *landing) stage(ctx context.Context, src Source) ([]*Staged, error) {
	var data *Staged
	var err error
	if l.st.data {
		// Only the rejects are missing: read the source again for them.
		for _, rerr := range l.records(ctx, src, false) {
			if rerr != nil {
				return nil, rerr
			}
		}
	} else if l.misfit != nil {
		for _, rerr := range l.records(ctx, src, false) {
			if rerr != nil {
				return nil, rerr
			}
		}
	} else if data, err = l.sink.Stage(ctx, l.t.Table, l.schema, l.records(ctx, src, true), l.t.BatchID, nil); err != nil {
		return nil, err
	}
	if err := l.st.sameSplit(l.rep); err != nil {
		l.sink.discardStaged(ctx, data)
		return nil, fmt.Errorf("completing %s in %v: %w", l.t.Source, l.t.Table, err)
	}
	props := l.summary()
	var parts []*Staged
	if !l.st.quarantine && len(l.rejects) > 0 {
		qrec := l.lin.quarantine(memory.DefaultAllocator, l.rejects)
		q, err := l.sink.Stage(ctx, QuarantineTable(l.t.Table), QuarantineSchema(), one(qrec), QuarantineBatchID(l.t.BatchID), props)
		if err != nil {
			l.sink.discardStaged(ctx, data)
			return nil, err
		}
		parts = append(parts, q)
	}
	if data != nil && data.Rows > 0 {
		data.Props = props
		parts = append(parts, data)
	}
	return parts, nil
}

// summary is what both commits record besides their batch id.
func (l *landing) summary() iceberg.Properties {
	props := iceberg.Properties{
		SourceProperty:      l.t.Source,
		ReceivedProperty:    strconv.FormatInt(l.rep.Received, 10),
		AcceptedProperty:    strconv.FormatInt(l.rep.Accepted, 10),
		QuarantinedProperty: strconv.FormatInt(l.rep.Quarantined, 10),
	}
	if len(l.position) > 0 {
		props[PositionProperty] = string(l.position)
	}
	return props
}

func (l *landing) commit(ctx context.Context, parts []*Staged) error {
	if l.st.data {
		l.rep.Skipped += l.rep.Accepted
	}
	if l.st.quarantine {
		l.rep.Skipped += l.rep.Quarantined
	}
	if len(parts) == 0 {
		return nil
	}
	results, err := l.sink.CommitOnce(ctx, parts...)
	if err != nil {
		return fmt.Errorf("landing %s in %v: %w", l.t.Source, l.t.Table, err)
	}
	for i, r := range results {
		if r.Skipped {
			l.rep.Skipped += parts[i].Rows
		}
	}
	return nil
}

// records yields the source's accepted records with lineage (all of them
// consumed and released when write is false), counting into l.rep,
// collecting the rejects and keeping the source's last position.
func (l *landing) records(ctx context.Context, src Source, write bool) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for {
			b, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("reading %s: %w", l.t.Source, err))
				return
			}
			l.rep.Received += b.Received()
			l.rep.Quarantined += int64(len(b.Rejects))
			l.rejects = append(l.rejects, b.Rejects...)
			l.position = b.Position
			if l.t.Progress != nil {
				l.t.Progress(l.rep.Received)
			}
			if b.Records == nil {
				continue
			}
			if l.misfit != nil {
				err := l.quarantineAll(b)
				b.Records.Release()
				if err != nil {
					yield(nil, err)
					return
				}
				continue
			}
			l.rep.Accepted += b.Records.NumRows()
			if !write {
				b.Records.Release()
				continue
			}
			rec, err := l.lin.stamp(memory.DefaultAllocator, l.schema, b.Records, b.Positions)
			b.Records.Release()
			if err != nil {
				yield(nil, fmt.Errorf("stamping lineage on %s: %w", l.t.Source, err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// quarantineAll turns b's records into rejects with the schema misfit as
// their reason and the record as JSON for the payload.
func (l *landing) quarantineAll(b Batch) error {
	n := int(b.Records.NumRows())
	if len(b.Positions) != n {
		return fmt.Errorf("reading %s: source gave %d positions for %d records", l.t.Source, len(b.Positions), n)
	}
	reason := l.misfit.Error()
	for i := range n {
		raw, err := rowJSON(b.Records, i)
		if err != nil {
			return fmt.Errorf("quarantining %s at %s: %w", l.t.Source, b.Positions[i], err)
		}
		l.rejects = append(l.rejects, Reject{Position: b.Positions[i], Reason: reason, Raw: raw})
	}
	l.rep.Quarantined += int64(n)
	return nil
}

func one(rec arrow.RecordBatch) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) { yield(rec, nil) }
}

// landedState is what the tables already hold of one target.
type landedState struct {
	data, quarantine bool   // the part's batch id is in its table
	known            bool   // counts come from a snapshot summary
	counts           Report // the split recorded in that summary
}

// done: every part the recorded split needs is there.
func (st landedState) done() bool {
	if !st.data && !st.quarantine {
		return false
	}
	dataOK := st.data || (st.known && st.counts.Accepted == 0)
	quarantineOK := st.quarantine || (st.known && st.counts.Quarantined == 0)
	return dataOK && quarantineOK
}

// sameSplit guards completing a half-landed source: reading it again must
// split it as the landed part did, or the parts would not add up.
func (st landedState) sameSplit(rep Report) error {
	if !st.known || (!st.data && !st.quarantine) {
		return nil
	}
	if rep.Accepted != st.counts.Accepted || rep.Quarantined != st.counts.Quarantined {
		return fmt.Errorf("source now splits into %d accepted + %d quarantined, but the landed part recorded %d + %d",
			rep.Accepted, rep.Quarantined, st.counts.Accepted, st.counts.Quarantined)
	}
	return nil
}

// landedState also returns the target table when it exists.
func (s *Sink) landedState(ctx context.Context, t Target) (landedState, *table.Table, error) {
	var st landedState
	var data *table.Table
	for _, p := range []struct {
		ident   table.Identifier
		batchID string
		found   *bool
	}{
		{t.Table, t.BatchID, &st.data},
		{QuarantineTable(t.Table), QuarantineBatchID(t.BatchID), &st.quarantine},
	} {
		tbl, err := s.cat.LoadTable(ctx, p.ident)
		if errors.Is(err, catalog.ErrNoSuchTable) {
			continue
		}
		if err != nil {
			return st, nil, fmt.Errorf("loading table %v: %w", p.ident, err)
		}
		if p.found == &st.data {
			data = tbl
		}
		summary, ok := batchSummary(tbl, p.batchID)
		if !ok {
			continue
		}
		*p.found = true
		if c, ok := countsOf(summary); ok {
			st.counts, st.known = c, true
		}
	}
	return st, data, nil
}

func batchSummary(tbl *table.Table, batchID string) (iceberg.Properties, bool) {
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary != nil && snap.Summary.Properties[BatchIDProperty] == batchID {
			return snap.Summary.Properties, true
		}
	}
	return nil, false
}

func countsOf(props iceberg.Properties) (Report, bool) {
	var r Report
	for _, f := range []struct {
		key string
		dst *int64
	}{{ReceivedProperty, &r.Received}, {AcceptedProperty, &r.Accepted}, {QuarantinedProperty, &r.Quarantined}} {
		n, err := strconv.ParseInt(props[f.key], 10, 64)
		if err != nil {
			return Report{}, false
		}
		*f.dst = n
	}
	return r, true
}

func evolvingList(zones []string) string {
	if len(zones) == 0 {
		return "no zone's tables"
	}
	return "the tables of " + strings.Join(zones, ", ")
}
