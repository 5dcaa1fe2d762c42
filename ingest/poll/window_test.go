package poll

import (
	"errors"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the DST case needs a zone database on every machine

	"github.com/apache/iceberg-go/table"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func starts(seq func(func(Window) bool)) []string {
	var out []string
	for w := range seq {
		if w.End.Sub(w.Start) <= 0 {
			panic("empty window")
		}
		out = append(out, w.Start.Format(time.RFC3339))
	}
	return out
}

func TestDueWindowsAreTheClosedOnesOnTheGridSinceStart(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin") // time/tzdata is linked in: never missing
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		start     time.Time
		every     time.Duration
		delay     time.Duration
		horizon   time.Duration
		now       string
		wantDue   []string
		wantClose string // nextClose(now)
	}{
		{
			name:  "nothing is due before the first window has closed",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour,
			now: "2024-03-01T03:59:59Z", wantDue: nil, wantClose: "2024-03-01T04:00:00Z",
		},
		{
			name:  "a window is due the moment it ends when there is no delay",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour,
			now: "2024-03-01T08:00:00Z", wantDue: []string{"2024-03-01T00:00:00Z", "2024-03-01T04:00:00Z"}, wantClose: "2024-03-01T12:00:00Z",
		},
		{
			name:  "a window is due only Delay after its end",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour, delay: 15 * time.Minute,
			now: "2024-03-01T08:14:59Z", wantDue: []string{"2024-03-01T00:00:00Z"}, wantClose: "2024-03-01T08:15:00Z",
		},
		{
			name:  "at exactly end plus Delay the window is due and the next close is a window later",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour, delay: 15 * time.Minute,
			now: "2024-03-01T08:15:00Z", wantDue: []string{"2024-03-01T00:00:00Z", "2024-03-01T04:00:00Z"}, wantClose: "2024-03-01T12:15:00Z",
		},
		{
			name:  "windows align to Start, not to midnight",
			start: ts("2024-03-01T01:30:00Z"), every: 4 * time.Hour,
			now: "2024-03-01T10:00:00Z", wantDue: []string{"2024-03-01T01:30:00Z", "2024-03-01T05:30:00Z"}, wantClose: "2024-03-01T13:30:00Z",
		},
		{
			name:  "a delay longer than the window keeps several windows open",
			start: ts("2024-03-01T00:00:00Z"), every: time.Hour, delay: 150 * time.Minute,
			now: "2024-03-01T05:00:00Z", wantDue: []string{"2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"}, wantClose: "2024-03-01T05:30:00Z",
		},
		{
			name:  "the horizon drops windows the source no longer keeps",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour, horizon: 10 * time.Hour,
			now: "2024-03-02T00:00:00Z", wantDue: []string{"2024-03-01T16:00:00Z", "2024-03-01T20:00:00Z"}, wantClose: "2024-03-02T04:00:00Z",
		},
		{
			name:  "a horizon reaching before Start changes nothing",
			start: ts("2024-03-01T00:00:00Z"), every: 4 * time.Hour, horizon: 1000 * time.Hour,
			now: "2024-03-01T08:00:00Z", wantDue: []string{"2024-03-01T00:00:00Z", "2024-03-01T04:00:00Z"}, wantClose: "2024-03-01T12:00:00Z",
		},
		{
			name: "windows across a daylight-saving change stay Every long and are named in UTC",
			// 22:00 CET on the night clocks in Berlin jump from 2:00 to 3:00.
			start: time.Date(2024, 3, 30, 22, 0, 0, 0, berlin), every: 4 * time.Hour,
			now:     "2024-03-31T08:59:59Z",
			wantDue: []string{"2024-03-30T21:00:00Z", "2024-03-31T01:00:00Z"}, wantClose: "2024-03-31T09:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Config{Start: tt.start, Every: tt.every, Delay: tt.delay, Horizon: tt.horizon}.grid()
			now := ts(tt.now)
			if got := starts(g.due(now)); !slices.Equal(got, tt.wantDue) {
				t.Errorf("due %v, want %v", got, tt.wantDue)
			}
			if got := g.nextClose(now).Format(time.RFC3339); got != tt.wantClose {
				t.Errorf("next close %s, want %s", got, tt.wantClose)
			}
			if !g.nextClose(now).After(now) {
				t.Errorf("next close %v is not after now", g.nextClose(now))
			}
		})
	}
}

func TestTheGridExtendsBeforeStartAndRoundsBothWays(t *testing.T) {
	g := Config{Start: ts("2024-03-01T02:00:00Z"), Every: 4 * time.Hour}.grid()
	tests := []struct {
		name, at, floor, ceil string
	}{
		{"a time on the grid is its own floor and ceiling", "2024-03-01T06:00:00Z", "2024-03-01T06:00:00Z", "2024-03-01T06:00:00Z"},
		{"a time inside a window rounds to its bounds", "2024-03-01T07:59:59Z", "2024-03-01T06:00:00Z", "2024-03-01T10:00:00Z"},
		{"a time before Start rounds on the same grid", "2024-02-29T23:00:00Z", "2024-02-29T22:00:00Z", "2024-03-01T02:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.floor(ts(tt.at)).Format(time.RFC3339); got != tt.floor {
				t.Errorf("floor %s, want %s", got, tt.floor)
			}
			if got := g.ceil(ts(tt.at)).Format(time.RFC3339); got != tt.ceil {
				t.Errorf("ceil %s, want %s", got, tt.ceil)
			}
		})
	}
}

func TestBackfillRangesCoverTheClosedWindowsTheyOverlap(t *testing.T) {
	g := Config{Start: ts("2024-03-01T00:00:00Z"), Every: 4 * time.Hour, Delay: 15 * time.Minute}.grid()
	now := ts("2024-03-02T00:00:00Z") // the window [20:00, 24:00) is still open
	tests := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"a range on the grid covers its windows", "2024-03-01T04:00:00Z", "2024-03-01T12:00:00Z", []string{"2024-03-01T04:00:00Z", "2024-03-01T08:00:00Z"}},
		{"a range off the grid covers every window it touches", "2024-03-01T05:00:00Z", "2024-03-01T08:00:01Z", []string{"2024-03-01T04:00:00Z", "2024-03-01T08:00:00Z"}},
		{"a range before Start starts at Start", "2024-02-01T00:00:00Z", "2024-03-01T04:00:00Z", []string{"2024-03-01T00:00:00Z"}},
		{"a range into the future stops at the last closed window", "2024-03-01T16:00:00Z", "2024-03-09T00:00:00Z", []string{"2024-03-01T16:00:00Z"}},
		{"an empty range covers nothing", "2024-03-01T04:00:00Z", "2024-03-01T04:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := starts(g.overlapping(now, ts(tt.from), ts(tt.to))); !slices.Equal(got, tt.want) {
				t.Errorf("windows %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBatchIDsNameTheTableAndTheWindowStartInUTC(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	got := BatchID(table.Identifier{"raw", "prices"}, time.Date(2024, 3, 1, 9, 0, 0, 0, tokyo))
	if want := "window/raw.prices/2024-03-01T00:00:00Z"; got != want {
		t.Fatalf("batch id %q, want %q", got, want)
	}
}

func TestConfigsThatCannotRunAreRefusedWithTheReason(t *testing.T) {
	valid := func() Config {
		return Config{
			Table: table.Identifier{"raw", "prices"}, Every: 4 * time.Hour, Start: ts("2024-03-01T00:00:00Z"),
			Fetch: Fetch{HTTP: &HTTP{URL: "https://api.example.com/prices?from={start}&to={end}"}},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"a table without a zone", func(c *Config) { c.Table = table.Identifier{"prices"} }},
		{"a window length below a second", func(c *Config) { c.Every = 500 * time.Millisecond }},
		{"a window length that is not whole seconds", func(c *Config) { c.Every = 1500 * time.Millisecond }},
		{"no start", func(c *Config) { c.Start = time.Time{} }},
		{"a start with a fraction of a second", func(c *Config) { c.Start = c.Start.Add(time.Millisecond) }},
		{"a negative delay", func(c *Config) { c.Delay = -time.Minute }},
		{"both HTTP and SQL", func(c *Config) { c.Fetch.SQL = &SQL{Driver: "sqlite", Query: "SELECT 1"} }},
		{"neither HTTP nor SQL", func(c *Config) { c.Fetch.HTTP = nil }},
		{"a relative URL", func(c *Config) { c.Fetch.HTTP.URL = "/prices" }},
		{"a next-page path without an items path", func(c *Config) { c.Fetch.HTTP.Next = "next" }},
		{"a native time format for HTTP", func(c *Config) { c.Fetch.HTTP.TimeFormat = NativeTime }},
		{"an unregistered SQL driver", func(c *Config) {
			c.Fetch = Fetch{SQL: &SQL{Driver: "oracle", Query: "SELECT 1"}}
		}},
		{"an empty SQL query", func(c *Config) { c.Fetch = Fetch{SQL: &SQL{Driver: "sqlite", Query: " "}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestFailedWindowsAreRetriedLaterBackingOffUpToAWindow(t *testing.T) {
	r := Retry{After: time.Minute}
	var got []time.Duration
	for passes := 1; passes <= 10; passes++ {
		got = append(got, r.after(passes, 4*time.Hour))
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, 64 * time.Minute, 128 * time.Minute, 4 * time.Hour, 4 * time.Hour}
	if !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	if d := (Retry{}).backoff(3); d != 4*time.Second {
		t.Fatalf("third backoff %v, want 4s", d)
	}
}
