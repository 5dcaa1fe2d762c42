package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/table"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// RunConfig says what to read with which plugin and where to land it.
type RunConfig struct {
	Plugin string          // installed plugin name
	Config json.RawMessage // the connector's configuration
	// Streams to read; empty reads every discovered stream.
	Streams []string
	// Mode forces a sync mode; zero uses incremental where the stream
	// supports it, full refresh otherwise.
	Mode sdk.SyncMode
	// Zone of the tables. Default raw.
	Zone string
	// TablePrefix goes before each stream's name. Default "<plugin>_".
	TablePrefix string
	// Attempts bounds the tries of one stream's read. Default 5.
	Attempts int
	// Backoff is the wait before the second try, doubled for each next one
	// up to a minute. Default 1s.
	Backoff time.Duration
	// Launched, when set, is told each plugin process the run starts.
	Launched func(*Plugin)
}

func (c *RunConfig) defaults() {
	if len(c.Config) == 0 {
		c.Config = json.RawMessage(`{}`)
	}
	if c.Zone == "" {
		c.Zone = "raw"
	}
	if c.TablePrefix == "" {
		c.TablePrefix = c.Plugin + "_"
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
}

// StreamReport says what one stream's read landed.
type StreamReport struct {
	Stream   string
	Table    table.Identifier
	Mode     sdk.SyncMode
	Rows     int64 // landed by this run
	Commits  int
	Attempts int
}

// Run reads the streams of cfg.Plugin and lands them in <zone>.<prefix><stream>,
// one commit per plugin checkpoint, the checkpoint in the commit's snapshot
// summary. Each read starts from the stream's last committed checkpoint; a
// plugin that crashes, or reports a retryable error, is launched again
// after a backoff and resumes from there, so no record is lost or landed
// twice. Streams are read one after the other.
func (h *Host) Run(ctx context.Context, sink *ingest.Sink, cfg RunConfig) ([]StreamReport, error) {
	launch := func(ctx context.Context) (*session, error) {
		p, err := h.Launch(ctx, cfg.Plugin)
		if err != nil {
			return nil, err
		}
		return &session{conn: p.Connector(), plugin: p}, nil
	}
	return h.run(ctx, sink, cfg, launch)
}

// RunInProcess is Run with connector c called directly instead of a plugin
// process: the same landing, checkpoints and retries, without the
// protocol. cfg.Plugin names the source (default c's Info name).
func (h *Host) RunInProcess(ctx context.Context, sink *ingest.Sink, c sdk.Connector, cfg RunConfig) ([]StreamReport, error) {
	if cfg.Plugin == "" {
		cfg.Plugin = c.Info().Name
	}
	return h.run(ctx, sink, cfg, func(context.Context) (*session, error) { return &session{conn: c}, nil })
}

// session is one launched connector: a plugin process, or an in-process
// connector (plugin nil).
type session struct {
	conn   sdk.Connector
	plugin *Plugin
}

func (s *session) exited() bool { return s.plugin != nil && s.plugin.Exited() }

func (s *session) pid() int {
	if s.plugin == nil {
		return os.Getpid()
	}
	return s.plugin.Pid()
}

func (s *session) close() {
	if s.plugin != nil {
		s.plugin.Close()
	}
}

func (h *Host) run(ctx context.Context, sink *ingest.Sink, cfg RunConfig, launch func(context.Context) (*session, error)) ([]StreamReport, error) {
	cfg.defaults()
	streams, err := plan(ctx, cfg, launch)
	if err != nil {
		return nil, err
	}
	var out []StreamReport
	for _, st := range streams {
		rep := StreamReport{Stream: st.Name, Table: table.Identifier{cfg.Zone, tableName(cfg.TablePrefix + st.Name)}, Mode: cfg.Mode}
		if rep.Mode == 0 {
			rep.Mode = sdk.FullRefresh
			if slices.Contains(st.SyncModes, sdk.Incremental) {
				rep.Mode = sdk.Incremental
			}
		}
		backoff := cfg.Backoff
		for {
			rep.Attempts++
			err := h.readStream(ctx, sink, cfg, st, &rep, launch)
			if err == nil {
				break
			}
			if !retryable(err) || rep.Attempts >= cfg.Attempts || ctx.Err() != nil {
				return append(out, rep), fmt.Errorf("running plugin %q, stream %s (attempt %d): %w", cfg.Plugin, st.Name, rep.Attempts, err)
			}
			h.logger.Warn("plugin read failed; retrying from the last committed checkpoint",
				"plugin", cfg.Plugin, "stream", st.Name, "attempt", rep.Attempts, "backoff", backoff, "err", err)
			if err := ctxtime.Sleep(ctx, backoff); err != nil {
				return append(out, rep), err
			}
			backoff = min(2*backoff, time.Minute)
		}
		out = append(out, rep)
	}
	return out, nil
}

// plan launches the connector once to validate the configuration and
// pick the streams.
func plan(ctx context.Context, cfg RunConfig, launch func(context.Context) (*session, error)) ([]sdk.Stream, error) {
	s, err := launch(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := sdk.ValidateConfig(s.conn.Spec(), cfg.Config); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", cfg.Plugin, err)
	}
	all, err := s.conn.Discover(ctx, cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", cfg.Plugin, err)
	}
	if len(cfg.Streams) == 0 {
		return all, nil
	}
	var out []sdk.Stream
	for _, name := range cfg.Streams {
		i := slices.IndexFunc(all, func(s sdk.Stream) bool { return s.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("plugin %q has no stream %q", cfg.Plugin, name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// readStream is one attempt: launch, resume from the committed checkpoint,
// land segment after segment until the read ends.
func (h *Host) readStream(ctx context.Context, sink *ingest.Sink, cfg RunConfig, st sdk.Stream, rep *StreamReport, launch func(context.Context) (*session, error)) error {
	s, err := launch(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if cfg.Launched != nil && s.plugin != nil {
		cfg.Launched(s.plugin)
	}
	source := "plugin:" + cfg.Plugin + "/" + st.Name
	last, err := lastCommitted(ctx, sink, rep.Table, source)
	if err != nil {
		return err
	}
	pos := committed{Plugin: cfg.Plugin, Stream: st.Name}
	sr := sdk.StreamRead{Name: st.Name, Mode: rep.Mode}
	if last != nil {
		pos.Run, pos.Seq = last.Run, last.Seq
		if rep.Mode == sdk.Incremental || !last.Done {
			sr.State = last.State
		}
	}
	if pos.Run == "" || (rep.Mode == sdk.FullRefresh && last.Done) {
		if pos.Run, err = newRunID(); err != nil {
			return err
		}
	}
	h.logger.Info("reading plugin stream", "plugin", cfg.Plugin, "stream", st.Name, "mode", rep.Mode,
		"table", rep.Table, "resume", sr.State != nil, "pid", s.pid())
	r := startRead(ctx, h.logger.With("plugin", cfg.Plugin), s.conn, cfg.Config, sr, st.Schema)
	defer r.stop()
	var carry *item
	for {
		next := pos
		next.Seq++
		seg := &segment{r: r, schema: st.Schema, pos: next, label: fmt.Sprintf("%s#%d", st.Name, next.Seq), pending: carry}
		open := func(context.Context, *arrow.Schema) (ingest.Source, error) { return seg, nil }
		lr, err := sink.Land(ctx, open, ingest.Target{Table: rep.Table, Source: source, BatchID: batchID(source, next.Seq)})
		if err != nil {
			if s.exited() {
				return fmt.Errorf("plugin %q crashed: %w", cfg.Plugin, errCrashed{err})
			}
			return err
		}
		if seg.unsealed > 0 {
			h.logger.Warn("plugin sent records after its last checkpoint; landed them with it",
				"plugin", cfg.Plugin, "stream", st.Name, "rows", seg.unsealed)
		}
		if lr.Received > 0 {
			pos = seg.pos
			rep.Rows += lr.Accepted + lr.Quarantined - lr.Skipped
			rep.Commits++
		}
		if seg.final {
			return nil
		}
		carry = seg.pending
	}
}

// errCrashed marks a read that ended because the plugin process died.
type errCrashed struct{ err error }

func (e errCrashed) Error() string { return e.err.Error() }
func (e errCrashed) Unwrap() error { return e.err }

// retryable: worth another launch from the last committed checkpoint.
func retryable(err error) bool {
	var crashed errCrashed
	switch {
	case errors.As(err, &crashed), sdk.IsRetryable(err), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, ErrChecksumMismatch), errors.Is(err, ErrStdoutGarbage), errors.Is(err, ErrProtocol),
		errors.Is(err, ErrNotInstalled), errors.Is(err, context.Canceled):
		return false
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable || s.Code() == codes.ResourceExhausted) {
		return true // the connection broke: the plugin died or hung up
	}
	return errors.Is(err, ingest.ErrCommitUnknown)
}

func newRunID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("naming run: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// tableName makes a stream name a table name: lower-case letters, digits
// and underscores.
func tableName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
