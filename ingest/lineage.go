package ingest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
)

// Lineage columns: every table Land writes carries them after the source's
// own columns.
const (
	ColIngestedAt     = "_ingested_at"     // timestamptz: when the run started
	ColSource         = "_source"          // where the record came from, e.g. a file path
	ColBatchID        = "_batch_id"        // the batch id of the commit that landed it
	ColSourcePosition = "_source_position" // where in the source, e.g. "line 12"
)

// QuarantineSuffix names the table that holds a table's rejects:
// <zone>.<table>__quarantine.
const QuarantineSuffix = "__quarantine"

// Snapshot-summary keys Land records next to BatchIDProperty, in the data
// and the quarantine commit alike, so that a later run knows a source's
// split without reading it again.
const (
	SourceProperty      = "lakehouse.source"
	ReceivedProperty    = "lakehouse.rows-received"
	AcceptedProperty    = "lakehouse.rows-accepted"
	QuarantinedProperty = "lakehouse.rows-quarantined"
	PositionProperty    = "lakehouse.source-position" // the source's Batch.Position after its last step
)

var utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func lineageFields() []arrow.Field {
	return []arrow.Field{
		{Name: ColIngestedAt, Type: utcMicros},
		{Name: ColSource, Type: arrow.BinaryTypes.String},
		{Name: ColBatchID, Type: arrow.BinaryTypes.String},
		{Name: ColSourcePosition, Type: arrow.BinaryTypes.String},
	}
}

// WithLineage is sc with the lineage columns appended. A source column that
// already has a lineage column's name is an error.
func WithLineage(sc *arrow.Schema) (*arrow.Schema, error) {
	fields := sc.Fields()
	for _, lf := range lineageFields() {
		if sc.HasField(lf.Name) {
			return nil, fmt.Errorf("source column %q collides with a lineage column", lf.Name)
		}
		fields = append(fields, lf)
	}
	return arrow.NewSchema(fields, nil), nil
}

// SourceSchema is the source part of a landed table's schema: its columns
// without the lineage columns, as Arrow types. Sources use it as their
// declared schema when the table exists.
func SourceSchema(tbl *table.Table) (*arrow.Schema, error) {
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	if err != nil {
		return nil, fmt.Errorf("converting schema of %v to Arrow: %w", tbl.Identifier(), err)
	}
	lineage := map[string]bool{}
	for _, lf := range lineageFields() {
		lineage[lf.Name] = true
	}
	var fields []arrow.Field
	for _, f := range sc.Fields() {
		if !lineage[f.Name] {
			f.Nullable = true
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil), nil
}

// QuarantineTable is where ident's rejects land.
func QuarantineTable(ident table.Identifier) table.Identifier {
	q := append(table.Identifier{}, ident...)
	q[len(q)-1] += QuarantineSuffix
	return q
}

// QuarantineBatchID is the batch id of the quarantine commit that goes with
// the data commit of batchID.
func QuarantineBatchID(batchID string) string { return batchID + "/quarantine" }

// QuarantineSchema is the schema of every quarantine table.
func QuarantineSchema() *arrow.Schema {
	str := arrow.BinaryTypes.String
	return arrow.NewSchema([]arrow.Field{
		{Name: "received_at", Type: utcMicros},
		{Name: "source", Type: str},
		{Name: "position", Type: str},
		{Name: "reason", Type: str},
		{Name: "raw_payload", Type: str},
		{Name: "batch_id", Type: str},
	}, nil)
}

// lineage stamps one landing's records.
type lineage struct {
	at      time.Time
	source  string
	batchID string
}

// stamp returns rec with the lineage columns appended (sc is rec's schema
// with lineage). It does not release rec.
func (l lineage) stamp(mem memory.Allocator, sc *arrow.Schema, rec arrow.RecordBatch, positions []string) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	if len(positions) != n {
		return nil, fmt.Errorf("source gave %d positions for %d records", len(positions), n)
	}
	ts := array.NewTimestampBuilder(mem, utcMicros)
	defer ts.Release()
	src := array.NewStringBuilder(mem)
	defer src.Release()
	bid := array.NewStringBuilder(mem)
	defer bid.Release()
	pos := array.NewStringBuilder(mem)
	defer pos.Release()
	at := arrow.Timestamp(l.at.UnixMicro())
	ts.Reserve(n)
	src.Reserve(n)
	bid.Reserve(n)
	pos.Reserve(n)
	for i := range n {
		ts.UnsafeAppend(at)
		src.Append(l.source)
		bid.Append(l.batchID)
		pos.Append(positions[i])
	}
	cols := append([]arrow.Array{}, rec.Columns()...)
	added := []arrow.Array{ts.NewArray(), src.NewArray(), bid.NewArray(), pos.NewArray()}
	defer func() {
		for _, a := range added {
			a.Release()
		}
	}()
	return array.NewRecordBatch(sc, append(cols, added...), int64(n)), nil
}

// quarantine builds the quarantine records of rejects.
func (l lineage) quarantine(mem memory.Allocator, rejects []Reject) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, QuarantineSchema())
	defer b.Release()
	at := arrow.Timestamp(l.at.UnixMicro())
	for _, r := range rejects {
		b.Field(0).(*array.TimestampBuilder).Append(at)
		b.Field(1).(*array.StringBuilder).Append(l.source)
		b.Field(2).(*array.StringBuilder).Append(r.Position)
		reason, raw := r.Reason, r.Raw
		if !utf8.Valid(raw) {
			reason += " (raw payload is not valid UTF-8: invalid bytes written as \\xNN)"
		}
		b.Field(3).(*array.StringBuilder).Append(reason)
		b.Field(4).(*array.StringBuilder).Append(escapeInvalidUTF8(raw))
		b.Field(5).(*array.StringBuilder).Append(l.batchID)
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
			sb.WriteString(`\x`)
			sb.WriteString(strconv.FormatUint(uint64(raw[0])|0x100, 16)[1:])
		} else {
			sb.Write(raw[:size])
		}
		raw = raw[size:]
	}
	return sb.String()
}

// rowJSON is row i of rec as a JSON object, columns in schema order.
func rowJSON(rec arrow.RecordBatch, i int) ([]byte, error) {
	buf := []byte{'{'}
	for j, f := range rec.Schema().Fields() {
		if j > 0 {
			buf = append(buf, ',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(rec.Column(j).GetOneForMarshal(i))
		if err != nil {
			return nil, fmt.Errorf("encoding column %q: %w", f.Name, err)
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}
