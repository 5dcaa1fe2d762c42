// Package compaction keeps zone tables fast and small: it measures each
// table's health against its policy, rewrites small files (bin-pack, sort,
// z-order), evolves partitioning, rewrites manifests, expires snapshots
// and removes orphan files, without losing a row or undoing a concurrent
// delete. Service.Serve runs it continuously with leases and quotas.
package compaction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakehouse-go/lakehouse/compaction/health"
	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

// Config configures a Service.
type Config struct {
	// Policies resolves each table's policy. Default: policy defaults.
	Policies *policy.Set
	// Holder names this worker in leases. Default host name and pid.
	Holder string
	// Leaser coordinates workers; nil means this process is the only one.
	Leaser Leaser
	// Halts keeps the tables halted on corrupt metadata where every worker
	// sees them (NewCatalogHalts). Default: in memory, for this process
	// alone and until it ends (NewLocalHalts).
	Halts Halts
	// ScanConcurrency bounds the files read at once per rewrite group.
	// Reading small files from object storage waits on the network more
	// than on the cores. Default 4 per core.
	ScanConcurrency int
	// WriterParallelism is how many files one large bin-pack group is
	// written as at once (each at least 32MiB of input), since a Parquet
	// writer encodes on one core. Default one per core.
	WriterParallelism int
}

// Service maintains the tables of one catalog.
type Service struct {
	logger  *slog.Logger
	cat     catalog.Catalog
	cfg     Config
	metrics *metrics

	// beforeCommit, set by tests, runs before a rewrite group commits.
	beforeCommit func(ctx context.Context, planned *table.Table, gr table.CompactionGroupResult)
	// observeRewrite, set by tests, learns each group's outcome.
	observeRewrite func(gr table.CompactionGroupResult, committed bool)
}

// New returns a Service over cat. Its gauges are registered on reg
// (nil: not registered).
func New(logger *slog.Logger, reg prometheus.Registerer, cat catalog.Catalog, cfg Config) (*Service, error) {
	if cfg.Policies == nil {
		s, err := policy.Parse(nil)
		if err != nil {
			return nil, err
		}
		cfg.Policies = s
	}
	if cfg.ScanConcurrency <= 0 {
		cfg.ScanConcurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.Leaser == nil {
		cfg.Leaser = NewLocalLeaser()
	}
	if cfg.Halts == nil {
		cfg.Halts = NewLocalHalts()
	}
	if cfg.WriterParallelism <= 0 {
		cfg.WriterParallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return &Service{logger: logger, cat: cat, cfg: cfg, metrics: newMetrics(reg)}, nil
}

// Name is "zone.table".
func Name(ident table.Identifier) string { return strings.Join(ident, ".") }

// ParseName reads "zone.table".
func ParseName(s string) (table.Identifier, error) {
	zone, name, ok := strings.Cut(s, ".")
	if !ok || zone == "" || name == "" {
		return nil, fmt.Errorf("table %q is not zone.table", s)
	}
	return table.Identifier{zone, name}, nil
}

// Tables lists the tables of the scheduler's zones; a zone that does not
// exist is passed over.
func (s *Service) Tables(ctx context.Context) ([]table.Identifier, error) {
	var out []table.Identifier
	for _, zone := range s.cfg.Policies.Scheduler.Zones {
		for ident, err := range s.cat.ListTables(ctx, table.Identifier{zone}) {
			if errors.Is(err, catalog.ErrNoSuchNamespace) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("listing tables of %s: %w", zone, err)
			}
			out = append(out, ident)
		}
	}
	slices.SortFunc(out, func(a, b table.Identifier) int { return strings.Compare(Name(a), Name(b)) })
	return out, nil
}

// policyFor resolves ident's policy.
func (s *Service) policyFor(ident table.Identifier) (policy.Policy, error) {
	if len(ident) != 2 {
		return policy.Policy{}, fmt.Errorf("table %v is not zone.table", ident)
	}
	return s.cfg.Policies.For(ident[0], ident[1])
}

// HaltOf returns ident's halt, if it is halted.
func (s *Service) HaltOf(ctx context.Context, ident table.Identifier) (Halt, bool, error) {
	hs, err := s.ListHalts(ctx)
	if err != nil {
		return Halt{}, false, err
	}
	for _, h := range hs {
		if h.Table == Name(ident) {
			return h, true, nil
		}
	}
	return Halt{}, false, nil
}

// ListHalts returns every halted table, sorted.
func (s *Service) ListHalts(ctx context.Context) ([]Halt, error) {
	hs, err := s.cfg.Halts.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the halted tables: %w", err)
	}
	return hs, nil
}

// Halted returns nil when ident may be maintained; otherwise an error
// wrapping ErrHalted that names the halt, or the error of reading the
// halts: no work is done on a table that might be halted.
func (s *Service) Halted(ctx context.Context, ident table.Identifier) error {
	h, ok, err := s.HaltOf(ctx, ident)
	if err != nil || !ok {
		return err
	}
	s.metrics.halted.WithLabelValues(h.Table).Set(1)
	return haltedErr(h)
}

func haltedErr(h Halt) error {
	return fmt.Errorf("%w: %s", ErrHalted, h)
}

// Resume lifts ident's halt for every worker, e.g. after an operator
// repaired the metadata, and returns it; an error wrapping ErrNotHalted
// when ident is not halted.
func (s *Service) Resume(ctx context.Context, ident table.Identifier) (Halt, error) {
	h, err := s.cfg.Halts.Lift(ctx, Name(ident))
	if err != nil {
		return Halt{}, fmt.Errorf("resuming %s: %w", Name(ident), err)
	}
	s.metrics.halted.WithLabelValues(Name(ident)).Set(0)
	s.logger.Info("resumed maintenance of table", "table", h.Table, "halted_since", h.Since, "halted_by", h.Holder, "reason", h.Reason)
	return h, nil
}

// halt records a halt of ident when err says its metadata is corrupt,
// and returns err.
func (s *Service) halt(ctx context.Context, ident table.Identifier, err error) error {
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return err
	}
	_, err = s.record(ctx, ident, err)
	return err
}

// maxHaltReason bounds the error text kept as a halt's reason.
const maxHaltReason = 4 << 10

// record halts ident for cause, a corrupt-metadata error, where every
// worker sees it, and returns the halt in force and cause; when the halt
// could not be recorded, nil and cause joined with why.
func (s *Service) record(ctx context.Context, ident table.Identifier, cause error) (*Halt, error) {
	name := Name(ident)
	reason := cause.Error()
	if len(reason) > maxHaltReason {
		reason = strings.ToValidUTF8(reason[:maxHaltReason], "") + "…"
	}
	// The halt must land even when the run's context ended (a lost lease
	// cancels it): the next worker would otherwise work on the table.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	want := Halt{Table: name, Reason: reason, Holder: s.cfg.Holder, Since: time.Now()}
	s.metrics.halted.WithLabelValues(name).Set(1)
	h, created, err := s.cfg.Halts.Halt(rctx, want)
	if err != nil {
		s.logger.Error("halting maintenance of table: corrupt metadata; recording the halt failed, so other workers may try it too",
			"table", name, "err", cause, "record_err", err)
		return nil, errors.Join(cause, fmt.Errorf("recording the halt of %s: %w", name, err))
	}
	if created {
		s.logger.Error("halting maintenance of table: corrupt metadata; `lakehouse compact resume --table "+name+"` lifts the halt once it is repaired",
			"table", name, "err", cause)
	}
	return &h, cause
}

// TableStatus is one line of `compact status`.
type TableStatus struct {
	Table   table.Identifier
	Policy  policy.Policy
	Stats   health.Stats
	Reasons []string
	// Halt is the table's halt, when it is halted.
	Halt *Halt
	// Halted is why the table is not maintained now: its halt (wrapping
	// ErrHalted), or the error of loading or measuring it.
	Halted error
}

// Status measures one table and publishes its gauges.
func (s *Service) Status(ctx context.Context, ident table.Identifier) (TableStatus, error) {
	h, ok, err := s.HaltOf(ctx, ident)
	if err != nil {
		return TableStatus{Table: ident, Halted: err}, err
	}
	if !ok {
		return s.status(ctx, ident, nil)
	}
	return s.status(ctx, ident, &h)
}

// status is Status of ident, whose halt is h (nil: not halted).
func (s *Service) status(ctx context.Context, ident table.Identifier, h *Halt) (TableStatus, error) {
	st := TableStatus{Table: ident, Halt: h}
	if h != nil {
		st.Halted = haltedErr(*h)
		s.metrics.halted.WithLabelValues(h.Table).Set(1)
	}
	p, err := s.policyFor(ident)
	if err != nil {
		return st, err
	}
	st.Policy = p
	tbl, err := s.cat.LoadTable(ctx, ident)
	if err != nil {
		return st, fmt.Errorf("loading table %s: %w", Name(ident), err)
	}
	wantSpec := -1
	if spec, ok, err := wantedSpec(tbl, p); err != nil {
		return st, err
	} else if ok {
		wantSpec = spec.ID()
		if !spec.Equals(tbl.Spec()) {
			wantSpec = -2 // the spec does not exist yet: every file is under an old one
		}
	}
	st.Stats, err = health.Measure(ctx, tbl, p, wantSpec)
	if err != nil {
		st.Halted = err
		if errors.Is(err, ErrCorrupt) {
			var got *Halt
			if got, err = s.record(ctx, ident, err); got != nil {
				st.Halt, st.Halted = got, haltedErr(*got)
			}
		}
		return st, err
	}
	st.Stats.Expirable = len(expirable(tbl.Metadata(), p.Snapshots, time.Now()))
	if !p.Disabled {
		st.Reasons = health.Reasons(st.Stats, p)
		if layout := layoutOf(p); layout != "" && layout != tbl.Properties()[LayoutProperty] && st.Stats.DataFiles > 0 {
			st.Reasons = append(st.Reasons, fmt.Sprintf("layout %q wanted, files are %q", layout, tbl.Properties()[LayoutProperty]))
		}
	}
	s.metrics.observe(st)
	return st, nil
}

// StatusAll measures every table of the zones; a table that fails to
// load or measure carries its error in Halted. Halts of other tables (a
// zone the scheduler left, a dropped table) follow, so that each can be
// seen and lifted.
func (s *Service) StatusAll(ctx context.Context) ([]TableStatus, error) {
	idents, err := s.Tables(ctx)
	if err != nil {
		return nil, err
	}
	hs, err := s.ListHalts(ctx)
	if err != nil {
		return nil, err
	}
	halts := map[string]*Halt{}
	for i := range hs {
		halts[hs[i].Table] = &hs[i]
	}
	out := make([]TableStatus, 0, len(idents))
	for _, ident := range idents {
		h := halts[Name(ident)]
		delete(halts, Name(ident))
		st, err := s.status(ctx, ident, h)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if st.Halt == nil {
				st.Halted = err
			}
		}
		out = append(out, st)
	}
	for _, h := range hs {
		if halts[h.Table] == nil {
			continue
		}
		ident, err := ParseName(h.Table)
		if err != nil {
			ident = table.Identifier{h.Table}
		}
		s.metrics.halted.WithLabelValues(h.Table).Set(1)
		out = append(out, TableStatus{Table: ident, Halt: halts[h.Table], Halted: haltedErr(h)})
	}
	return out, nil
}
