// Package sdk is what a connector plugin is built on: implement Connector
// (embed Unimplemented so that later protocol versions keep compiling) and
// call Serve from main. The host launches the plugin as a child process and
// talks to it over gRPC (hashicorp/go-plugin); record batches cross as Arrow
// IPC bytes. A plugin only reads its source: the host writes to the lake and
// commits each checkpoint together with the records it covers.
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/apache/arrow-go/v18/arrow"
)

// ProtocolVersion is the plugin protocol this SDK speaks.
const ProtocolVersion = 1

// ErrUnimplemented is returned by the methods of Unimplemented.
var ErrUnimplemented = errors.New("not implemented by this connector")

// Connector is a source connector.
type Connector interface {
	// Info names the connector.
	Info() Info
	// Spec is the JSON Schema of the connector's configuration. The host
	// validates every configuration against it before calling the others.
	Spec() []byte
	// Check tells whether config can reach the source: nil when it can, an
	// error a data engineer can act on when not.
	Check(ctx context.Context, config json.RawMessage) error
	// Discover lists the streams the source offers.
	Discover(ctx context.Context, config json.RawMessage) ([]Stream, error)
	// Read sends the records of the requested streams to w, each stream's
	// records with that stream's Discover schema, and after them a
	// checkpoint: state that, handed back in StreamRead.State, makes a later
	// Read continue right after the records the checkpoint covers. A Read
	// must end each stream with a checkpoint. Errors wrapped with Retryable
	// tell the host to try again from the last committed checkpoint.
	Read(ctx context.Context, config json.RawMessage, streams []StreamRead, w Writer) error
}

// Info names a connector.
type Info struct {
	Name     string // e.g. "postgres"; what `lakehouse plugin` calls it
	Version  string // the connector's own version, e.g. "1.2.0"
	Protocol int    // filled in by the SDK: ProtocolVersion
}

// SyncMode says how a stream is read.
type SyncMode int

const (
	// FullRefresh reads the whole stream on every run; a checkpoint only
	// lets an interrupted run continue.
	FullRefresh SyncMode = 1
	// Incremental reads what changed since the last checkpoint, by a cursor
	// field.
	Incremental SyncMode = 2
)

func (m SyncMode) String() string {
	switch m {
	case FullRefresh:
		return "full_refresh"
	case Incremental:
		return "incremental"
	}
	return "unspecified"
}

// ParseSyncMode reads "full_refresh" or "incremental".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "full_refresh", "full":
		return FullRefresh, nil
	case "incremental":
		return Incremental, nil
	}
	return 0, errors.New("sync mode " + s + " is neither full_refresh nor incremental")
}

// Stream is one table-like collection of the source.
type Stream struct {
	Name         string
	Schema       *arrow.Schema
	PrimaryKey   []string
	CursorFields []string // fields an incremental read can follow; first is the default
	SyncModes    []SyncMode
}

// StreamRead asks Read for one stream.
type StreamRead struct {
	Name        string
	Mode        SyncMode
	CursorField string          // incremental: empty means the stream's first cursor field
	State       json.RawMessage // the last committed checkpoint, nil to start over
}

// Writer receives what Read produces. Its methods are safe for one
// goroutine at a time.
type Writer interface {
	// Records sends one batch of stream. The caller keeps ownership of rec.
	Records(stream string, rec arrow.RecordBatch) error
	// Reject hands over a record that could not be converted; the host
	// lands it in the quarantine table with the records of the next
	// checkpoint. Never drop a record silently.
	Reject(stream string, r Reject) error
	// Checkpoint records that every batch and reject sent so far of stream
	// is covered by state.
	Checkpoint(stream string, state json.RawMessage) error
	// Log relays a message to the host's log.
	Log(level slog.Level, msg string, attrs ...slog.Attr)
}

// Reject is a record a connector could not convert.
type Reject struct {
	Position string // where in the source, e.g. "page 3, record 12"
	Reason   string // why, in words a data engineer can act on
	Raw      []byte // the record as received
}

// Unimplemented answers every method with ErrUnimplemented. Embed it in a
// connector so that it keeps compiling when later protocol versions add
// methods to Connector.
type Unimplemented struct{}

// Info is empty.
func (Unimplemented) Info() Info { return Info{} }

// Spec accepts any JSON object.
func (Unimplemented) Spec() []byte { return []byte(`{"type":"object"}`) }

// Check is ErrUnimplemented.
func (Unimplemented) Check(context.Context, json.RawMessage) error { return ErrUnimplemented }

// Discover is ErrUnimplemented.
func (Unimplemented) Discover(context.Context, json.RawMessage) ([]Stream, error) {
	return nil, ErrUnimplemented
}

// Read is ErrUnimplemented.
func (Unimplemented) Read(context.Context, json.RawMessage, []StreamRead, Writer) error {
	return ErrUnimplemented
}

// retryable marks an error the host should retry.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// Retryable marks err as passing (a lost connection, a rate limit): the
// host retries the read from the last committed checkpoint.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryable{err}
}

// IsRetryable reports whether err was marked with Retryable, on either
// side of the plugin boundary.
func IsRetryable(err error) bool {
	var r retryable
	if errors.As(err, &r) {
		return true
	}
	var re *ReadError
	return errors.As(err, &re) && re.Retryable
}

// ReadError is an error a plugin's Read reported over the protocol.
type ReadError struct {
	Stream    string
	Message   string
	Retryable bool
}

func (e *ReadError) Error() string {
	if e.Stream == "" {
		return e.Message
	}
	return "stream " + e.Stream + ": " + e.Message
}
