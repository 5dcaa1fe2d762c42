package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pluginv1 "github.com/lakehouse-go/lakehouse/plugins/proto/v1"
)

func nestedSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
}

const nestedRows = `[{"id":1,"price":"12.30","at":"2018-01-02T03:04:05.123456Z","tags":["a","b"]},{"id":2,"price":null,"at":null,"tags":null}]`

func buildNested() (arrow.RecordBatch, error) {
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, nestedSchema(), strings.NewReader(nestedRows))
	return rec, err
}

func nestedRecord(t *testing.T) arrow.RecordBatch {
	t.Helper()
	rec, err := buildNested()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestArrowIPCRoundTripsNestedTypesAndNulls(t *testing.T) {
	rec := nestedRecord(t)
	defer rec.Release()
	b, err := EncodeRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRecord(memory.DefaultAllocator, b)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if !array.RecordEqual(rec, got) {
		t.Fatalf("decoded %v, want %v", got, rec)
	}
	sc, err := EncodeSchema(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSchema(sc)
	if err != nil || !back.Equal(rec.Schema()) {
		t.Fatalf("schema round trip = %v, %v", back, err)
	}
}

// fake is a connector whose Read sends one batch, a log, a checkpoint and
// then fails with readErr.
type fake struct {
	Unimplemented
	readErr error
}

func (f fake) Info() Info { return Info{Name: "fake", Version: "0.1"} }

func (f fake) Discover(context.Context, json.RawMessage) ([]Stream, error) {
	return []Stream{{Name: "s", Schema: nestedSchema(), PrimaryKey: []string{"id"}, SyncModes: []SyncMode{FullRefresh}}}, nil
}

func (f fake) Read(_ context.Context, _ json.RawMessage, streams []StreamRead, w Writer) error {
	rec, err := buildNested()
	if err != nil {
		return err
	}
	defer rec.Release()
	if err := w.Records("s", rec); err != nil {
		return err
	}
	w.Log(slog.LevelWarn, "halfway", slog.String("state", string(streams[0].State)))
	if err := w.Reject("s", Reject{Position: "line 3", Reason: "price is not a number", Raw: []byte(`{"price":"x"}`)}); err != nil {
		return err
	}
	if err := w.Checkpoint("s", json.RawMessage(`{"after":2}`)); err != nil {
		return err
	}
	return f.readErr
}

// dial serves c over an in-memory gRPC connection and returns its client.
func dial(t *testing.T, c Connector) *Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pluginv1.RegisterConnectorServer(srv, &grpcServer{c: c})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(conn)
}

// events records what a Read delivered.
type events struct {
	recs    []string
	rejects []string
	logs    []string
	state   []string
}

func (e *events) Records(stream string, rec arrow.RecordBatch) error {
	b, _ := json.Marshal(rec)
	e.recs = append(e.recs, stream+":"+string(b))
	return nil
}
func (e *events) Reject(stream string, r Reject) error {
	e.rejects = append(e.rejects, stream+":"+r.Position+":"+r.Reason+":"+string(r.Raw))
	return nil
}
func (e *events) Checkpoint(stream string, s json.RawMessage) error {
	e.state = append(e.state, stream+":"+string(s))
	return nil
}
func (e *events) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	e.logs = append(e.logs, level.String()+" "+msg+" "+attrs[0].String())
}

func TestTheProtocolCarriesBatchesRejectsLogsCheckpointsAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		readErr   error
		retryable bool
	}{
		{"a read that ends well returns nil", nil, false},
		{"a failed read keeps its message and is not retryable", errors.New("table vanished"), false},
		{"a retryable failure stays retryable across the boundary", Retryable(errors.New("connection reset")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, fake{readErr: tc.readErr})
			info, _, err := c.Describe(context.Background())
			if err != nil || info != (Info{Name: "fake", Version: "0.1", Protocol: ProtocolVersion}) {
				t.Fatalf("Describe = %+v, %v", info, err)
			}
			streams, err := c.Discover(context.Background(), nil)
			if err != nil || len(streams) != 1 || !streams[0].Schema.Equal(nestedSchema()) {
				t.Fatalf("Discover = %+v, %v", streams, err)
			}
			var ev events
			err = c.Read(context.Background(), nil, []StreamRead{{Name: "s", Mode: FullRefresh, State: json.RawMessage(`{"after":0}`)}}, &ev)
			want := nestedRecord(t)
			wantJSON, _ := json.Marshal(want)
			want.Release()
			if len(ev.recs) != 1 || ev.recs[0] != "s:"+string(wantJSON) {
				t.Errorf("records = %v", ev.recs)
			}
			if len(ev.logs) != 1 || ev.logs[0] != `WARN halfway state={"after":0}` {
				t.Errorf("logs = %v", ev.logs)
			}
			if len(ev.rejects) != 1 || ev.rejects[0] != `s:line 3:price is not a number:{"price":"x"}` {
				t.Errorf("rejects = %v", ev.rejects)
			}
			if len(ev.state) != 1 || ev.state[0] != `s:{"after":2}` {
				t.Errorf("checkpoints = %v", ev.state)
			}
			switch {
			case tc.readErr == nil && err != nil:
				t.Fatalf("Read = %v", err)
			case tc.readErr != nil && (err == nil || err.Error() != tc.readErr.Error() || IsRetryable(err) != tc.retryable):
				t.Fatalf("Read = %v (retryable %t), want %q (retryable %t)", err, IsRetryable(err), tc.readErr, tc.retryable)
			}
		})
	}
}

func TestAPluginNoticesItsHostIsGone(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(100)
	done := make(chan bool, 1)
	go func() {
		done <- waitForParentExit(context.Background(), 100, func() int { return int(ppid.Load()) }, time.Millisecond)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("reported the host gone while it runs")
	default:
	}
	ppid.Store(1) // re-parented to init
	select {
	case gone := <-done:
		if !gone {
			t.Fatal("returned false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not notice the re-parenting")
	}
}
