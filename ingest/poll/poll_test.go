package poll_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/poll"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// The acceptance test of polled windows: land windows 1 and 2 on schedule,
// stop the service while windows 3, 4 and 5 close, restart it: exactly
// those three land, once each; a backfill over 1 to 5 lands nothing more.
func TestRunBackfillsExactlyTheWindowsMissedDuringDowntimeOnce(t *testing.T) {
	sink := env.Sink(t)
	type feed struct {
		name  string
		table string
		clean bool // the feed cannot carry the unparseable quote
		setup func(t *testing.T) (poll.Fetch, *priceAPI)
	}
	for _, f := range []feed{
		{"an HTTP API paging JSON with a next link", "prices_http", false, func(t *testing.T) (poll.Fetch, *priceAPI) {
			api, url := newPriceAPI(t)
			return httpFetch(url), api
		}},
		{"a SQLite query", "prices_sqlite", false, func(t *testing.T) (poll.Fetch, *priceAPI) { return sqliteFeed(t), nil }},
		{"a PostgreSQL query", "prices_postgres", true, func(t *testing.T) (poll.Fetch, *priceAPI) { return postgresFeed(t), nil }},
	} {
		t.Run(f.name, func(t *testing.T) {
			ctx := context.Background()
			fetch, api := f.setup(t)
			ident := table.Identifier{"raw", f.table}
			var seen reports
			cfg := poll.Config{Table: ident, Every: every, Start: feedStart, Delay: delay, Fetch: fetch,
				Retry: poll.Retry{Attempts: 1}, OnWindow: seen.add}
			clock := newFakeClock(closes(1))

			svc := startService(t, sink, cfg, clock)
			if at := clock.idle(t); !at.Equal(closes(2)) {
				t.Fatalf("after window 1 Run waits until %v, want window 2's close %v", at, closes(2))
			}
			clock.set(closes(2)) // the scheduled tick
			if at := clock.idle(t); !at.Equal(closes(3)) {
				t.Fatalf("after window 2 Run waits until %v, want %v", at, closes(3))
			}
			svc.stop(t)
			clock.forget()
			checkReports(t, seen.take(), f.clean, 1, 2)

			clock.set(closes(5).Add(time.Hour)) // down while windows 3, 4 and 5 close
			st, err := poll.Status(ctx, sink, cfg, clock)
			if err != nil {
				t.Fatal(err)
			}
			if got := starts(st.Missing); !slices.Equal(got, []int{3, 4, 5}) || len(st.Landed) != 2 || !st.Next.Start.Equal(window(6).Start) {
				t.Fatalf("status during downtime: missing windows %v, %d landed, next %v; want 3 4 5 missing, 2 landed, next window 6", got, len(st.Landed), st.Next)
			}

			svc = startService(t, sink, cfg, clock)
			if at := clock.idle(t); !at.Equal(closes(6)) {
				t.Fatalf("after the backfill Run waits until %v, want %v", at, closes(6))
			}
			svc.stop(t)
			checkReports(t, seen.take(), f.clean, 3, 4, 5)

			if api != nil {
				for k := 1; k <= 5; k++ {
					if n := api.hitsOf(k); n != 1 {
						t.Errorf("window %d was fetched %d times, want once", k, n)
					}
				}
				if n := api.totalHits(); n != 5 {
					t.Errorf("the API saw %d window fetches, want 5", n)
				}
			}
			checkTables(t, sink, ident, f.clean, api != nil)

			// A backfill over windows 1 to 5 finds them all landed.
			snapshotsBefore, _ := batchCounts(t, sink, ident)
			reps, err := poll.Backfill(ctx, stacktest.Logger(), sink, cfg, clock, window(1).Start, window(5).End)
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 5 {
				t.Fatalf("backfill reported %d windows, want 5", len(reps))
			}
			for i, r := range reps {
				if !r.Start.Equal(window(i+1).Start) || r.Attempts != 0 || r.Skipped != r.Received || r.Received != int64(len(quotes(i+1, f.clean))) {
					t.Errorf("backfill of window %d: %+v, want it skipped with its %d records", i+1, r, len(quotes(i+1, f.clean)))
				}
			}
			snapshotsAfter, _ := batchCounts(t, sink, ident)
			if fmt.Sprint(snapshotsAfter) != fmt.Sprint(snapshotsBefore) {
				t.Errorf("backfill changed the history: %v, was %v", snapshotsAfter, snapshotsBefore)
			}
			if api != nil && api.totalHits() != 5 {
				t.Errorf("backfill fetched: the API saw %d window fetches, want still 5", api.totalHits())
			}
			st, err = poll.Status(ctx, sink, cfg, clock)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Missing) != 0 || len(st.Landed) != 5 {
				t.Fatalf("status at the end: %d landed, missing %v; want 5 landed, none missing", len(st.Landed), st.Missing)
			}
		})
	}
}

// starts numbers windows by the feed's count.
func starts(ws []poll.Window) []int {
	var ks []int
	for _, w := range ws {
		ks = append(ks, int(w.Start.Sub(feedStart)/every)+1)
	}
	return ks
}

// checkReports: each of the windows landed once, in order, and its
// accepted and quarantined records add up to what the feed served.
func checkReports(t *testing.T, got []poll.WindowReport, clean bool, windows ...int) {
	t.Helper()
	if len(got) != len(windows) {
		t.Fatalf("%d window reports, want %d (windows %v): %+v", len(got), len(windows), windows, got)
	}
	for i, k := range windows {
		r := got[i]
		served := int64(len(quotes(k, clean)))
		switch {
		case r.Err != nil:
			t.Errorf("window %d failed: %v", k, r.Err)
		case !r.Start.Equal(window(k).Start) || !r.End.Equal(window(k).End) || !strings.HasSuffix(r.BatchID, "/"+window(k).Start.Format(time.RFC3339)):
			t.Errorf("report %d is of window %v (%s), want window %d", i, r.Window, r.BatchID, k)
		case r.Received != served || r.Accepted+r.Quarantined != r.Received || r.Quarantined != bad(k, clean) || r.Skipped != 0 || r.Attempts != 1:
			t.Errorf("window %d: received %d, accepted %d, quarantined %d, skipped %d in %d attempts; want %d received, %d quarantined, once",
				k, r.Received, r.Accepted, r.Quarantined, r.Skipped, r.Attempts, served, bad(k, clean))
		}
	}
}

// checkTables: each window's batch id is in the history exactly once, with
// its bounds, and the table holds exactly the quotes the feed served.
func checkTables(t *testing.T, sink *ingest.Sink, ident table.Identifier, clean, paged bool) {
	t.Helper()
	counts, tbl := batchCounts(t, sink, ident)
	want := map[string]int{}
	for k := 1; k <= 5; k++ {
		want[poll.BatchID(ident, window(k).Start)] = 1
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("batch ids in the history of %v: %v, want each window once: %v", ident, counts, want)
	}
	for _, s := range tbl.Metadata().Snapshots() {
		props := s.Summary.Properties
		var pos struct{ WindowStart, WindowEnd time.Time }
		raw := strings.NewReplacer("window_start", "WindowStart", "window_end", "WindowEnd").Replace(props[ingest.PositionProperty])
		if err := json.Unmarshal([]byte(raw), &pos); err != nil || props[ingest.BatchIDProperty] != poll.BatchID(ident, pos.WindowStart) || pos.WindowEnd.Sub(pos.WindowStart) != every {
			t.Errorf("snapshot of %s records window %q", props[ingest.BatchIDProperty], props[ingest.PositionProperty])
		}
	}
	var types []string
	for _, c := range []string{"symbol", "price", "currency", "observed_at", "venue"} {
		f, ok := tbl.Schema().FindFieldByName(c)
		if !ok {
			t.Fatalf("table %v has no column %q", ident, c)
		}
		types = append(types, f.Type.String())
	}
	if want := "[string double string timestamptz string]"; fmt.Sprint(types) != want {
		t.Errorf("column types %v, want %s", types, want)
	}
	rows := landedRows(t, tbl, "symbol", "price", ingest.ColSourcePosition)
	for k := 1; k <= 5; k++ {
		var wantRows [][]string
		for i, q := range quotes(k, clean) {
			if p, ok := q.Price.(float64); ok {
				pos := fmt.Sprintf("row %d", i+1)
				if paged {
					pos = fmt.Sprintf("page %d item %d", i/3+1, i%3+1)
				}
				wantRows = append(wantRows, []string{q.Symbol, fmt.Sprint(p), pos})
			}
		}
		if got := rows[poll.BatchID(ident, window(k).Start)]; fmt.Sprint(got) != fmt.Sprint(wantRows) {
			t.Errorf("window %d landed rows\n%v\nwant\n%v", k, got, wantRows)
		}
	}
	if clean {
		return
	}
	qcounts, qtbl := batchCounts(t, sink, ingest.QuarantineTable(ident))
	w4 := ingest.QuarantineBatchID(poll.BatchID(ident, window(4).Start))
	if fmt.Sprint(qcounts) != fmt.Sprint(map[string]int{w4: 1}) {
		t.Errorf("quarantine history %v, want %s once", qcounts, w4)
	}
	got, err := qtbl.Scan(table.WithSelectedFields("batch_id", "position", "reason", "raw_payload")).ToArrowTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumRows() != 1 {
		t.Fatalf("quarantine holds %d rows, want the one unparseable quote", got.NumRows())
	}
	var cells []string
	for _, name := range []string{"batch_id", "position", "reason", "raw_payload"} {
		i := got.Schema().FieldIndices(name)[0]
		cells = append(cells, got.Column(i).Data().Chunk(0).ValueStr(0))
	}
	wantPos := "row 3"
	if paged {
		wantPos = "page 1 item 3"
	}
	if cells[0] != poll.BatchID(ident, window(4).Start) || cells[1] != wantPos || !strings.Contains(cells[2], "price") || !strings.Contains(cells[3], "n/a") {
		t.Errorf("quarantined row %q, want window 4's quote at %s with the price as the reason", cells, wantPos)
	}
}

// A window whose fetch keeps failing is reported, stays missing while
// later windows land, and lands once when the source recovers.
func TestAFailingWindowIsRetriedLaterAndLandsOnce(t *testing.T) {
	ctx := context.Background()
	sink := env.Sink(t)
	api, url := newPriceAPI(t)
	api.fail[window(2).Start] = 3 // two tries in the first pass, one in the second
	ident := table.Identifier{"raw", "prices_retry"}
	var seen reports
	cfg := poll.Config{Table: ident, Every: every, Start: feedStart, Delay: delay, Fetch: httpFetch(url),
		Retry: poll.Retry{Attempts: 2, Backoff: time.Second, After: time.Minute}, OnWindow: seen.add}
	clock := newFakeClock(closes(3))
	svc := startService(t, sink, cfg, clock)

	// Window 1 lands; window 2 fails its first try and Run backs off.
	at := clock.idle(t)
	if want := closes(3).Add(time.Second); !at.Equal(want) {
		t.Fatalf("Run waits until %v, want the backoff until %v", at, want)
	}
	clock.set(at)
	// Window 2 fails again and is given up for this pass; window 3 lands.
	at = clock.idle(t)
	if want := closes(3).Add(time.Second + time.Minute); !at.Equal(want) {
		t.Fatalf("Run waits until %v, want the retry of window 2 at %v", at, want)
	}
	reps := seen.take()
	if len(reps) != 3 || reps[0].Err != nil || reps[2].Err != nil || !reps[1].Start.Equal(window(2).Start) || reps[1].Attempts != 2 {
		t.Fatalf("first pass reports %+v, want 1 landed, 2 failed after 2 tries, 3 landed", reps)
	}
	var se *poll.StatusError
	if !errors.As(reps[1].Err, &se) || se.Code != 503 {
		t.Fatalf("window 2 failed with %v, want the API's 503", reps[1].Err)
	}
	st, err := poll.Status(ctx, sink, cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got := starts(st.Missing); !slices.Equal(got, []int{2}) || len(st.Landed) != 2 {
		t.Fatalf("status after the failure: missing %v, %d landed; want window 2 missing, 2 landed", got, len(st.Landed))
	}

	// The retry pass: one more failure, a backoff, then it lands.
	clock.set(at)
	at = clock.idle(t)
	clock.set(at)
	if at = clock.idle(t); !at.Equal(closes(4)) {
		t.Fatalf("after window 2 landed Run waits until %v, want window 4's close %v", at, closes(4))
	}
	svc.stop(t)
	reps = seen.take()
	if len(reps) != 1 || reps[0].Err != nil || !reps[0].Start.Equal(window(2).Start) || reps[0].Attempts != 2 || reps[0].Received != int64(len(quotes(2, false))) {
		t.Fatalf("retry pass reports %+v, want window 2 landed on its second try", reps)
	}
	for k, want := range map[int]int{1: 1, 2: 4, 3: 1} {
		if n := api.hitsOf(k); n != want {
			t.Errorf("window %d was requested %d times, want %d", k, n, want)
		}
	}
	counts, _ := batchCounts(t, sink, ident)
	for k := 1; k <= 3; k++ {
		if n := counts[poll.BatchID(ident, window(k).Start)]; n != 1 {
			t.Errorf("window %d is in the history %d times, want once", k, n)
		}
	}
}

// Empty windows are recorded too (a zero-row commit), so they count as
// landed and are not fetched again; before the table exists the record
// goes to the quarantine table, whose columns are fixed.
func TestEmptyWindowsAreRecordedAndNotFetchedAgain(t *testing.T) {
	ctx := context.Background()
	sink := env.Sink(t)
	api, url := newPriceAPI(t)
	api.empty[window(1).Start] = true
	api.empty[window(3).Start] = true
	ident := table.Identifier{"raw", "prices_sparse"}
	cfg := poll.Config{Table: ident, Every: every, Start: feedStart, Delay: delay, Fetch: httpFetch(url)}
	clock := newFakeClock(closes(3))
	reps, err := poll.Backfill(ctx, stacktest.Logger(), sink, cfg, clock, feedStart, window(3).End)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 || reps[0].Received != 0 || reps[1].Received != int64(len(quotes(2, false))) || reps[2].Received != 0 {
		t.Fatalf("first backfill %+v, want windows of 0, %d and 0 records", reps, len(quotes(2, false)))
	}
	again, err := poll.Backfill(ctx, stacktest.Logger(), sink, cfg, clock, feedStart, window(3).End)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Attempts != 0 {
			t.Errorf("window %v was fetched again: %+v", r.Window, r)
		}
	}
	if n := api.totalHits(); n != 3 {
		t.Errorf("the API saw %d window fetches, want 3", n)
	}
	st, err := poll.Status(ctx, sink, cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Landed) != 3 || len(st.Missing) != 0 {
		t.Fatalf("status: %d landed, missing %v; want 3 landed", len(st.Landed), st.Missing)
	}
	data, _ := batchCounts(t, sink, ident)
	quarantine, _ := batchCounts(t, sink, ingest.QuarantineTable(ident))
	w := func(k int) string { return poll.BatchID(ident, window(k).Start) }
	if data[w(2)] != 1 || data[w(3)] != 1 || quarantine[ingest.QuarantineBatchID(w(1))] != 1 {
		t.Fatalf("history: data %v, quarantine %v; want windows 2 and 3 in the table and 1 in the quarantine", data, quarantine)
	}
}
