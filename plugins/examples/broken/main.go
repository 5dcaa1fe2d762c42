// Command broken is a deliberately non-conforming connector: the
// conformance suite (plugins/sdk/plugintest) must fail it, with messages
// that say what is wrong. Do not copy it.
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

type broken struct {
	sdk.Unimplemented
	discovered *int
}

// Info forgets the version.
func (broken) Info() sdk.Info { return sdk.Info{Name: "broken"} }

// Spec is not a JSON Schema: "objekt" is no type.
func (broken) Spec() []byte { return []byte(`{"type":"objekt"}`) }

func (broken) Check(context.Context, json.RawMessage) error { return nil }

// Discover changes the id column's type from one call to the next.
func (b broken) Discover(context.Context, json.RawMessage) ([]sdk.Stream, error) {
	*b.discovered++
	return []sdk.Stream{{Name: "items", Schema: b.schema(*b.discovered), PrimaryKey: []string{"id"},
		SyncModes: []sdk.SyncMode{sdk.FullRefresh}}}, nil
}

func (broken) schema(call int) *arrow.Schema {
	typ := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if call%2 == 0 {
		typ = arrow.PrimitiveTypes.Int32
	}
	return arrow.NewSchema([]arrow.Field{{Name: "id", Type: typ}}, nil)
}

// Read ignores the state it is given, so a resumed read starts over, and
// sends a last batch after its last checkpoint.
func (b broken) Read(_ context.Context, _ json.RawMessage, _ []sdk.StreamRead, w sdk.Writer) error {
	bld := array.NewInt64Builder(memory.DefaultAllocator)
	defer bld.Release()
	for batch := range int64(3) {
		for i := range int64(10) {
			bld.Append(batch*10 + i)
		}
		ids := bld.NewArray()
		rec := array.NewRecordBatch(b.schema(1), []arrow.Array{ids}, int64(ids.Len()))
		ids.Release()
		err := w.Records("items", rec)
		rec.Release()
		if err != nil {
			return err
		}
		if batch < 2 {
			if err := w.Checkpoint("items", json.RawMessage(fmt.Appendf(nil, `{"batch":%d}`, batch))); err != nil {
				return err
			}
		}
	}
	return nil
}

func main() { sdk.Serve(broken{discovered: new(int)}) }
