package generator

import (
	"errors"
	"fmt"
	"time"
)

// Upper bounds keep a typo (an extra zero or three) from exhausting memory:
// Generate holds every table in memory at once.
const (
	maxEntities       = 50_000_000
	maxEventsPerOrder = 1_000
	maxEvents         = 500_000_000
	maxDays           = 36_500
)

// Spec sizes a dataset; the same Spec always yields the same data.
//
// A zero field means "use the default" (see [Spec.WithDefaults]), so a zero
// Spec is valid and equals [DefaultSpec]. A consequence is that Seed 0 selects
// the default seed, 42.
type Spec struct {
	// Seed seeds every random stream. Default 42.
	Seed int64
	// Customers is the number of customers. Default 2_000.
	Customers int
	// Products is the number of products. Default 500.
	Products int
	// Orders is the number of orders. Default 10_000.
	Orders int
	// EventsPerOrder is the average number of clickstream events per order,
	// counting both the session that placed the order and unrelated browsing.
	// Default 8.
	EventsPerOrder int
	// Start is the earliest order time; customers and products predate it,
	// and the session that places an early order may begin minutes before
	// it. Default 2026-01-01T00:00:00Z.
	Start time.Time
	// Days is how many days the orders are spread over. Default 90.
	Days int
	// BatchRows is the most rows one Arrow record batch holds. It changes only
	// where batches split, never the data. Default 65_536.
	BatchRows int
}

// DefaultSpec returns the Spec used when every field is left zero.
func DefaultSpec() Spec {
	return Spec{
		Seed:           42,
		Customers:      2_000,
		Products:       500,
		Orders:         10_000,
		EventsPerOrder: 8,
		Start:          time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
		Days:           90,
		BatchRows:      65_536,
	}
}

// WithDefaults returns s with every zero field replaced by its default.
// Start is normalised to UTC and truncated to microseconds, the precision of
// the generated timestamps.
func (s Spec) WithDefaults() Spec {
	d := DefaultSpec()
	if s.Seed == 0 {
		s.Seed = d.Seed
	}
	if s.Customers == 0 {
		s.Customers = d.Customers
	}
	if s.Products == 0 {
		s.Products = d.Products
	}
	if s.Orders == 0 {
		s.Orders = d.Orders
	}
	if s.EventsPerOrder == 0 {
		s.EventsPerOrder = d.EventsPerOrder
	}
	if s.Start.IsZero() {
		s.Start = d.Start
	}
	s.Start = s.Start.UTC().Truncate(time.Microsecond)
	if s.Days == 0 {
		s.Days = d.Days
	}
	if s.BatchRows == 0 {
		s.BatchRows = d.BatchRows
	}
	return s
}

// Validate reports every out-of-range field of s at once. Zero fields are
// valid because they take their defaults. Each reported error wraps
// [ErrInvalidSpec].
func (s Spec) Validate() error {
	var errs []error
	check := func(name string, v, limit int) {
		switch {
		case v < 0:
			errs = append(errs, fmt.Errorf("%w: %s must not be negative, got %d", ErrInvalidSpec, name, v))
		case v > limit:
			errs = append(errs, fmt.Errorf("%w: %s must be at most %d, got %d", ErrInvalidSpec, name, limit, v))
		}
	}
	check("Customers", s.Customers, maxEntities)
	check("Products", s.Products, maxEntities)
	check("Orders", s.Orders, maxEntities)
	check("EventsPerOrder", s.EventsPerOrder, maxEventsPerOrder)
	check("Days", s.Days, maxDays)
	check("BatchRows", s.BatchRows, maxEntities)

	d := s.WithDefaults()
	if events := int64(d.Orders) * int64(d.EventsPerOrder); d.Orders <= maxEntities &&
		d.EventsPerOrder <= maxEventsPerOrder && events > maxEvents {
		errs = append(errs, fmt.Errorf("%w: Orders*EventsPerOrder must be at most %d, got %d",
			ErrInvalidSpec, maxEvents, events))
	}
	// Timestamps are microseconds since the epoch in an int64; keeping the
	// window within years 1900..9000 leaves ample headroom either side.
	if y := d.Start.Year(); y < 1900 || y > 9000 {
		errs = append(errs, fmt.Errorf("%w: Start must be between years 1900 and 9000, got %s",
			ErrInvalidSpec, d.Start.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}
