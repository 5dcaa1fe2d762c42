package files

import (
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

func TestInferenceTypesAColumnByAllItsSampledValues(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   arrowfill.Kind
	}{
		{"whole numbers are int64", []string{"1", "-20", "0", "9223372036854775807"}, arrowfill.Int64},
		{"whole numbers with a decimal among them are float64", []string{"1", "2.5", "-3e2"}, arrowfill.Float64},
		{"a leading zero keeps codes such as zip prefixes strings", []string{"35182", "01012"}, arrowfill.String},
		{"a number beyond int64 is a float64", []string{"1", "92233720368547758070"}, arrowfill.Float64},
		{"true and false in any common case are bool", []string{"true", "FALSE", "True"}, arrowfill.Bool},
		{"0 and 1 are numbers, not bool", []string{"0", "1"}, arrowfill.Int64},
		{"dates are date", []string{"2018-08-15", "2017-01-31"}, arrowfill.Date},
		{"dates and times without zone are timestamp", []string{"2018-08-15 00:00:00", "2018-08-15T04:10:37.5", "2017-08-01"}, arrowfill.Timestamp},
		{"times with a zone are timestamp with zone", []string{"2019-10-01 00:00:00 UTC", "2019-10-01T02:00:00+02:00", "2019-10-01T00:00:00Z"}, arrowfill.TimestampTZ},
		{"zoned and unzoned times together are strings", []string{"2019-10-01 00:00:00 UTC", "2019-10-01 00:00:00"}, arrowfill.String},
		{"an impossible date is a string", []string{"2019-02-30"}, arrowfill.String},
		{"US-style dates stay strings", []string{"12/1/10 8:26"}, arrowfill.String},
		{"hex, Inf and NaN are not numbers", []string{"0x1F", "Inf", "NaN"}, arrowfill.String},
		{"a column without values is string", nil, arrowfill.String},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mask := anyKind
			for _, v := range tt.values {
				mask &= textMask(v)
			}
			if got := inferKind(mask); got != tt.want {
				t.Fatalf("inferred %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTimestampsWithAZoneAreStoredInUTC(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Time
	}{
		{"UTC after a space", "2019-10-01 00:00:00 UTC", time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"an offset with a colon", "2019-10-01T02:30:00+02:30", time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)},
		{"a negative offset without a colon", "2019-10-01T00:00:00.123456-0300", time.Date(2019, 10, 1, 3, 0, 0, 123456000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := column{name: "ts", kind: arrowfill.TimestampTZ}
			got, err := c.convertText(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.I != tt.want.UnixMicro() {
				t.Fatalf("%s: got %v, want %v", tt.in, time.UnixMicro(got.I).UTC(), tt.want)
			}
		})
	}
}
