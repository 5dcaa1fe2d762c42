package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pluginv1 "github.com/lakehouse-go/lakehouse/plugins/proto/v1"
)

// grpcServer serves a Connector over the protocol.
type grpcServer struct {
	pluginv1.UnimplementedConnectorServer
	c Connector
}

func (s *grpcServer) Info(context.Context, *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	info := s.c.Info()
	return &pluginv1.InfoResponse{Name: info.Name, Version: info.Version, Protocol: ProtocolVersion}, nil
}

func (s *grpcServer) Spec(context.Context, *pluginv1.SpecRequest) (*pluginv1.SpecResponse, error) {
	return &pluginv1.SpecResponse{JsonSchema: s.c.Spec()}, nil
}

func (s *grpcServer) Check(ctx context.Context, req *pluginv1.CheckRequest) (*pluginv1.CheckResponse, error) {
	if err := s.c.Check(ctx, req.GetConfig()); err != nil {
		return &pluginv1.CheckResponse{Message: err.Error()}, nil
	}
	return &pluginv1.CheckResponse{Ok: true}, nil
}

func (s *grpcServer) Discover(ctx context.Context, req *pluginv1.DiscoverRequest) (*pluginv1.DiscoverResponse, error) {
	streams, err := s.c.Discover(ctx, req.GetConfig())
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	out := &pluginv1.DiscoverResponse{}
	for _, st := range streams {
		ps, err := streamToProto(st)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		out.Streams = append(out.Streams, ps)
	}
	return out, nil
}

func (s *grpcServer) Read(req *pluginv1.ReadRequest, srv pluginv1.Connector_ReadServer) error {
	var streams []StreamRead
	for _, r := range req.GetStreams() {
		streams = append(streams, StreamRead{Name: r.GetName(), Mode: SyncMode(r.GetMode()), CursorField: r.GetCursorField(), State: r.GetState()})
	}
	w := &streamWriter{srv: srv}
	err := s.c.Read(srv.Context(), req.GetConfig(), streams, w)
	if err == nil || w.err != nil {
		return w.err
	}
	// The error travels as a message, not a gRPC status, so that its
	// words and whether to retry reach the host as they are.
	return srv.Send(&pluginv1.ReadResponse{Message: &pluginv1.ReadResponse_Error{Error: &pluginv1.Error{
		Message: err.Error(), Retryable: IsRetryable(err),
	}}})
}

// streamWriter sends what Read produces.
type streamWriter struct {
	srv pluginv1.Connector_ReadServer
	buf []byte
	err error // the first send error: the host is gone
}

func (w *streamWriter) send(m *pluginv1.ReadResponse) error {
	if w.err != nil {
		return w.err
	}
	if err := w.srv.Send(m); err != nil {
		w.err = fmt.Errorf("sending to the host: %w", err)
	}
	return w.err
}

func (w *streamWriter) Records(stream string, rec arrow.RecordBatch) error {
	b, err := EncodeRecord(w.buf, rec)
	if err != nil {
		return err
	}
	w.buf = b // Send marshals before it returns, so the buffer can be reused
	return w.send(&pluginv1.ReadResponse{Message: &pluginv1.ReadResponse_Records{Records: &pluginv1.Records{Stream: stream, ArrowIpc: b}}})
}

func (w *streamWriter) Reject(stream string, r Reject) error {
	return w.send(&pluginv1.ReadResponse{Message: &pluginv1.ReadResponse_Reject{Reject: &pluginv1.Reject{
		Stream: stream, Position: r.Position, Reason: r.Reason, Raw: r.Raw}}})
}

func (w *streamWriter) Checkpoint(stream string, state json.RawMessage) error {
	if !json.Valid(state) {
		return fmt.Errorf("checkpoint of stream %s: state is not JSON", stream)
	}
	return w.send(&pluginv1.ReadResponse{Message: &pluginv1.ReadResponse_Checkpoint{Checkpoint: &pluginv1.Checkpoint{Stream: stream, State: state}}})
}

func (w *streamWriter) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	m := &pluginv1.Log{Level: levelToProto(level), Message: msg, Attrs: map[string]string{}}
	for _, a := range attrs {
		m.Attrs[a.Key] = a.Value.String()
	}
	_ = w.send(&pluginv1.ReadResponse{Message: &pluginv1.ReadResponse_Log{Log: m}}) // a lost host shows on the next Records
}

func levelToProto(l slog.Level) pluginv1.Log_Level {
	switch {
	case l >= slog.LevelError:
		return pluginv1.Log_LEVEL_ERROR
	case l >= slog.LevelWarn:
		return pluginv1.Log_LEVEL_WARN
	case l >= slog.LevelInfo:
		return pluginv1.Log_LEVEL_INFO
	}
	return pluginv1.Log_LEVEL_DEBUG
}

func levelFromProto(l pluginv1.Log_Level) slog.Level {
	switch l {
	case pluginv1.Log_LEVEL_ERROR:
		return slog.LevelError
	case pluginv1.Log_LEVEL_WARN:
		return slog.LevelWarn
	case pluginv1.Log_LEVEL_DEBUG:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func streamToProto(st Stream) (*pluginv1.Stream, error) {
	if st.Schema == nil {
		return nil, fmt.Errorf("stream %s has no schema", st.Name)
	}
	sc, err := EncodeSchema(st.Schema)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", st.Name, err)
	}
	ps := &pluginv1.Stream{Name: st.Name, ArrowSchema: sc, PrimaryKey: st.PrimaryKey, CursorFields: st.CursorFields}
	for _, m := range st.SyncModes {
		ps.SyncModes = append(ps.SyncModes, pluginv1.SyncMode(m))
	}
	return ps, nil
}

func streamFromProto(ps *pluginv1.Stream) (Stream, error) {
	sc, err := DecodeSchema(ps.GetArrowSchema())
	if err != nil {
		return Stream{}, fmt.Errorf("stream %s: %w", ps.GetName(), err)
	}
	st := Stream{Name: ps.GetName(), Schema: sc, PrimaryKey: ps.GetPrimaryKey(), CursorFields: ps.GetCursorFields()}
	for _, m := range ps.GetSyncModes() {
		st.SyncModes = append(st.SyncModes, SyncMode(m))
	}
	return st, nil
}
