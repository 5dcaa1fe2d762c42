// Package http is the bundled generic REST/JSON API connector: each
// configured endpoint is a stream whose records are the objects of a JSON
// array in the response, converted to the declared field types. It
// authenticates (bearer, basic, API key), paginates (page number, offset,
// cursor token, Link header), keeps to a request rate, retries 429s (after
// Retry-After), 5xx and network errors, and reads incrementally by an
// updated-at field. Each page is one batch and one checkpoint; a record
// that does not fit the declared types is rejected (sdk.Reject) whole,
// with the reason, and lands in the quarantine table.
package http

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Version is the connector's version.
const Version = "1.0.0"

// Connector reads JSON APIs.
type Connector struct{ sdk.Unimplemented }

// Info names the connector.
func (Connector) Info() sdk.Info { return sdk.Info{Name: "http", Version: Version} }

// Spec is the configuration's JSON Schema.
func (Connector) Spec() []byte { return []byte(spec) }

// Check fetches the first page of every stream.
func (Connector) Check(ctx context.Context, raw json.RawMessage) error {
	cfg, err := validConfig(raw)
	if err != nil {
		return err
	}
	f := newFetcher(cfg, nil)
	for _, s := range cfg.Streams {
		r, err := newStreamReader(f, s, sdk.StreamRead{Name: s.Name, Mode: sdk.FullRefresh})
		if err != nil {
			return err
		}
		u, err := r.url()
		if err != nil {
			return err
		}
		res, err := f.get(ctx, u)
		if err != nil {
			return fmt.Errorf("stream %s: fetching %s: %w", s.Name, redact(u), err)
		}
		if _, _, err := r.parse(res, u); err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
	}
	return nil
}

// Discover returns the configured streams.
func (Connector) Discover(_ context.Context, raw json.RawMessage) ([]sdk.Stream, error) {
	cfg, err := validConfig(raw)
	if err != nil {
		return nil, err
	}
	var out []sdk.Stream
	for _, s := range cfg.Streams {
		sc, err := s.schema()
		if err != nil {
			return nil, err
		}
		st := sdk.Stream{Name: s.Name, Schema: sc, PrimaryKey: s.PrimaryKey, SyncModes: []sdk.SyncMode{sdk.FullRefresh}}
		if s.Incremental != nil {
			st.CursorFields = []string{s.Incremental.Field}
			st.SyncModes = append(st.SyncModes, sdk.Incremental)
		}
		out = append(out, st)
	}
	return out, nil
}

// Read reads the requested streams one after the other.
func (Connector) Read(ctx context.Context, raw json.RawMessage, streams []sdk.StreamRead, w sdk.Writer) error {
	cfg, err := validConfig(raw)
	if err != nil {
		return err
	}
	f := newFetcher(cfg, w.Log)
	for _, sr := range streams {
		i := slices.IndexFunc(cfg.Streams, func(s StreamSpec) bool { return s.Name == sr.Name })
		if i < 0 {
			return fmt.Errorf("no stream %q is configured", sr.Name)
		}
		r, err := newStreamReader(f, cfg.Streams[i], sr)
		if err != nil {
			return err
		}
		if err := r.run(ctx, w); err != nil {
			return fmt.Errorf("stream %s: %w", sr.Name, err)
		}
	}
	return nil
}

// validConfig parses the configuration and checks what the JSON Schema
// cannot: fields named by keys and cursors exist, types are known.
func validConfig(raw json.RawMessage) (Config, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return Config{}, err
	}
	for _, s := range cfg.Streams {
		if _, err := s.schema(); err != nil {
			return Config{}, err
		}
		for _, k := range s.PrimaryKey {
			if _, ok := s.field(k); !ok {
				return Config{}, fmt.Errorf("stream %s: primary key %q is not a declared field", s.Name, k)
			}
		}
		if s.Incremental != nil {
			i, ok := s.field(s.Incremental.Field)
			if !ok {
				return Config{}, fmt.Errorf("stream %s: incremental field %q is not a declared field", s.Name, s.Incremental.Field)
			}
			if len(s.PrimaryKey) == 0 {
				return Config{}, fmt.Errorf("stream %s: incremental reads need a primary key", s.Name)
			}
			switch s.Fields[i].Type {
			case "timestamp", "date", "int64", "string":
			default:
				return Config{}, fmt.Errorf("stream %s: incremental field %q has type %s; use timestamp, date, int64 or string", s.Name, s.Incremental.Field, s.Fields[i].Type)
			}
		}
	}
	return cfg, nil
}
