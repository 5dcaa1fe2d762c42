package policy

import (
	"errors"
	"fmt"
	"time"
)

// Scheduler configures the maintenance loop of `compact serve` and
// `lakehouse up`.
type Scheduler struct {
	// Poll is how often table metadata is checked for new commits.
	// Default 30s.
	Poll time.Duration `yaml:"poll"`
	// Debounce: a table is looked at once it has had no commit for this
	// long, so a burst of commits causes one pass. Default 1m.
	Debounce time.Duration `yaml:"debounce"`
	// MaxWait bounds the debounce: a table committed to without pause is
	// looked at after this long anyway. Default 15m.
	MaxWait time.Duration `yaml:"max-wait"`
	// Interval is how often every table is looked at even without commits
	// (expiry and orphans depend on time, not on commits). Default 1h.
	Interval time.Duration `yaml:"interval"`
	// ConcurrentRewrites is how many tables one worker maintains at once.
	// Default 1.
	ConcurrentRewrites int `yaml:"concurrent-rewrites"`
	// BytesPerHour caps the data bytes one worker rewrites per hour, so
	// maintenance leaves the storage and the cores to ingestion. 0 means no
	// cap. Default 0.
	BytesPerHour Bytes `yaml:"bytes-per-hour"`
	// LeaseTTL is how long a worker holds a table's lease without renewing
	// it. Default 2m.
	LeaseTTL time.Duration `yaml:"lease-ttl"`
	// Zones lists the namespaces maintained. Default raw, cleansed,
	// curated, exploration.
	Zones []string `yaml:"zones"`
}

// DefaultScheduler is the Scheduler of a file that sets none.
func DefaultScheduler() Scheduler {
	return Scheduler{
		Poll:               30 * time.Second,
		Debounce:           time.Minute,
		MaxWait:            15 * time.Minute,
		Interval:           time.Hour,
		ConcurrentRewrites: 1,
		LeaseTTL:           2 * time.Minute,
		Zones:              []string{"raw", "cleansed", "curated", "exploration"},
	}
}

// Validate reports what is wrong with s.
func (s Scheduler) Validate() error {
	var errs []error
	if s.Poll <= 0 || s.Debounce < 0 || s.MaxWait < s.Debounce || s.Interval <= 0 {
		errs = append(errs, fmt.Errorf("poll, debounce, max-wait, interval: need poll > 0, 0 <= debounce <= max-wait, interval > 0"))
	}
	if s.ConcurrentRewrites < 1 {
		errs = append(errs, fmt.Errorf("concurrent-rewrites %d is below 1", s.ConcurrentRewrites))
	}
	if s.BytesPerHour < 0 {
		errs = append(errs, fmt.Errorf("bytes-per-hour is negative"))
	}
	if s.LeaseTTL < 5*time.Second {
		errs = append(errs, fmt.Errorf("lease-ttl %s is below 5s", s.LeaseTTL))
	}
	if len(s.Zones) == 0 {
		errs = append(errs, fmt.Errorf("zones is empty"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: scheduler: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}
