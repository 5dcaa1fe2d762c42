// Package poll is the ingest source for polled windows: a REST API or a SQL
// query called once per time window on a schedule (prices every 4 hours,
// orders every hour). Windows are [start, end) intervals of fixed length
// aligned to Config.Start; each closed window is fetched and landed through
// ingest.Sink.Land under the batch id "window/<table>/<start>", so the
// table's snapshot history says which windows are in. Run lands every
// closed window that history lacks, oldest first, at start and whenever a
// window closes: after downtime exactly the missed windows are backfilled,
// each committed once. Backfill (re)lands a range; Status says what is
// landed and what is missing.
package poll

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"
)

// ErrInvalidConfig is returned, wrapped, for a Config that cannot run.
var ErrInvalidConfig = errors.New("invalid poll config")

// Config says which windows land where and how each is fetched.
type Config struct {
	// Table is <zone>.<table>; rejects go to <zone>.<table>__quarantine.
	Table table.Identifier
	// Every is the window length: whole seconds, at least one.
	Every time.Duration
	// Start is the start of the first window; every window starts a whole
	// number of Every after it. Whole seconds; kept in UTC.
	Start time.Time
	// Delay is how long after a window's end it is fetched, for the source
	// to settle (late records, upstream batch jobs). Default 0.
	Delay time.Duration
	// Horizon, when set, is how far back the source keeps data: windows
	// starting more than Horizon before now are no longer fetched by Run
	// (Backfill still tries them). Keep it shorter than the table's
	// snapshot retention, since landed windows are found in the history.
	// Default 0: back to Start.
	Horizon time.Duration
	// Fetch says how one window's records are fetched.
	Fetch Fetch
	// Retry says how failing windows are tried again.
	Retry Retry
	// Source names the source in the lineage columns and the snapshot
	// summary. Default: the URL without its query, or "sql:<driver>".
	Source string
	// OnWindow, when set, is called after each window Run or Backfill
	// landed, skipped or gave up on for now, on the caller's goroutine:
	// it should return quickly (count, export metrics).
	OnWindow func(WindowReport)
}

// Fetch is one window's request: exactly one of HTTP and SQL.
type Fetch struct {
	HTTP *HTTP
	SQL  *SQL
}

// HTTP fetches a window with GET requests.
type HTTP struct {
	// URL is the request URL; {start} and {end} become the window's bounds
	// in TimeFormat (query-escaped), and {page} the page number from 1, for
	// APIs paged by number: pages are read until one has no records.
	URL string
	// Headers are sent with each request; {start} and {end} are replaced
	// there too.
	Headers map[string]string
	// TimeFormat is how {start} and {end} are written. Default RFC3339.
	TimeFormat TimeFormat
	// Items is the dotted path of the records array in a JSON object
	// response ("data.prices"). Empty: the body is a JSON array of records
	// or NDJSON (one record per line).
	Items string
	// Next is the dotted path of the next page's URL (absolute or relative)
	// in a JSON object response; empty or null ends. Without it a Link
	// header with rel="next" is followed.
	Next string
	// MaxPages bounds the pages of one window. Default 1000.
	MaxPages int
	// Client sends the requests. Default: a client with a one-minute timeout.
	Client *http.Client
}

// SQL fetches a window with one query through database/sql.
type SQL struct {
	// Driver is a registered database/sql driver: "sqlite" (modernc.org/sqlite)
	// and "pgx" (PostgreSQL, jackc/pgx) come with this package.
	Driver string
	// DSN is the driver's data source name. A relative SQLite path resolves
	// against the working directory when the first connection opens.
	DSN string
	// Query selects one window's records; its two parameters are the
	// window's start and end, written $1 and $2 (PostgreSQL, SQLite) or
	// ? and ? (SQLite, MySQL), e.g.
	// "SELECT * FROM prices WHERE observed_at >= $1 AND observed_at < $2".
	Query string
	// TimeFormat is how start and end are passed. Default RFC3339 (text,
	// which PostgreSQL casts to the column's type and SQLite compares
	// with ISO 8601 text); Native passes time.Time.
	TimeFormat TimeFormat
}

// TimeFormat is how window bounds are written into a request.
type TimeFormat string

// The time formats.
const (
	RFC3339    TimeFormat = "rfc3339" // 2024-03-01T04:00:00Z (the default)
	Unix       TimeFormat = "unix"    // seconds since 1970
	UnixMilli  TimeFormat = "unixms"  // milliseconds since 1970
	NativeTime TimeFormat = "native"  // time.Time (SQL only)
)

// Retry says how a failing window is tried again. A window is never skipped
// because it failed: it stays missing, is reported, and is tried again.
type Retry struct {
	// Attempts is how often a window is tried in one pass. Default 3.
	Attempts int
	// Backoff is the wait after the first failed try of a pass, doubled
	// after each further one. Default 1s.
	Backoff time.Duration
	// After is how long Run waits before the next pass over a window that
	// failed all the tries of a pass, doubled after each such pass up to
	// the larger of After and Every. Default 1m.
	After time.Duration
}

func (r Retry) attempts() int {
	if r.Attempts > 0 {
		return r.Attempts
	}
	return 3
}

func (r Retry) backoff(try int) time.Duration {
	b := r.Backoff
	if b <= 0 {
		b = time.Second
	}
	return b << min(try-1, 20)
}

// after is the wait before the next pass over a window that failed passes
// passes in a row.
func (r Retry) after(passes int, every time.Duration) time.Duration {
	a := r.After
	if a <= 0 {
		a = time.Minute
	}
	limit := max(a, every)
	d := a << min(passes-1, 30)
	if d <= 0 || d > limit {
		return limit
	}
	return d
}

func (h *HTTP) maxPages() int {
	if h.MaxPages > 0 {
		return h.MaxPages
	}
	return 1000
}

func (h *HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: time.Minute}
}

// Validate says what in c cannot run.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Table) < 2 {
		bad("table %v: want <zone>.<table>", c.Table)
	}
	if c.Every < time.Second || c.Every%time.Second != 0 {
		bad("every %v: want whole seconds, at least 1s", c.Every)
	}
	if c.Start.IsZero() || c.Start.Nanosecond() != 0 {
		bad("start %v: want a time in whole seconds", c.Start)
	}
	if c.Delay < 0 || c.Horizon < 0 {
		bad("delay %v, horizon %v: want zero or more", c.Delay, c.Horizon)
	}
	if c.Retry.Attempts < 0 || c.Retry.Backoff < 0 || c.Retry.After < 0 {
		bad("retry %+v: want zero or more", c.Retry)
	}
	switch {
	case (c.Fetch.HTTP == nil) == (c.Fetch.SQL == nil):
		bad("fetch: want exactly one of HTTP and SQL")
	case c.Fetch.HTTP != nil:
		errs = append(errs, c.Fetch.HTTP.validate())
	default:
		errs = append(errs, c.Fetch.SQL.validate())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (h *HTTP) validate() error {
	u, err := url.Parse(strings.NewReplacer("{start}", "0", "{end}", "0", "{page}", "1").Replace(h.URL))
	if err != nil {
		return fmt.Errorf("http url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("http url %q: want an absolute http or https URL", h.URL)
	}
	if !slices.Contains([]TimeFormat{"", RFC3339, Unix, UnixMilli}, h.TimeFormat) {
		return fmt.Errorf("http time format %q: want rfc3339, unix or unixms", h.TimeFormat)
	}
	if h.Next != "" && h.Items == "" {
		return errors.New("http next: needs items, the path of the records in the same JSON object")
	}
	if h.MaxPages < 0 {
		return fmt.Errorf("http max pages %d: want zero or more", h.MaxPages)
	}
	return nil
}

func (s *SQL) validate() error {
	if !slices.Contains(sql.Drivers(), s.Driver) {
		return fmt.Errorf("sql driver %q is not registered (have %v)", s.Driver, sql.Drivers())
	}
	if strings.TrimSpace(s.Query) == "" {
		return errors.New("sql query is empty")
	}
	if !slices.Contains([]TimeFormat{"", RFC3339, Unix, UnixMilli, NativeTime}, s.TimeFormat) {
		return fmt.Errorf("sql time format %q: want rfc3339, unix, unixms or native", s.TimeFormat)
	}
	return nil
}

// source is what lineage records as the records' origin.
func (c Config) source() string {
	switch {
	case c.Source != "":
		return c.Source
	case c.Fetch.HTTP != nil:
		u, err := url.Parse(c.Fetch.HTTP.URL)
		if err != nil {
			return c.Fetch.HTTP.URL
		}
		u.RawQuery, u.Fragment, u.User = "", "", nil
		return u.String()
	default:
		return "sql:" + c.Fetch.SQL.Driver
	}
}

// format writes t as f says, for URLs, headers and SQL parameters.
func (f TimeFormat) format(t time.Time) any {
	t = t.UTC()
	switch f {
	case Unix:
		return t.Unix()
	case UnixMilli:
		return t.UnixMilli()
	case NativeTime:
		return t
	}
	return t.Format(time.RFC3339)
}
