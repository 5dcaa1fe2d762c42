package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// errEmptyWindow: the window has no records; Land commits nothing for an
// empty source, so the window is recorded by markEmpty instead.
var errEmptyWindow = errors.New("window has no records")

// markAttempts bounds how often markEmpty starts over after losing a race.
const markAttempts = 5

// LandedWindow is a window the table's history holds, with the split its
// commit recorded (Accepted + Quarantined = Received).
type LandedWindow struct {
	Window
	BatchID                         string
	Received, Accepted, Quarantined int64
}

// history is what the snapshot summaries of a table and its quarantine
// table say about its windows, read once per pass.
type history struct {
	data, quarantine map[string]iceberg.Properties // by batch id
	landed           []LandedWindow                // complete ones, by start
}

func loadHistory(ctx context.Context, sink *ingest.Sink, ident table.Identifier, g grid) (history, error) {
	h := history{data: map[string]iceberg.Properties{}, quarantine: map[string]iceberg.Properties{}}
	prefix := batchPrefix(ident)
	for _, part := range []struct {
		ident table.Identifier
		into  map[string]iceberg.Properties
	}{{ident, h.data}, {ingest.QuarantineTable(ident), h.quarantine}} {
		tbl, err := sink.Catalog().LoadTable(ctx, part.ident)
		if errors.Is(err, catalog.ErrNoSuchTable) {
			continue
		}
		if err != nil {
			return history{}, fmt.Errorf("loading table %v: %w", part.ident, err)
		}
		for _, snap := range tbl.Metadata().Snapshots() {
			if snap.Summary == nil {
				continue
			}
			if id := snap.Summary.Properties[ingest.BatchIDProperty]; strings.HasPrefix(id, prefix) {
				part.into[strings.TrimSuffix(id, "/quarantine")] = snap.Summary.Properties
			}
		}
	}
	for id := range h.data {
		h.addLanded(id, g)
	}
	for id := range h.quarantine {
		if _, ok := h.data[id]; !ok {
			h.addLanded(id, g)
		}
	}
	sort.Slice(h.landed, func(i, j int) bool { return h.landed[i].Start.Before(h.landed[j].Start) })
	return h, nil
}

func (h *history) addLanded(id string, g grid) {
	c, ok := h.complete(id)
	if !ok {
		return
	}
	lw := LandedWindow{BatchID: id, Received: c.Received, Accepted: c.Accepted, Quarantined: c.Quarantined}
	props := h.data[id]
	if props == nil {
		props = h.quarantine[id]
	}
	var pos windowPosition
	if json.Unmarshal([]byte(props[ingest.PositionProperty]), &pos) == nil && pos.End.After(pos.Start) {
		lw.Window = Window{Start: pos.Start.UTC(), End: pos.End.UTC()}
	} else if start, err := time.Parse(time.RFC3339, id[strings.LastIndexByte(id, '/')+1:]); err == nil {
		lw.Window = g.window(start.UTC())
	} else {
		return
	}
	h.landed = append(h.landed, lw)
}

// complete mirrors Land's test of a landed source: every part the recorded
// split needs is there (an all-rejected window has no data part, an empty
// or clean one no quarantine part).
func (h history) complete(batchID string) (ingest.Report, bool) {
	d, inData := h.data[batchID]
	q, inQuarantine := h.quarantine[batchID]
	if !inData && !inQuarantine {
		return ingest.Report{}, false
	}
	props := d
	if !inData {
		props = q
	}
	c, known := countsOf(props)
	dataOK := inData || (known && c.Accepted == 0)
	quarantineOK := inQuarantine || (known && c.Quarantined == 0)
	return c, dataOK && quarantineOK
}

// overlap is a landed window other than w that overlaps it: one landed
// under another Every or Start. Landing w too would double its records.
func (h history) overlap(w Window) (LandedWindow, bool) {
	i := sort.Search(len(h.landed), func(i int) bool { return h.landed[i].End.After(w.Start) })
	for ; i < len(h.landed) && h.landed[i].Start.Before(w.End); i++ {
		if !h.landed[i].Start.Equal(w.Start) || !h.landed[i].End.Equal(w.End) {
			return h.landed[i], true
		}
	}
	return LandedWindow{}, false
}

func countsOf(props iceberg.Properties) (ingest.Report, bool) {
	var r ingest.Report
	for _, f := range []struct {
		key string
		dst *int64
	}{{ingest.ReceivedProperty, &r.Received}, {ingest.AcceptedProperty, &r.Accepted}, {ingest.QuarantinedProperty, &r.Quarantined}} {
		n, err := strconv.ParseInt(props[f.key], 10, 64)
		if err != nil {
			return ingest.Report{}, false
		}
		*f.dst = n
	}
	return r, true
}

// landOnce fetches and lands one window; Land fetches nothing when the
// window is already complete.
func (p *poller) landOnce(ctx context.Context, w Window) (ingest.Report, error) {
	t := ingest.Target{Table: p.cfg.Table, Source: p.source, BatchID: BatchID(p.cfg.Table, w.Start)}
	open := func(ctx context.Context, declared *arrow.Schema) (ingest.Source, error) {
		sp, err := p.fetch.fetch(ctx, w)
		if err != nil {
			return nil, err
		}
		if sp.count() == 0 {
			return nil, errors.Join(errEmptyWindow, sp.remove())
		}
		return openWindow(ctx, sp, w, declared)
	}
	rep, err := p.sink.Land(ctx, open, t)
	if errors.Is(err, errEmptyWindow) {
		err = p.markEmpty(ctx, w, t)
	}
	if err != nil {
		return rep, fmt.Errorf("landing window %v: %w", w, err)
	}
	return rep, nil
}

// markEmpty records an empty window with a commit of one zero-row data
// file (Iceberg has no snapshot without a file), in the data table, or in
// the quarantine table while the data table does not exist (its columns
// come from the first records). The summary says 0 received, so Land and
// history treat the window as complete.
func (p *poller) markEmpty(ctx context.Context, w Window, t ingest.Target) error {
	props := iceberg.Properties{
		ingest.SourceProperty:      t.Source,
		ingest.ReceivedProperty:    "0",
		ingest.AcceptedProperty:    "0",
		ingest.QuarantinedProperty: "0",
		ingest.PositionProperty:    string(positionOf(w)),
	}
	ident, batchID := t.Table, t.BatchID
	if _, err := p.sink.Catalog().LoadTable(ctx, ident); errors.Is(err, catalog.ErrNoSuchTable) {
		ident, batchID = ingest.QuarantineTable(ident), ingest.QuarantineBatchID(batchID)
		if _, err := p.sink.EnsureTable(ctx, ident, ingest.QuarantineSchema()); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("loading table %v: %w", ident, err)
	}
	props[ingest.BatchIDProperty] = batchID
	for attempt := 1; ; attempt++ {
		tbl, err := p.sink.Catalog().LoadTable(ctx, ident)
		if err != nil {
			return fmt.Errorf("loading table %v: %w", ident, err)
		}
		if props, ok := summaryOf(tbl, batchID); ok {
			if props[ingest.ReceivedProperty] != "0" {
				return fmt.Errorf("window %v now has no records, but its landed part in %v recorded %s", w, ident, props[ingest.ReceivedProperty])
			}
			return nil
		}
		files, err := emptyFile(ctx, tbl)
		if err != nil {
			return err
		}
		txn := tbl.NewTransaction()
		if err := txn.AddDataFiles(ctx, files, props, table.WithoutDuplicateCheck()); err != nil {
			p.discard(ctx, tbl, files)
			return fmt.Errorf("recording empty window in %v: %w", ident, err)
		}
		_, err = txn.Commit(ctx)
		switch {
		case err == nil:
			p.logger.Debug("recorded empty window", "table", ident, "window", w)
			return nil
		case errors.Is(err, table.ErrCommitFailed) && attempt < markAttempts:
			p.discard(ctx, tbl, files)
			continue
		}
		// The outcome may be unknown: the batch id tells.
		if again, lerr := p.sink.Catalog().LoadTable(ctx, ident); lerr == nil && ingest.HasBatch(again, batchID) {
			return nil
		}
		return fmt.Errorf("recording empty window in %v: %w", ident, err)
	}
}

// summaryOf is the summary of tbl's snapshot that carries batchID.
func summaryOf(tbl *table.Table, batchID string) (iceberg.Properties, bool) {
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary != nil && snap.Summary.Properties[ingest.BatchIDProperty] == batchID {
			return snap.Summary.Properties, true
		}
	}
	return nil, false
}

// emptyFile writes one Parquet data file without rows in tbl's schema.
func emptyFile(ctx context.Context, tbl *table.Table) ([]iceberg.DataFile, error) {
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		return nil, fmt.Errorf("converting schema of %v to Arrow: %w", tbl.Identifier(), err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	rec := b.NewRecordBatch()
	var files []iceberg.DataFile
	for df, err := range table.WriteRecords(ctx, tbl, sc, func(yield func(arrow.RecordBatch, error) bool) { yield(rec, nil) }) {
		if err != nil {
			return nil, fmt.Errorf("writing empty data file of %v: %w", tbl.Identifier(), err)
		}
		files = append(files, df)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("writing empty data file of %v: the writer wrote none", tbl.Identifier())
	}
	return files, nil
}

// discard removes files no snapshot references, best effort: what is left
// is an orphan that table maintenance removes.
func (p *poller) discard(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		p.logger.Warn("leaving orphan data files", "table", tbl.Identifier(), "files", len(files), "err", err)
		return
	}
	for _, df := range files {
		if err := fs.Remove(df.FilePath()); err != nil {
			p.logger.Warn("leaving orphan data file", "file", df.FilePath(), "err", err)
		}
	}
}
