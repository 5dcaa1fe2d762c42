// Command minimal is the smallest useful connector plugin: one stream of
// counted numbers, resumable from its checkpoint. Read it next to
// plugins/GUIDE.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

type config struct {
	Rows  int64 `json:"rows"`
	Batch int64 `json:"batch"`
}

type state struct {
	Next int64 `json:"next"`
}

var schema = arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}, {Name: "square", Type: arrow.PrimitiveTypes.Int64}}, nil)

type numbers struct{ sdk.Unimplemented }

func (numbers) Info() sdk.Info { return sdk.Info{Name: "minimal", Version: "1.0.0"} }

func (numbers) Spec() []byte {
	return []byte(`{"type":"object","required":["rows"],"additionalProperties":false,
	 "properties":{"rows":{"type":"integer","minimum":0},"batch":{"type":"integer","minimum":1}}}`)
}

func (numbers) Check(context.Context, json.RawMessage) error { return nil }

func (numbers) Discover(context.Context, json.RawMessage) ([]sdk.Stream, error) {
	return []sdk.Stream{{Name: "numbers", Schema: schema, PrimaryKey: []string{"n"}, CursorFields: []string{"n"},
		SyncModes: []sdk.SyncMode{sdk.FullRefresh, sdk.Incremental}}}, nil
}

func (numbers) Read(ctx context.Context, raw json.RawMessage, streams []sdk.StreamRead, w sdk.Writer) error {
	cfg, st := config{Batch: 1000}, state{}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("parsing config: %w", err)
	}
	if len(streams[0].State) > 0 {
		if err := json.Unmarshal(streams[0].State, &st); err != nil {
			return fmt.Errorf("parsing state: %w", err)
		}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for st.Next < cfg.Rows && ctx.Err() == nil {
		for i := st.Next; i < min(st.Next+cfg.Batch, cfg.Rows); i++ {
			b.Field(0).(*array.Int64Builder).Append(i)
			b.Field(1).(*array.Int64Builder).Append(i * i)
		}
		rec := b.NewRecordBatch()
		st.Next += rec.NumRows()
		err := w.Records("numbers", rec)
		rec.Release()
		if err != nil {
			return err
		}
		next, _ := json.Marshal(st)
		if err := w.Checkpoint("numbers", next); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func main() { sdk.Serve(numbers{}) }
