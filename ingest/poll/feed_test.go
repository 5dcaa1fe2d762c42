package poll_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore/pgtest"
	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
)

// The feed: prices every 4 hours from 1 March 2024, fetched 15 minutes
// after each window closes.
var (
	feedStart = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	every     = 4 * time.Hour
	delay     = 15 * time.Minute
	symbols   = []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B", "JPM", "V"}
)

// window is the feed's k-th window, from 1.
func window(k int) poll.Window {
	s := feedStart.Add(time.Duration(k-1) * every)
	return poll.Window{Start: s, End: s.Add(every)}
}

// closes is when window k may be fetched.
func closes(k int) time.Time { return window(k).End.Add(delay) }

// quote is one price record.
type quote struct {
	Symbol     string `json:"symbol"`
	Price      any    `json:"price"` // a number, or "n/a" for the unparseable one
	Currency   string `json:"currency"`
	ObservedAt string `json:"observed_at"`
	Venue      string `json:"venue"`
}

// quotes is what the feed holds for window k: k+3 quotes spread over the
// window; in window 4 one has the price "n/a", which the table's float
// column cannot take, unless clean is set.
func quotes(k int, clean bool) []quote {
	w := window(k)
	n := k + 3
	var qs []quote
	for i := range n {
		cents := 10000 + 125*k + 37*i
		if cents%100 == 0 {
			cents++ // keep a fraction, so the first window types price as a float
		}
		q := quote{
			Symbol: symbols[i%len(symbols)], Price: float64(cents) / 100, Currency: "USD",
			ObservedAt: w.Start.Add(time.Duration(i) * every / time.Duration(n)).Format(time.RFC3339),
			Venue:      []string{"XNAS", "XNYS"}[i%2],
		}
		if k == 4 && i == 2 && !clean {
			q.Price = "n/a"
		}
		qs = append(qs, q)
	}
	return qs
}

// bad is how many quotes of window k are to be quarantined.
func bad(k int, clean bool) int64 {
	if k == 4 && !clean {
		return 1
	}
	return 0
}

// priceAPI is a price feed over HTTP: GET /v1/prices?from=&to= with a
// bearer token, RFC 3339 bounds of one aligned window, pages of pageSize
// under data.prices with a relative "next" link.
type priceAPI struct {
	pageSize int
	mu       sync.Mutex
	hits     map[time.Time]int  // first-page requests per window start
	fail     map[time.Time]int  // window start: how many more requests fail
	empty    map[time.Time]bool // windows with no quotes
}

func newPriceAPI(t *testing.T) (*priceAPI, string) {
	a := &priceAPI{pageSize: 3, hits: map[time.Time]int{}, fail: map[time.Time]int{}, empty: map[time.Time]bool{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv.URL
}

func (a *priceAPI) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer feed-token" {
		http.Error(rw, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err := errors.Join(err1, err2); err != nil || to.Sub(from) != every || from.Sub(feedStart)%every != 0 {
		http.Error(rw, fmt.Sprintf(`{"error":"want one aligned 4h window, got %q to %q"}`, q.Get("from"), q.Get("to")), http.StatusBadRequest)
		return
	}
	cursor, _ := strconv.Atoi(q.Get("cursor"))
	a.mu.Lock()
	if q.Get("cursor") == "" {
		a.hits[from]++
	}
	failing := a.fail[from] > 0
	if failing {
		a.fail[from]--
	}
	empty := a.empty[from]
	a.mu.Unlock()
	if failing {
		http.Error(rw, `{"error":"upstream timeout"}`, http.StatusServiceUnavailable)
		return
	}
	var qs []quote
	if !empty {
		qs = quotes(int(from.Sub(feedStart)/every)+1, false)
	}
	end := min(cursor+a.pageSize, len(qs))
	resp := map[string]any{"data": map[string]any{"prices": qs[min(cursor, end):end]}, "next": nil}
	if end < len(qs) {
		q.Set("cursor", strconv.Itoa(end))
		resp["next"] = "/v1/prices?" + q.Encode()
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(resp) // the client sees a cut-off body
}

func (a *priceAPI) hitsOf(k int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[window(k).Start]
}

func (a *priceAPI) totalHits() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, h := range a.hits {
		n += h
	}
	return n
}

func httpFetch(url string) poll.Fetch {
	return poll.Fetch{HTTP: &poll.HTTP{
		URL:     url + "/v1/prices?from={start}&to={end}",
		Headers: map[string]string{"Authorization": "Bearer feed-token"},
		Items:   "data.prices",
		Next:    "next",
	}}
}

// sqliteFeed writes the quotes of windows 1 to 8 into a SQLite table;
// prices are REAL, and SQLite keeps the "n/a" as text.
func sqliteFeed(t *testing.T) poll.Fetch {
	dsn := filepath.Join(env.Dir, "feed.db")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := db.Exec(`CREATE TABLE quotes (symbol TEXT, price REAL, currency TEXT, observed_at TEXT, venue TEXT)`); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 8; k++ {
		for _, q := range quotes(k, false) {
			if _, err := db.Exec(`INSERT INTO quotes VALUES (?, ?, ?, ?, ?)`, q.Symbol, q.Price, q.Currency, q.ObservedAt, q.Venue); err != nil {
				t.Fatal(err)
			}
		}
	}
	return poll.Fetch{SQL: &poll.SQL{Driver: "sqlite", DSN: dsn,
		Query: `SELECT symbol, price, currency, observed_at, venue FROM quotes WHERE observed_at >= ? AND observed_at < ? ORDER BY observed_at`}}
}

// postgresFeed is the same on a throwaway PostgreSQL server, with NUMERIC
// prices and timestamptz times (so every quote is clean); it skips when
// PostgreSQL is not installed, unless CI=true.
func postgresFeed(t *testing.T) poll.Fetch {
	ctx := context.Background()
	dir := filepath.Join(env.Dir, "postgres")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dsn, stop, err := pgtest.Start(ctx, dir)
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := db.ExecContext(ctx, `CREATE TABLE quotes (symbol text, price numeric(12,2), currency text, observed_at timestamptz, venue text)`); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 8; k++ {
		for _, q := range quotes(k, true) {
			if _, err := db.ExecContext(ctx, `INSERT INTO quotes VALUES ($1, $2, $3, $4, $5)`, q.Symbol, q.Price, q.Currency, q.ObservedAt, q.Venue); err != nil {
				t.Fatal(err)
			}
		}
	}
	return poll.Fetch{SQL: &poll.SQL{Driver: "pgx", DSN: dsn,
		Query: `SELECT symbol, price, currency, observed_at, venue FROM quotes WHERE observed_at >= $1 AND observed_at < $2 ORDER BY observed_at`}}
}

// batchCounts counts, per window batch id, the snapshots of ident that
// carry it.
func batchCounts(t *testing.T, sink *ingest.Sink, ident table.Identifier) (map[string]int, *table.Table) {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range tbl.Metadata().Snapshots() {
		if s.Summary != nil {
			counts[s.Summary.Properties[ingest.BatchIDProperty]]++
		}
	}
	return counts, tbl
}

// landedRows reads ident and groups its rows' symbols and source
// positions by batch id.
func landedRows(t *testing.T, tbl *table.Table, cols ...string) map[string][][]string {
	t.Helper()
	got, err := tbl.Scan(table.WithSelectedFields(append([]string{ingest.ColBatchID}, cols...)...)).ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	rows := map[string][][]string{}
	rd := array.NewTableReader(got, 1024)
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		idx := map[string]int{}
		for i, f := range rec.Schema().Fields() {
			idx[f.Name] = i
		}
		for r := range int(rec.NumRows()) {
			var row []string
			for _, c := range cols {
				row = append(row, rec.Column(idx[c]).ValueStr(r))
			}
			batch := rec.Column(idx[ingest.ColBatchID]).ValueStr(r)
			rows[batch] = append(rows[batch], row)
		}
	}
	return rows
}

// reports collects what OnWindow is told.
type reports struct {
	mu   sync.Mutex
	list []poll.WindowReport
}

func (r *reports) add(w poll.WindowReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, w)
}

func (r *reports) take() []poll.WindowReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}
