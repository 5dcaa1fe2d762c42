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
	"sync"
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

	mu     sync.Mutex
	halted map[string]error // by "zone.table"
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
	if cfg.WriterParallelism <= 0 {
		cfg.WriterParallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return &Service{logger: logger, cat: cat, cfg: cfg, metrics: newMetrics(reg), halted: map[string]error{}}, nil
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

// Halted returns why ident is halted, or nil.
func (s *Service) Halted(ident table.Identifier) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.halted[Name(ident)]
}

// Resume lifts a halt, e.g. after an operator repaired the metadata.
func (s *Service) Resume(ident table.Identifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.halted, Name(ident))
	s.metrics.halted.WithLabelValues(Name(ident)).Set(0)
}

// halt records err for ident when it says the metadata is corrupt, and
// returns err.
func (s *Service) halt(ident table.Identifier, err error) error {
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return err
	}
	s.mu.Lock()
	s.halted[Name(ident)] = err
	s.mu.Unlock()
	s.metrics.halted.WithLabelValues(Name(ident)).Set(1)
	s.logger.Error("halting maintenance of table: corrupt metadata", "table", Name(ident), "err", err)
	return err
}

// TableStatus is one line of `compact status`.
type TableStatus struct {
	Table   table.Identifier
	Policy  policy.Policy
	Stats   health.Stats
	Reasons []string
	Halted  error
}

// Status measures one table and publishes its gauges.
func (s *Service) Status(ctx context.Context, ident table.Identifier) (TableStatus, error) {
	st := TableStatus{Table: ident, Halted: s.Halted(ident)}
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
		st.Halted = s.halt(ident, err)
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
// load or measure carries its error in Halted.
func (s *Service) StatusAll(ctx context.Context) ([]TableStatus, error) {
	idents, err := s.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TableStatus, 0, len(idents))
	for _, ident := range idents {
		st, err := s.Status(ctx, ident)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			st.Halted = err
		}
		out = append(out, st)
	}
	return out, nil
}
