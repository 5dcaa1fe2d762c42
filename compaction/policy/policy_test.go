package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTablePolicyLayersDefaultsZoneAndTable(t *testing.T) {
	set, err := Parse([]byte(`
defaults: {target-file-size: 64MiB, snapshots: {max-age: 48h}}
zones: {raw: {min-input-files: 10, sort: [a]}}
tables: {raw.events: {sort: [b, c], snapshots: {min-kept: 2}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		zone, tbl string
		target    Bytes
		minInputs int
		sort      string
		maxAge    time.Duration
		minKept   int
		horizon   time.Duration
	}{
		{"a table of another zone gets the file's defaults", "curated", "x", 64 << 20, 5, "", 48 * time.Hour, 5, 720 * time.Hour},
		{"a table of raw gets raw's settings over the defaults", "raw", "orders", 64 << 20, 10, "a", 48 * time.Hour, 5, 720 * time.Hour},
		{"a named table overrides its zone key by key", "raw", "events", 64 << 20, 10, "b,c", 48 * time.Hour, 2, 720 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := set.For(tt.zone, tt.tbl)
			if err != nil {
				t.Fatal(err)
			}
			if p.TargetFileSize != tt.target || p.MinInputFiles != tt.minInputs || strings.Join(p.Sort, ",") != tt.sort ||
				p.Snapshots.MaxAge != tt.maxAge || p.Snapshots.MinKept != tt.minKept || p.Snapshots.DedupeHorizon != tt.horizon {
				t.Fatalf("got %+v", p)
			}
		})
	}
}

func TestInvalidPoliciesAreRefusedBeforeAnythingRuns(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"an unknown key is a typo", "defaults: {target-files-size: 1MiB}", "target-files-size"},
		{"an orphan age under an hour would remove files of commits in flight", "defaults: {orphan-age: 10m}", "orphan-age"},
		{"sort and z-order exclude each other", "tables: {raw.x: {sort: [a], z-order: [b, c]}}", "exclude"},
		{"z-order needs two columns", "zones: {raw: {z-order: [a]}}", "z-order"},
		{"a dedupe horizon shorter than the max age is refused", "defaults: {snapshots: {max-age: 48h, dedupe-horizon: 24h}}", "dedupe-horizon"},
		{"a table key must name zone.table", "tables: {events: {sort: [a]}}", "zone.table"},
		{"a size must be a size", "defaults: {target-file-size: big}", "big"},
		{"the scheduler needs a positive poll", "scheduler: {poll: 0s}", "poll"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTheExamplePolicyFileIsValid(t *testing.T) {
	set, err := Load(filepath.Join("..", "..", "deploy", "compaction.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.For("raw", "events")
	if err != nil {
		t.Fatal(err)
	}
	if p.MinInputFiles != 10 || len(p.Partitioning) != 1 || set.Scheduler.BytesPerHour != 20<<30 {
		t.Fatalf("raw.events: %+v, scheduler %+v", p, set.Scheduler)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "deploy", "compaction.example.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestNoFileGivesTheDefaults(t *testing.T) {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.For("raw", "anything")
	if err != nil {
		t.Fatal(err)
	}
	if p.TargetFileSize != Default().TargetFileSize || set.Scheduler.Poll != DefaultScheduler().Poll {
		t.Fatalf("got %+v", p)
	}
}

func TestSizesReadWithOrWithoutUnits(t *testing.T) {
	for in, want := range map[string]Bytes{"128MiB": 128 << 20, "1GB": 1e9, "4096": 4096, "1.5KiB": 1536} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Fatalf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
