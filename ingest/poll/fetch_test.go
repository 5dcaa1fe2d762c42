package poll

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// spooled is what a fetch left: the lines of its spool and their places.
func spooled(t *testing.T, sp *spool) ([]string, []string) {
	t.Helper()
	b, err := os.ReadFile(sp.path())
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.remove(); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), sp.positions
}

func TestHTTPFetchesReadEveryPageOfAWindow(t *testing.T) {
	w := Window{Start: ts("2024-03-01T00:00:00Z"), End: ts("2024-03-01T04:00:00Z")}
	tests := []struct {
		name      string
		cfg       HTTP // URL relative to the test server
		pages     map[string]string
		link      map[string]string // Link header by request URI
		wantLines []string
		wantPos   []string
	}{
		{
			name:      "a JSON array is one record per element, compacted",
			cfg:       HTTP{URL: "/p?from={start}&to={end}"},
			pages:     map[string]string{"/p?from=2024-03-01T00%3A00%3A00Z&to=2024-03-01T04%3A00%3A00Z": "[{\"a\": 1},\n {\"a\": 2}]"},
			wantLines: []string{`{"a":1}`, `{"a":2}`},
			wantPos:   []string{"page 1 item 1", "page 1 item 2"},
		},
		{
			name:      "NDJSON is one record per line and a broken line stays a record to reject",
			cfg:       HTTP{URL: "/p?from={start}&to={end}", TimeFormat: Unix},
			pages:     map[string]string{"/p?from=1709251200&to=1709265600": "{\"a\":1}\n\n{\"a\":\n{\"a\":3}\n"},
			wantLines: []string{`{"a":1}`, `{"a":`, `{"a":3}`},
			wantPos:   []string{"page 1 item 1", "page 1 item 2", "page 1 item 3"},
		},
		{
			name: "an items path and a relative next link are followed to the last page",
			cfg:  HTTP{URL: "/p?from={start}", TimeFormat: UnixMilli, Items: "data.prices", Next: "links.next"},
			pages: map[string]string{
				"/p?from=1709251200000":          `{"data":{"prices":[{"a":1},{"a":2}]},"links":{"next":"/p?from=1709251200000&cursor=2"}}`,
				"/p?from=1709251200000&cursor=2": `{"data":{"prices":[{"a":3}]},"links":{"next":null}}`,
			},
			wantLines: []string{`{"a":1}`, `{"a":2}`, `{"a":3}`},
			wantPos:   []string{"page 1 item 1", "page 1 item 2", "page 2 item 1"},
		},
		{
			name: "a Link header with rel=next is followed",
			cfg:  HTTP{URL: "/p"},
			pages: map[string]string{
				"/p":       `[{"a":1}]`,
				"/p?page2": `[{"a":2}]`,
			},
			link:      map[string]string{"/p": `<https://example.invalid/other>; rel="prev", </p?page2>; rel="next"`},
			wantLines: []string{`{"a":1}`, `{"a":2}`},
			wantPos:   []string{"page 1 item 1", "page 2 item 1"},
		},
		{
			name: "numbered pages are read until one is empty",
			cfg:  HTTP{URL: "/p?page={page}", Items: "items"},
			pages: map[string]string{
				"/p?page=1": `{"items":[{"a":1}]}`,
				"/p?page=2": `{"items":[{"a":2}]}`,
				"/p?page=3": `{"items":[]}`,
			},
			wantLines: []string{`{"a":1}`, `{"a":2}`},
			wantPos:   []string{"page 1 item 1", "page 2 item 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				body, ok := tt.pages[r.URL.RequestURI()]
				if !ok {
					http.Error(rw, "no page "+r.URL.RequestURI(), http.StatusNotFound)
					return
				}
				if l := tt.link[r.URL.RequestURI()]; l != "" {
					rw.Header().Set("Link", l)
				}
				fmt.Fprint(rw, body)
			}))
			defer srv.Close()
			cfg := tt.cfg
			cfg.URL = srv.URL + cfg.URL
			sp, err := newHTTPFetcher(&cfg).fetch(context.Background(), w)
			if err != nil {
				t.Fatal(err)
			}
			lines, pos := spooled(t, sp)
			if !slices.Equal(lines, tt.wantLines) || !slices.Equal(pos, tt.wantPos) {
				t.Fatalf("records %q at %q, want %q at %q", lines, pos, tt.wantLines, tt.wantPos)
			}
		})
	}
}

func TestHTTPFetchesFailOnWhatIsNotAWholeAnswer(t *testing.T) {
	w := Window{Start: ts("2024-03-01T00:00:00Z"), End: ts("2024-03-01T04:00:00Z")}
	tests := []struct {
		name   string
		cfg    HTTP
		status int
		body   string
		want   string
	}{
		{"a server error is an error with its status", HTTP{}, http.StatusServiceUnavailable, "try later", "HTTP 503"},
		{"a cut-off JSON array is an error, not fewer records", HTTP{}, http.StatusOK, `[{"a":1},{"a"`, "reading the JSON array"},
		{"a response without the items path is an error", HTTP{Items: "data.items"}, http.StatusOK, `{"error":"maintenance"}`, `no "data.items"`},
		{"a next link pointing back to the same page is an error", HTTP{Items: "items", Next: "next"}, http.StatusOK, `{"items":[],"next":"/p?api_key=secret"}`, "points back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.WriteHeader(tt.status)
				fmt.Fprint(rw, tt.body)
			}))
			defer srv.Close()
			cfg := tt.cfg
			cfg.URL = srv.URL + "/p?api_key=secret"
			_, err := newHTTPFetcher(&cfg).fetch(context.Background(), w)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %v shows the API key", err)
			}
			var se *StatusError
			if tt.status != http.StatusOK && !errors.As(err, &se) {
				t.Fatalf("error %v is not a StatusError", err)
			}
		})
	}
}

func TestHTTPHeadersCarryTheWindowUnescaped(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		fmt.Fprint(rw, `[]`)
	}))
	defer srv.Close()
	cfg := HTTP{URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer t0ken", "X-Window": "{start}/{end}"}}
	sp, err := newHTTPFetcher(&cfg).fetch(context.Background(), Window{Start: ts("2024-03-01T00:00:00Z"), End: ts("2024-03-01T04:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if sp.count() != 0 {
		t.Fatalf("%d records from an empty array", sp.count())
	}
	_ = sp.remove()
	mu.Lock()
	defer mu.Unlock()
	if got.Get("Authorization") != "Bearer t0ken" || got.Get("X-Window") != "2024-03-01T00:00:00Z/2024-03-01T04:00:00Z" {
		t.Fatalf("headers %v", got)
	}
}

func TestSQLRowsBecomeJSONObjectsTheFilesSourceTypes(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "feed.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		`CREATE TABLE prices (symbol TEXT, price REAL, qty INTEGER, observed_at TEXT, note TEXT, raw BLOB)`,
		`INSERT INTO prices VALUES ('AAPL', 187.25, 10, '2024-03-01T01:00:00Z', NULL, x'00ff')`,
		`INSERT INTO prices VALUES ('MSFT', 402.5, 3, '2024-03-01T02:00:00Z', 'say "hi"', 'text')`,
		`INSERT INTO prices VALUES ('LATE', 1, 1, '2024-03-01T04:00:00Z', NULL, NULL)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	f, err := newSQLFetcher(&SQL{Driver: "sqlite", DSN: dsn, Query: `SELECT * FROM prices WHERE observed_at >= ? AND observed_at < ? ORDER BY observed_at`})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	sp, err := f.fetch(context.Background(), Window{Start: ts("2024-03-01T00:00:00Z"), End: ts("2024-03-01T04:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	lines, pos := spooled(t, sp)
	want := []string{
		`{"symbol":"AAPL","price":187.25,"qty":10,"observed_at":"2024-03-01T01:00:00Z","note":null,"raw":"AP8="}`,
		`{"symbol":"MSFT","price":402.5,"qty":3,"observed_at":"2024-03-01T02:00:00Z","note":"say \"hi\"","raw":"text"}`,
	}
	if !slices.Equal(lines, want) || !slices.Equal(pos, []string{"row 1", "row 2"}) {
		t.Fatalf("records\n%s\nat %q, want\n%s", strings.Join(lines, "\n"), pos, strings.Join(want, "\n"))
	}
}

func TestSQLNumericTextStaysANumber(t *testing.T) {
	tests := []struct {
		name    string
		v       any
		numeric bool
		want    string
	}{
		{"a NUMERIC value handed over as text is a bare number", "187.2300", true, `187.2300`},
		{"NUMERIC NaN is text", "NaN", true, `"NaN"`},
		{"text that looks like a number stays text outside NUMERIC", "00123", false, `"00123"`},
		{"a time is RFC 3339 in UTC", time.Date(2024, 3, 1, 9, 0, 0, 5, time.FixedZone("JST", 9*3600)), false, `"2024-03-01T00:00:00.000000005Z"`},
		{"an infinite float is text", float64Inf(), false, `"+Inf"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(sqlJSON(tt.v, tt.numeric)); got != tt.want {
				t.Fatalf("sqlJSON(%v) = %s, want %s", tt.v, got, tt.want)
			}
		})
	}
}

func float64Inf() float64 {
	var zero float64
	return 1 / zero
}
