package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// state is a table's checkpoint: the key of the last row read, as text
// (PostgreSQL casts it back to the key columns' types), or Done for a view
// read in one go.
type state struct {
	After []string `json:"after,omitempty"`
	Done  bool     `json:"done,omitempty"`
}

// keyCol is one column of the order a table is read in.
type keyCol struct {
	expr string // SQL expression, e.g. "order_id" or ctid
	typ  string // SQL type to cast the state's text to
}

// plan is how one table is read: its key order, if any, and the query.
type plan struct {
	t      *tableInfo
	keys   []keyCol // empty: no order, read in one go
	filter string   // a condition every read row meets, or empty
}

func newPlan(t *tableInfo, sr sdk.StreamRead, batch int) (plan, error) {
	p := plan{t: t}
	var names []string
	switch {
	case sr.Mode == sdk.Incremental:
		cursor := sr.CursorField
		if cursor == "" {
			cursor = t.cursor
		}
		if cursor == "" || len(t.pk) == 0 {
			return plan{}, fmt.Errorf("table %q: incremental reads need a configured cursor column and a primary key", t.name)
		}
		names = append([]string{cursor}, without(t.pk, cursor)...)
		p.filter = "t." + pgx.Identifier{cursor}.Sanitize() + " IS NOT NULL"
	case len(t.pk) > 0:
		names = t.pk
	case t.kind == 'r' || t.kind == 'p' || t.kind == 'm':
		p.keys = []keyCol{{expr: "t.ctid", typ: "tid"}}
	}
	for _, n := range names {
		c := t.col(n)
		if c == nil {
			return plan{}, fmt.Errorf("table %q has no column %q", t.name, n)
		}
		// Qualified, so that ORDER BY sorts by the column and not by the
		// output column of the same name, which may be cast to text.
		p.keys = append(p.keys, keyCol{expr: "t." + pgx.Identifier{n}.Sanitize(), typ: c.format})
	}
	return p, nil
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// sql selects the columns, then the key as text, after the key in $1…$n
// (from the start when first), in key order, batch rows at a time.
func (p plan) sql(batch int, first bool) string {
	var sel, keys, params, order, where []string
	for _, c := range p.t.cols {
		sel = append(sel, c.selected)
	}
	for i, k := range p.keys {
		sel = append(sel, fmt.Sprintf("%s::text AS __key%d", k.expr, i))
		keys = append(keys, k.expr)
		params = append(params, fmt.Sprintf("$%d::text::%s", i+1, k.typ))
		order = append(order, k.expr)
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + pgx.Identifier{p.t.schema, p.t.name}.Sanitize() + " AS t"
	if p.filter != "" {
		where = append(where, p.filter)
	}
	if len(p.keys) > 0 && !first {
		where = append(where, "("+strings.Join(keys, ", ")+") > ("+strings.Join(params, ", ")+")")
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if len(p.keys) == 0 {
		return q
	}
	return q + " ORDER BY " + strings.Join(order, ", ") + fmt.Sprintf(" LIMIT %d", batch)
}

// readTable sends a table batch by batch, each batch followed by its
// checkpoint.
func readTable(ctx context.Context, conn *pgx.Conn, cfg Config, t *tableInfo, sr sdk.StreamRead, w sdk.Writer) error {
	p, err := newPlan(t, sr, cfg.BatchSize)
	if err != nil {
		return err
	}
	var st state
	if len(sr.State) > 0 {
		if err := json.Unmarshal(sr.State, &st); err != nil {
			return fmt.Errorf("parsing state %s: %w", sr.State, err)
		}
	}
	if len(st.After) > 0 && len(st.After) != len(p.keys) {
		return fmt.Errorf("state %s has %d key values, the table's read order has %d", sr.State, len(st.After), len(p.keys))
	}
	schema := t.arrowSchema()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	sent := false
	for {
		args := []any{}
		query := p.sql(cfg.BatchSize, len(st.After) == 0)
		for _, v := range st.After {
			args = append(args, v)
		}
		n, last, err := p.batch(ctx, conn, query, args, b, w, cfg.BatchSize)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		sent = true
		if len(p.keys) == 0 {
			st = state{Done: true}
		} else {
			st.After = last
		}
		if err := checkpoint(w, t.name, st); err != nil {
			return err
		}
		if len(p.keys) == 0 || n < int64(cfg.BatchSize) {
			break
		}
	}
	if !sent {
		return checkpoint(w, t.name, st) // nothing new: the same state again
	}
	return nil
}

func checkpoint(w sdk.Writer, stream string, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return w.Checkpoint(stream, b)
}

// batch runs one query and sends its rows, batch rows per record batch (a
// query without LIMIT may send several). It returns the rows read and the
// last row's key as text.
func (p plan) batch(ctx context.Context, conn *pgx.Conn, query string, args []any, b *array.RecordBuilder, w sdk.Writer, batch int) (int64, []string, error) {
	bindings := make([]binding, len(p.t.cols))
	dests := make([]any, 0, len(p.t.cols)+len(p.keys))
	for i, c := range p.t.cols {
		bd, err := bind(c.arrow)
		if err != nil {
			return 0, nil, fmt.Errorf("column %q: %w", c.name, err)
		}
		bindings[i] = bd
		dests = append(dests, bd.dest)
	}
	keys := make([]pgtype.Text, len(p.keys))
	for i := range keys {
		dests = append(dests, &keys[i])
	}
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return 0, nil, sdk.Retryable(fmt.Errorf("querying: %w", err))
	}
	defer rows.Close()
	var n, inBatch int64
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return n, nil, fmt.Errorf("scanning row %d: %w", n+1, err)
		}
		for i, bd := range bindings {
			if err := bd.add(b.Field(i)); err != nil {
				return n, nil, fmt.Errorf("column %q, row %d: %w", p.t.cols[i].name, n+1, err)
			}
		}
		n++
		inBatch++
		if len(p.keys) == 0 && inBatch == int64(batch) {
			if err := send(w, p.t.name, b); err != nil {
				return n, nil, err
			}
			inBatch = 0
		}
	}
	if err := rows.Err(); err != nil {
		return n, nil, sdk.Retryable(fmt.Errorf("reading rows: %w", err))
	}
	if inBatch > 0 {
		if err := send(w, p.t.name, b); err != nil {
			return n, nil, err
		}
	}
	last := make([]string, len(keys))
	for i, k := range keys {
		last[i] = k.String
	}
	return n, last, nil
}

func send(w sdk.Writer, stream string, b *array.RecordBuilder) error {
	rec := b.NewRecordBatch()
	defer rec.Release()
	return w.Records(stream, rec)
}
