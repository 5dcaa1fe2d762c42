// Package policy holds the maintenance policies of zone tables: defaults,
// per-zone and per-table overrides read from YAML, and the validation that
// turns a typo into an error before the service starts.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid marks a policy that cannot be applied.
var ErrInvalid = errors.New("invalid compaction policy")

// Policy is what maintenance does to one table. A zero field in YAML keeps
// the value of the level above (defaults → zone → table).
type Policy struct {
	// Disabled turns all maintenance of the table off. Default false.
	Disabled bool `yaml:"disabled"`
	// TargetFileSize is the size rewritten data files aim at. Default 128MiB.
	TargetFileSize Bytes `yaml:"target-file-size"`
	// MinInputFiles is the fewest small files of one partition worth a
	// rewrite. Default 5.
	MinInputFiles int `yaml:"min-input-files"`
	// SmallFileRatio: a table whose share of small files (below 3/4 of the
	// target) is at least this needs a rewrite. Default 0.3.
	SmallFileRatio float64 `yaml:"small-file-ratio"`
	// DeleteFileRatio: a data file whose deleted rows are at least this share
	// of its rows is rewritten whatever its size. Default 0.3.
	DeleteFileRatio float64 `yaml:"delete-file-ratio"`
	// Sort orders rows in rewritten files by these columns (ascending,
	// nulls first) and records the order as the table's sort order.
	Sort []string `yaml:"sort"`
	// ZOrder clusters rewritten files along several columns at once by
	// interleaving the bits of their ranks. Excludes Sort.
	ZOrder []string `yaml:"z-order"`
	// Partitioning, when set, is the partition spec the table should have,
	// as transforms such as "hour(ts)", "day(ts)", "bucket(16, id)",
	// "region". Files written under another spec are rewritten.
	Partitioning []string `yaml:"partitioning"`
	// Snapshots says how long history is kept.
	Snapshots Retention `yaml:"snapshots"`
	// OrphanAge: files under the table location referenced by no metadata
	// are removed once older than this; younger ones may belong to a commit
	// in flight. Default 72h; at least 1h.
	OrphanAge time.Duration `yaml:"orphan-age"`
	// ManifestTargetSize is the size rewritten manifests aim at. Default 8MiB.
	ManifestTargetSize Bytes `yaml:"manifest-target-size"`
	// MaxManifests: a table whose current snapshot has more manifests than
	// this gets its manifests rewritten. Default 100.
	MaxManifests int `yaml:"max-manifests"`
}

// Retention bounds snapshot history.
type Retention struct {
	// MaxAge: snapshots older than this are expired. Default 168h.
	MaxAge time.Duration `yaml:"max-age"`
	// MinKept is how many of the newest snapshots are kept whatever their
	// age. Default 5.
	MinKept int `yaml:"min-kept"`
	// DedupeHorizon: a snapshot recording an ingest batch id is kept this
	// long even past MaxAge, because ingestion decides "already landed" by
	// finding the batch id in a snapshot. Re-ingesting a source older than
	// the horizon lands it again. Default 720h; at least MaxAge.
	DedupeHorizon time.Duration `yaml:"dedupe-horizon"`
}

// Default is the policy of a table nothing overrides.
func Default() Policy {
	return Policy{
		TargetFileSize:     128 << 20,
		MinInputFiles:      5,
		SmallFileRatio:     0.3,
		DeleteFileRatio:    0.3,
		Snapshots:          Retention{MaxAge: 7 * 24 * time.Hour, MinKept: 5, DedupeHorizon: 30 * 24 * time.Hour},
		OrphanAge:          72 * time.Hour,
		ManifestTargetSize: 8 << 20,
		MaxManifests:       100,
	}
}

// MinOrphanAge is the youngest orphan age a policy may set: a commit in
// flight writes its files before the catalog knows them.
const MinOrphanAge = time.Hour

// Validate reports the first thing wrong with p.
func (p Policy) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(p.TargetFileSize >= 1<<20, "target-file-size %s is below 1MiB", p.TargetFileSize)
	check(p.MinInputFiles >= 2, "min-input-files %d is below 2", p.MinInputFiles)
	check(p.SmallFileRatio > 0 && p.SmallFileRatio <= 1, "small-file-ratio %g is not in (0, 1]", p.SmallFileRatio)
	check(p.DeleteFileRatio > 0 && p.DeleteFileRatio <= 1, "delete-file-ratio %g is not in (0, 1]", p.DeleteFileRatio)
	check(len(p.Sort) == 0 || len(p.ZOrder) == 0, "sort and z-order exclude each other")
	check(len(p.ZOrder) != 1, "z-order needs at least two columns (use sort for one)")
	check(p.Snapshots.MaxAge > 0, "snapshots.max-age must be positive")
	check(p.Snapshots.MinKept >= 1, "snapshots.min-kept %d is below 1", p.Snapshots.MinKept)
	check(p.Snapshots.DedupeHorizon >= p.Snapshots.MaxAge, "snapshots.dedupe-horizon %s is shorter than max-age %s", p.Snapshots.DedupeHorizon, p.Snapshots.MaxAge)
	check(p.OrphanAge >= MinOrphanAge, "orphan-age %s is below %s: files of commits in flight would go", p.OrphanAge, MinOrphanAge)
	check(p.ManifestTargetSize >= 64<<10, "manifest-target-size %s is below 64KiB", p.ManifestTargetSize)
	check(p.MaxManifests >= 1, "max-manifests %d is below 1", p.MaxManifests)
	for _, col := range append(append([]string{}, p.Sort...), p.ZOrder...) {
		check(strings.TrimSpace(col) != "", "empty column name in sort or z-order")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Set is a parsed policy file: defaults, zones and tables, each applied
// over the level above when a table's policy is resolved.
type Set struct {
	defaults yaml.Node
	zones    map[string]yaml.Node
	tables   map[string]yaml.Node
	// Scheduler configures `compact serve`.
	Scheduler Scheduler
}

// file is the YAML shape of a policy file.
type file struct {
	Defaults  yaml.Node            `yaml:"defaults"`
	Zones     map[string]yaml.Node `yaml:"zones"`
	Tables    map[string]yaml.Node `yaml:"tables"`
	Scheduler yaml.Node            `yaml:"scheduler"`
}

// Load reads a policy file; an empty path gives the defaults.
func Load(path string) (*Set, error) {
	if path == "" {
		return Parse(nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy file: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a policy file's content and validates every policy it
// declares (defaults, each zone, each table).
func Parse(b []byte) (*Set, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s := &Set{defaults: f.Defaults, zones: f.Zones, tables: f.Tables, Scheduler: DefaultScheduler()}
	if err := decodeOver(&f.Scheduler, &s.Scheduler); err != nil {
		return nil, fmt.Errorf("%w: scheduler: %w", ErrInvalid, err)
	}
	if err := s.Scheduler.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.For("", ""); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	for z := range s.zones {
		if _, err := s.For(z, ""); err != nil {
			return nil, fmt.Errorf("zone %s: %w", z, err)
		}
	}
	for t := range s.tables {
		zone, name, ok := strings.Cut(t, ".")
		if !ok || zone == "" || name == "" {
			return nil, fmt.Errorf("%w: table key %q is not zone.table", ErrInvalid, t)
		}
		if _, err := s.For(zone, name); err != nil {
			return nil, fmt.Errorf("table %s: %w", t, err)
		}
	}
	return s, nil
}

// For resolves the policy of zone.table: Default, then the file's
// defaults, the zone's and the table's settings, each over the last.
func (s *Set) For(zone, tbl string) (Policy, error) {
	p := Default()
	layers := []yaml.Node{s.defaults, s.zones[zone]}
	if tbl != "" {
		layers = append(layers, s.tables[zone+"."+tbl])
	}
	for i := range layers {
		if err := decodeOver(&layers[i], &p); err != nil {
			return Policy{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return p, p.Validate()
}

// decodeOver decodes n onto v, keeping v's fields that n does not set.
func decodeOver(n *yaml.Node, v any) error {
	if n.Kind == 0 {
		return nil
	}
	// Node.Decode ignores KnownFields: round-trip through a strict decoder.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}
