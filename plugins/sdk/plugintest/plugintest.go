// Package plugintest is the conformance suite of connector plugins. A
// plugin author runs it in the plugin's own repository, against the
// connector in-process:
//
//	func TestConformance(t *testing.T) {
//		plugintest.Run(t, myConnector{}, plugintest.Options{Config: cfg})
//	}
//
// or against the built executable, launched the way the lakehouse launches
// it (see Launch). It checks that the spec is a valid JSON Schema that
// accepts the test configuration, that Check and Discover answer, that Read
// sends batches of the discovered schemas and ends each stream with a
// checkpoint, that a read resumed from a checkpoint neither loses nor
// repeats a record, and that schemas are stable.
package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Options configure a conformance run.
type Options struct {
	// Config is the connector configuration the suite uses. It must reach
	// a source with at least one stream whose read sends two checkpoints
	// or more (so that resuming can be tested).
	Config json.RawMessage
	// Streams limits the streams read; empty reads every discovered one.
	Streams []string
	// Timeout bounds each call into the connector. Default 2 minutes.
	Timeout time.Duration
}

// Result is the outcome of one check: Err is nil when it passed.
type Result struct {
	Check string
	Err   error
}

// Run runs every check as a subtest of t.
func Run(t *testing.T, c sdk.Connector, opts Options) {
	t.Helper()
	s := newSuite(c, opts)
	for _, ch := range s.checks() {
		t.Run(ch.name, func(t *testing.T) {
			if err := s.run(ch); err != nil {
				t.Error(err)
			}
		})
	}
}

// Check runs every check and returns their results in order; for callers
// that report failures their own way.
func Check(c sdk.Connector, opts Options) []Result {
	s := newSuite(c, opts)
	var out []Result
	for _, ch := range s.checks() {
		out = append(out, Result{Check: ch.name, Err: s.run(ch)})
	}
	return out
}

type check struct {
	name string
	fn   func(ctx context.Context) error
}

// suite carries what earlier checks learned to later ones.
type suite struct {
	c       sdk.Connector
	opts    Options
	streams []sdk.Stream // discovered, nil when Discover failed
	reads   map[string]*capture
}

// errPrevious skips a check whose input an earlier check failed to get.
var errPrevious = errors.New("not checked: an earlier check failed")

func newSuite(c sdk.Connector, opts Options) *suite {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	return &suite{c: c, opts: opts, reads: map[string]*capture{}}
}

func (s *suite) run(ch check) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	return ch.fn(ctx)
}

func (s *suite) checks() []check {
	return []check{
		{"info names the connector and its version", s.info},
		{"spec is a valid JSON Schema that accepts the test config", s.spec},
		{"check accepts the test config", s.check},
		{"discover lists streams with schemas keys and sync modes", s.discover},
		{"discover returns the same schemas every time", s.stable},
		{"read sends batches of the discovered schema and ends each stream with a checkpoint", s.read},
		{"read resumed from a checkpoint neither loses nor repeats a record", s.resume},
	}
}

func (s *suite) info(context.Context) error {
	info := s.c.Info()
	var problems []string
	if info.Name == "" {
		problems = append(problems, "Info().Name is empty")
	}
	if info.Version == "" {
		problems = append(problems, "Info().Version is empty")
	}
	return joined(problems)
}

func (s *suite) spec(context.Context) error {
	sch, err := sdk.CompileSpec(s.c.Spec())
	if err != nil {
		return fmt.Errorf("Spec() is not a valid JSON Schema: %w", err)
	}
	if err := sch.Validate(s.opts.Config); err != nil {
		return fmt.Errorf("the test config is refused by Spec(): %w", err)
	}
	return nil
}

func (s *suite) check(ctx context.Context) error {
	if err := s.c.Check(ctx, s.opts.Config); err != nil {
		return fmt.Errorf("Check refused the test config: %w", err)
	}
	return nil
}

func (s *suite) discover(ctx context.Context) error {
	streams, err := s.c.Discover(ctx, s.opts.Config)
	if err != nil {
		return fmt.Errorf("Discover: %w", err)
	}
	if len(streams) == 0 {
		return errors.New("Discover returned no stream")
	}
	var problems []string
	seen := map[string]bool{}
	for _, st := range streams {
		problems = append(problems, streamProblems(st, seen)...)
	}
	if len(problems) == 0 {
		s.streams = streams
	}
	return joined(problems)
}

func streamProblems(st sdk.Stream, seen map[string]bool) []string {
	var p []string
	if st.Name == "" {
		return []string{"a stream has no name"}
	}
	if seen[st.Name] {
		p = append(p, fmt.Sprintf("stream %q is listed twice", st.Name))
	}
	seen[st.Name] = true
	if st.Schema == nil || st.Schema.NumFields() == 0 {
		return append(p, fmt.Sprintf("stream %q has no columns", st.Name))
	}
	for _, k := range st.PrimaryKey {
		if !st.Schema.HasField(k) {
			p = append(p, fmt.Sprintf("stream %q: primary key column %q is not in its schema (%s)", st.Name, k, fieldNames(st.Schema)))
		}
	}
	for _, k := range st.CursorFields {
		if !st.Schema.HasField(k) {
			p = append(p, fmt.Sprintf("stream %q: cursor field %q is not in its schema (%s)", st.Name, k, fieldNames(st.Schema)))
		}
	}
	if len(st.SyncModes) == 0 {
		p = append(p, fmt.Sprintf("stream %q supports no sync mode", st.Name))
	}
	for _, m := range st.SyncModes {
		if m != sdk.FullRefresh && m != sdk.Incremental {
			p = append(p, fmt.Sprintf("stream %q: sync mode %d is unknown", st.Name, m))
		}
	}
	if slices.Contains(st.SyncModes, sdk.Incremental) && len(st.CursorFields) == 0 {
		p = append(p, fmt.Sprintf("stream %q supports incremental reads but names no cursor field", st.Name))
	}
	return p
}

func (s *suite) stable(ctx context.Context) error {
	if s.streams == nil {
		return errPrevious
	}
	again, err := s.c.Discover(ctx, s.opts.Config)
	if err != nil {
		return fmt.Errorf("second Discover: %w", err)
	}
	var problems []string
	for _, st := range s.streams {
		i := slices.IndexFunc(again, func(o sdk.Stream) bool { return o.Name == st.Name })
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("stream %q is missing from the second Discover", st.Name))
		case !again[i].Schema.Equal(st.Schema):
			problems = append(problems, fmt.Sprintf("stream %q: schema changed between two Discover calls:\n%s\nthen\n%s", st.Name, st.Schema, again[i].Schema))
		}
	}
	return joined(problems)
}

// selected are the streams the suite reads.
func (s *suite) selected() []sdk.Stream {
	if len(s.opts.Streams) == 0 {
		return s.streams
	}
	var out []sdk.Stream
	for _, st := range s.streams {
		if slices.Contains(s.opts.Streams, st.Name) {
			out = append(out, st)
		}
	}
	return out
}

func mode(st sdk.Stream) sdk.SyncMode {
	if slices.Contains(st.SyncModes, sdk.Incremental) {
		return sdk.Incremental
	}
	return sdk.FullRefresh
}

func (s *suite) read(ctx context.Context) error {
	if s.streams == nil {
		return errPrevious
	}
	var problems []string
	for _, st := range s.selected() {
		c, err := s.readStream(ctx, st, nil)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		problems = append(problems, c.problems...)
		if len(c.events) == 0 {
			problems = append(problems, fmt.Sprintf("stream %q: Read sent nothing, not even a checkpoint", st.Name))
			continue
		}
		if c.events[len(c.events)-1].state == nil {
			problems = append(problems, fmt.Sprintf("stream %q: Read did not end with a checkpoint: records sent after the last checkpoint would be read again after a restart", st.Name))
		}
		if len(c.problems) == 0 {
			s.reads[st.Name] = c
		}
	}
	return joined(problems)
}

func (s *suite) readStream(ctx context.Context, st sdk.Stream, state json.RawMessage) (*capture, error) {
	c := &capture{stream: st}
	sr := sdk.StreamRead{Name: st.Name, Mode: mode(st), State: state}
	if err := s.c.Read(ctx, s.opts.Config, []sdk.StreamRead{sr}, c); err != nil {
		return nil, fmt.Errorf("stream %q: Read (%s, resumed: %t): %w", st.Name, sr.Mode, state != nil, err)
	}
	return c, nil
}

func (s *suite) resume(ctx context.Context) error {
	if len(s.reads) == 0 {
		return errPrevious
	}
	tested := 0
	var problems []string
	for _, st := range s.selected() {
		full, ok := s.reads[st.Name]
		if !ok || len(st.PrimaryKey) == 0 {
			continue
		}
		cps := full.checkpoints()
		if len(cps) < 2 {
			continue
		}
		tested++
		at := cps[len(cps)/2-1] // a checkpoint with records after it
		before := full.keysUntil(at)
		again, err := s.readStream(ctx, st, full.events[at].state)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		problems = append(problems, again.problems...)
		problems = append(problems, compareResume(st.Name, full.keysUntil(len(full.events)), before, again.keysUntil(len(again.events)))...)
	}
	if tested == 0 {
		return errors.New("no stream with a primary key sent two checkpoints or more: resuming could not be tested (use a test config that reads several batches)")
	}
	return joined(problems)
}

// compareResume: the records before the checkpoint plus those of the
// resumed read must be the full read's, each once.
func compareResume(stream string, full, before, after []string) []string {
	var p []string
	count := map[string]int{}
	for _, k := range before {
		count[k]++
	}
	var repeated []string
	for _, k := range after {
		if count[k] > 0 {
			repeated = append(repeated, k)
		}
		count[k]++
	}
	if len(repeated) > 0 {
		p = append(p, fmt.Sprintf("stream %q: the resumed read repeated %d record(s) sent before the checkpoint, e.g. key %s", stream, len(repeated), repeated[0]))
	}
	var lost []string
	for _, k := range full {
		if count[k] == 0 {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		p = append(p, fmt.Sprintf("stream %q: the resumed read lost %d record(s) of the full read, e.g. key %s", stream, len(lost), lost[0]))
	}
	return p
}

// capture is the sdk.Writer of the suite's reads: it keeps each batch's
// primary keys and each checkpoint, in order.
type capture struct {
	stream   sdk.Stream
	events   []event
	batches  int
	problems []string
}

type event struct {
	keys  []string        // a batch's records, or
	state json.RawMessage // a checkpoint
}

func (c *capture) Records(stream string, rec arrow.RecordBatch) error {
	c.batches++
	if stream != c.stream.Name {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: Read sent a batch of stream %q, which was not asked for", c.stream.Name, stream))
		return nil
	}
	if !rec.Schema().Equal(c.stream.Schema) {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: batch %d has schema\n%s\nbut Discover declared\n%s", stream, c.batches, rec.Schema(), c.stream.Schema))
		return nil
	}
	keys := make([]string, rec.NumRows())
	var cols []arrow.Array
	for _, k := range c.stream.PrimaryKey {
		cols = append(cols, rec.Column(rec.Schema().FieldIndices(k)[0]))
	}
	for i := range keys {
		parts := make([]string, len(cols))
		for j, col := range cols {
			parts[j] = col.ValueStr(i)
		}
		keys[i] = strings.Join(parts, "|")
	}
	c.events = append(c.events, event{keys: keys})
	return nil
}

func (c *capture) Reject(stream string, r sdk.Reject) error {
	if stream != c.stream.Name {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: Read sent a reject of stream %q", c.stream.Name, stream))
	}
	if r.Reason == "" {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: a reject at %q gives no reason", stream, r.Position))
	}
	return nil
}

func (c *capture) Checkpoint(stream string, state json.RawMessage) error {
	if stream != c.stream.Name {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: Read sent a checkpoint of stream %q", c.stream.Name, stream))
		return nil
	}
	if !json.Valid(state) {
		c.problems = append(c.problems, fmt.Sprintf("stream %q: checkpoint %q is not JSON", stream, state))
		return nil
	}
	c.events = append(c.events, event{state: append(json.RawMessage{}, state...)})
	return nil
}

func (c *capture) Log(slog.Level, string, ...slog.Attr) {}

// checkpoints are the indexes of the checkpoint events.
func (c *capture) checkpoints() []int {
	var out []int
	for i, e := range c.events {
		if e.state != nil {
			out = append(out, i)
		}
	}
	return out
}

// keysUntil are the primary keys of the batches before event end.
func (c *capture) keysUntil(end int) []string {
	var out []string
	for _, e := range c.events[:end] {
		out = append(out, e.keys...)
	}
	return out
}

func fieldNames(sc *arrow.Schema) string {
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

func joined(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "\n"))
}
