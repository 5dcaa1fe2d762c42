package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

// ledger is what the clients sent and which of it was acknowledged.
type ledger struct {
	mu       sync.Mutex
	good     map[string]bool // event id → acknowledged
	bad      map[string]bool // marker of a malformed event → acknowledged
	requests int
	acked    int
	problems []string
}

func (l *ledger) record(good, bad []string, acked bool, problem string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	if acked {
		l.acked++
	}
	for _, id := range good {
		l.good[id] = acked
	}
	for _, id := range bad {
		l.bad[id] = acked
	}
	if problem != "" {
		l.problems = append(l.problems, problem)
	}
}

func TestAcknowledgedEventsLandExactlyOnceAcrossKills(t *testing.T) {
	needStack(t)
	const minKills, clients = 22, 4
	start := time.Now()
	ident := table.Identifier{"raw", "clicks_crash"}
	spoolDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "collector.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	// The listener outlives every collector process: connections made
	// while none runs wait in its backlog for the next one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	lnFile, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lnFile.Close() }()
	url := "http://" + ln.Addr().String()
	crashAfterCommits := "1"
	startChild := func() *exec.Cmd {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"=1", childCatalogEnv+"="+stk.CatalogURL(),
			childSpoolEnv+"="+spoolDir, childTableEnv+"="+strings.Join(ident, "."), childCrashEnv+"="+crashAfterCommits)
		cmd.ExtraFiles = []*os.File{lnFile}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("collector logs (last 8 KiB):\n%s", b[max(0, len(b)-8<<10):])
		}
	})

	led := &ledger{good: map[string]bool{}, bad: map[string]bool{}}
	ctx, stopClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { postEvents(ctx, url, i, led) })
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill schedule seed %d", seed)
	var selfKilled int
	for kills := 0; kills < minKills; {
		cmd := startChild()
		exited := make(chan struct{})
		go func() { defer close(exited); _ = cmd.Wait() }()
		select {
		case <-exited:
			selfKilled++
		case <-time.After(time.Duration(80+rng.IntN(900)) * time.Millisecond):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			kills++
		}
		if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("collector process ended by %v, not by SIGKILL", cmd.ProcessState)
		}
	}
	stopClients()
	wg.Wait()
	killed := time.Since(start)
	crashAfterCommits = ""

	final := startChild()
	if err := waitDrained(url, 60*time.Second); err != nil {
		_ = final.Process.Kill()
		_ = final.Wait()
		t.Fatal(err)
	}
	if err := final.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := final.Wait(); err != nil {
		t.Fatalf("collector did not stop cleanly: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(spoolDir, "seg-*.sealed")); len(left) > 0 {
		t.Errorf("spool still holds %d sealed segments after draining", len(left))
	}

	for _, p := range led.problems {
		t.Error(p)
	}
	landed := columnCounts(t, ident, "event_id", nil)
	marker := regexp.MustCompile(`b-\d+-\d+`)
	quarantined := columnCounts(t, ingest.QuarantineTable(ident), "raw_payload", func(s string) string { return marker.FindString(s) })
	check := func(what string, sent map[string]bool, got map[string]int) (ackedN, unackedLanded int) {
		for id, acked := range sent {
			n := got[id]
			switch {
			case acked && n != 1:
				t.Errorf("acknowledged %s %s landed %d times, want once", what, id, n)
			case !acked && n > 1:
				t.Errorf("unacknowledged %s %s landed %d times, want at most once", what, id, n)
			}
			if acked {
				ackedN++
			} else if n == 1 {
				unackedLanded++
			}
		}
		for id := range got {
			if _, ok := sent[id]; !ok {
				t.Errorf("%s %q landed but was never sent", what, id)
			}
		}
		return ackedN, unackedLanded
	}
	ackedGood, strayGood := check("event", led.good, landed)
	ackedBad, strayBad := check("malformed event", led.bad, quarantined)
	if ackedGood < 300 || ackedBad < 10 {
		t.Errorf("too little got through to prove anything: %d events and %d malformed ones acknowledged", ackedGood, ackedBad)
	}
	logs, _ := os.ReadFile(logPath)
	t.Logf("collector runs: %d killed at random moments, %d killed themselves right after a commit; %d replayed a spool, %d flushes landed, %d found their batch already landed, %d cut a torn tail",
		minKills, selfKilled, bytes.Count(logs, []byte("replaying spool")), bytes.Count(logs, []byte("result=landed")),
		bytes.Count(logs, []byte("result=skipped")), bytes.Count(logs, []byte("cutting torn tail")))
	t.Logf("kill phase %s: %d of %d requests acknowledged; events: %d acknowledged, %d unacknowledged of which %d landed; "+
		"malformed: %d acknowledged, %d unacknowledged of which %d quarantined; total %s",
		killed.Round(time.Millisecond), led.acked, led.requests, ackedGood, len(led.good)-ackedGood, strayGood,
		ackedBad, len(led.bad)-ackedBad, strayBad, time.Since(start).Round(time.Millisecond))
}

// postEvents posts requests of fresh events until ctx ends. Events are
// never sent twice, so an unacknowledged request may land at most once.
func postEvents(ctx context.Context, url string, client int, led *ledger) {
	hc := &http.Client{Timeout: 20 * time.Second}
	rng := rand.New(rand.NewPCG(uint64(client), 42))
	seq := 0
	for ctx.Err() == nil {
		body, contentType, good, bad := clickRequest(rng, client, &seq)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/events/raw/clicks_crash", bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", contentType)
		acked, problem := false, ""
		if resp, err := hc.Do(req); err == nil {
			var r Response
			derr := json.NewDecoder(resp.Body).Decode(&r)
			_ = resp.Body.Close()
			if acked = resp.StatusCode == http.StatusAccepted && derr == nil; acked {
				if r.Accepted != len(good) || r.Quarantined != len(bad) || r.Received != len(good)+len(bad) {
					problem = fmt.Sprintf("request %s: answered %d+%d of %d, sent %d valid and %d malformed: %+v",
						r.RequestID, r.Accepted, r.Quarantined, r.Received, len(good), len(bad), r.Rejects)
				}
			}
		}
		led.record(good, bad, acked, problem)
		if !acked {
			time.Sleep(time.Duration(20+rng.IntN(40)) * time.Millisecond)
		}
	}
}

// clickRequest builds one request: a single object, an array or NDJSON of
// storefront events, about one in twelve malformed in one of four ways.
func clickRequest(rng *rand.Rand, client int, seq *int) (body []byte, contentType string, good, bad []string) {
	format := rng.IntN(3)
	n := 1
	if format > 0 {
		n = 1 + rng.IntN(30)
	}
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	var events []string
	for range n {
		*seq++
		if rng.IntN(12) > 0 {
			id := fmt.Sprintf("e-%d-%d", client, *seq)
			good = append(good, id)
			events = append(events, fmt.Sprintf(`{"event_id":%q,"session_id":"s-%d","type":%q,"ts":%q,"url":"/p/%d","price":%d.%02d,"qty":%d}`,
				id, rng.IntN(50), []string{"view", "cart", "search", "buy"}[rng.IntN(4)], ts, rng.IntN(1000), rng.IntN(500), rng.IntN(100), rng.IntN(5)))
			continue
		}
		id := fmt.Sprintf("b-%d-%d", client, *seq)
		bad = append(bad, id)
		switch rng.IntN(4) {
		case 0: // invalid JSON; inside an array its brackets still balance
			if format == 1 {
				events = append(events, fmt.Sprintf(`{"event_id":%q,"type":"view","ts":}`, id))
			} else {
				events = append(events, fmt.Sprintf(`{"event_id":%q,"type":"view","ts":`, id))
			}
		case 1:
			events = append(events, fmt.Sprintf(`{"event_id":%q,"ts":%q}`, id, ts))
		case 2:
			events = append(events, fmt.Sprintf(`{"event_id":%q,"type":"view","ts":%q,"qty":"many"}`, id, ts))
		case 3:
			events = append(events, fmt.Sprintf(`{"event_id":%q,"type":"view","ts":%q,"colour":"red"}`, id, ts))
		}
	}
	switch format {
	case 0:
		return []byte(events[0]), "application/json", good, bad
	case 1:
		return []byte("[" + strings.Join(events, ",\n") + "]"), "application/json; charset=utf-8", good, bad
	}
	return []byte(strings.Join(events, "\n") + "\n"), "application/x-ndjson", good, bad
}

// waitDrained waits until a collector serves with nothing left to flush.
func waitDrained(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			var h Health
			derr := json.NewDecoder(resp.Body).Decode(&h)
			_ = resp.Body.Close()
			if derr == nil && h.Ready && h.SpoolBytes == 0 {
				return nil
			}
			last = fmt.Sprintf("%+v", h)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("spool not drained after %s: %s", timeout, last)
}

// columnCounts counts the values of a string column of a table, each
// passed through key when set.
func columnCounts(t *testing.T, ident table.Identifier, column string, key func(string) string) map[string]int {
	t.Helper()
	ctx := context.Background()
	sink, err := ingest.Open(ctx, stacktest.Logger(), stk.CatalogURL())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := sink.Catalog().LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Scan(table.WithSelectedFields(column)).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	counts := map[string]int{}
	for _, chunk := range got.Column(0).Data().Chunks() {
		col := chunk.(*array.String)
		for i := range col.Len() {
			v := col.Value(i)
			if key != nil {
				v = key(v)
			}
			counts[v]++
		}
	}
	return counts
}
