package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pluginv1 "github.com/lakehouse-go/lakehouse/plugins/proto/v1"
)

// Client is the host's side of a plugin: a Connector whose methods are
// calls over the protocol. Info and Spec are fetched once by Describe (or
// on first use, with a background context).
type Client struct {
	rpc pluginv1.ConnectorClient

	once sync.Once
	info Info
	spec []byte
	err  error
}

// NewClient talks to the Connector service on conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: pluginv1.NewConnectorClient(conn)}
}

// Describe fetches the plugin's Info and Spec.
func (c *Client) Describe(ctx context.Context) (Info, []byte, error) {
	c.once.Do(func() {
		info, err := c.rpc.Info(ctx, &pluginv1.InfoRequest{})
		if err != nil {
			c.err = fmt.Errorf("asking plugin for its info: %w", rpcError(err))
			return
		}
		c.info = Info{Name: info.GetName(), Version: info.GetVersion(), Protocol: int(info.GetProtocol())}
		spec, err := c.rpc.Spec(ctx, &pluginv1.SpecRequest{})
		if err != nil {
			c.err = fmt.Errorf("asking plugin %s for its spec: %w", c.info.Name, rpcError(err))
			return
		}
		c.spec = spec.GetJsonSchema()
	})
	return c.info, c.spec, c.err
}

// Info is the plugin's Info; empty when it could not be fetched.
func (c *Client) Info() Info {
	info, _, _ := c.Describe(context.Background())
	return info
}

// Spec is the plugin's configuration schema; nil when it could not be
// fetched.
func (c *Client) Spec() []byte {
	_, spec, _ := c.Describe(context.Background())
	return spec
}

// Check asks the plugin whether config reaches its source.
func (c *Client) Check(ctx context.Context, config json.RawMessage) error {
	res, err := c.rpc.Check(ctx, &pluginv1.CheckRequest{Config: config})
	if err != nil {
		return fmt.Errorf("checking: %w", rpcError(err))
	}
	if !res.GetOk() {
		return errors.New(res.GetMessage())
	}
	return nil
}

// Discover asks the plugin for its streams.
func (c *Client) Discover(ctx context.Context, config json.RawMessage) ([]Stream, error) {
	res, err := c.rpc.Discover(ctx, &pluginv1.DiscoverRequest{Config: config})
	if err != nil {
		return nil, fmt.Errorf("discovering: %w", rpcError(err))
	}
	out := make([]Stream, 0, len(res.GetStreams()))
	for _, ps := range res.GetStreams() {
		st, err := streamFromProto(ps)
		if err != nil {
			return nil, fmt.Errorf("discovering: %w", err)
		}
		out = append(out, st)
	}
	return out, nil
}

// Read runs the plugin's Read and hands what arrives to w. Records are
// released after w.Records returns. An error the plugin reported is a
// *ReadError; a broken connection (the plugin crashed) is a gRPC error,
// which IsRetryable does not claim: the host decides.
func (c *Client) Read(ctx context.Context, config json.RawMessage, streams []StreamRead, w Writer) error {
	req := &pluginv1.ReadRequest{Config: config}
	for _, s := range streams {
		req.Streams = append(req.Streams, &pluginv1.StreamRead{Name: s.Name, Mode: pluginv1.SyncMode(s.Mode), CursorField: s.CursorField, State: s.State})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs, err := c.rpc.Read(ctx, req)
	if err != nil {
		return fmt.Errorf("starting read: %w", rpcError(err))
	}
	for {
		msg, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receiving from plugin: %w", rpcError(err))
		}
		if err := dispatch(msg, w); err != nil {
			return err
		}
	}
}

func dispatch(msg *pluginv1.ReadResponse, w Writer) error {
	switch m := msg.GetMessage().(type) {
	case *pluginv1.ReadResponse_Records:
		rec, err := DecodeRecord(memory.DefaultAllocator, m.Records.GetArrowIpc())
		if err != nil {
			return fmt.Errorf("stream %s: %w", m.Records.GetStream(), err)
		}
		defer rec.Release()
		return w.Records(m.Records.GetStream(), rec)
	case *pluginv1.ReadResponse_Reject:
		r := m.Reject
		return w.Reject(r.GetStream(), Reject{Position: r.GetPosition(), Reason: r.GetReason(), Raw: r.GetRaw()})
	case *pluginv1.ReadResponse_Checkpoint:
		return w.Checkpoint(m.Checkpoint.GetStream(), m.Checkpoint.GetState())
	case *pluginv1.ReadResponse_Log:
		var attrs []slog.Attr
		for k, v := range m.Log.GetAttrs() {
			attrs = append(attrs, slog.String(k, v))
		}
		w.Log(levelFromProto(m.Log.GetLevel()), m.Log.GetMessage(), attrs...)
		return nil
	case *pluginv1.ReadResponse_Error:
		return &ReadError{Stream: m.Error.GetStream(), Message: m.Error.GetMessage(), Retryable: m.Error.GetRetryable()}
	}
	return fmt.Errorf("plugin sent an empty or unknown message")
}

// rpcError keeps a status's message and code, without gRPC's framing
// words; status.FromError still finds the status.
func rpcError(err error) error {
	if s, ok := status.FromError(err); ok {
		return statusError{s}
	}
	return err
}

type statusError struct{ s *status.Status }

func (e statusError) Error() string              { return e.s.Message() + " (" + e.s.Code().String() + ")" }
func (e statusError) GRPCStatus() *status.Status { return e.s }
