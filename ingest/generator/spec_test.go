package generator_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/ingest/generator"
)

func TestZeroSpecTakesEveryDefault(t *testing.T) {
	want := generator.Spec{
		Seed: 42, Customers: 2_000, Products: 500, Orders: 10_000, EventsPerOrder: 8,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 90, BatchRows: 65_536,
	}
	if got := generator.DefaultSpec(); got != want {
		t.Errorf("DefaultSpec() = %+v, want %+v", got, want)
	}
	if got := (generator.Spec{}).WithDefaults(); got != want {
		t.Errorf("Spec{}.WithDefaults() = %+v, want %+v", got, want)
	}
}

func TestWithDefaultsKeepsSetFields(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	in := generator.Spec{
		Seed: 7, Customers: 3, Products: 4, Orders: 5, EventsPerOrder: 2,
		Start: time.Date(2025, 6, 1, 1, 0, 0, 123_456_789, berlin), Days: 6, BatchRows: 9,
	}
	got := in.WithDefaults()
	want := in
	want.Start = time.Date(2025, 6, 1, 0, 0, 0, 123_456_000, time.UTC)
	if got != want {
		t.Errorf("WithDefaults() = %+v, want %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    generator.Spec
		wantErr []string // substrings of the error; none means valid
	}{
		{name: "a zero spec is valid because every field has a default", spec: generator.Spec{}},
		{name: "a fully set spec is valid", spec: generator.Spec{Seed: 1, Customers: 1, Products: 1, Orders: 1,
			EventsPerOrder: 1, Start: time.Unix(0, 0), Days: 1, BatchRows: 1}},
		{name: "negative customers are rejected", spec: generator.Spec{Customers: -1}, wantErr: []string{"Customers must not be negative"}},
		{name: "negative products are rejected", spec: generator.Spec{Products: -5}, wantErr: []string{"Products must not be negative"}},
		{name: "negative orders are rejected", spec: generator.Spec{Orders: -1}, wantErr: []string{"Orders must not be negative"}},
		{name: "negative events per order are rejected", spec: generator.Spec{EventsPerOrder: -1}, wantErr: []string{"EventsPerOrder must not be negative"}},
		{name: "negative days are rejected", spec: generator.Spec{Days: -90}, wantErr: []string{"Days must not be negative"}},
		{name: "negative batch rows are rejected", spec: generator.Spec{BatchRows: -1}, wantErr: []string{"BatchRows must not be negative"}},
		{name: "absurd sizes are rejected before allocating", spec: generator.Spec{Orders: 1_000_000_000}, wantErr: []string{"Orders must be at most"}},
		{name: "too many events in total are rejected", spec: generator.Spec{Orders: 10_000_000, EventsPerOrder: 100},
			wantErr: []string{"Orders*EventsPerOrder must be at most"}},
		{name: "a start outside the supported years is rejected", spec: generator.Spec{Start: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)},
			wantErr: []string{"Start must be between"}},
		{name: "every problem is reported at once", spec: generator.Spec{Customers: -1, Days: -1},
			wantErr: []string{"Customers must not be negative", "Days must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, generator.ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidSpec", err)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestGenerateRejectsAnInvalidSpec(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tables, err := generator.Generate(mem, generator.Spec{Orders: -1})
	if !errors.Is(err, generator.ErrInvalidSpec) {
		t.Fatalf("Generate() error = %v, want ErrInvalidSpec", err)
	}
	if !strings.HasPrefix(err.Error(), "validating spec: ") {
		t.Errorf("Generate() error = %q, want it to name the action", err)
	}
	if tables != nil {
		t.Errorf("Generate() returned %d tables with an error", len(tables))
	}
}
