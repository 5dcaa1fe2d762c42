package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
)

// ingestProcess is a child process running the ingestion (see child in
// main_test.go), its log appended to a file.
type ingestProcess struct {
	cmd  *exec.Cmd
	done chan error
}

func startIngest(t *testing.T, cfg childConfig, logFile *os.File) *ingestProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ingestProcess{cmd: cmd, done: make(chan error, 1)}
	// The waiter ends with the process: stopped, killed, or killed by the
	// cleanup, so that a test failing half-way leaves no ingest running.
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

func (p *ingestProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop asks the process to finish (SIGTERM) and wants a clean exit.
func (p *ingestProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("the ingest process exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		p.kill(t)
		t.Error("the ingest process did not stop within 30s of SIGTERM")
	}
}

func TestSIGKILLedIngestProcessesLandEveryRecordExactlyOnce(t *testing.T) {
	needStack(t)
	const (
		topic      = "clicks"
		partitions = 3
		messages   = 20000
		chunk      = 500
		kills      = 20
	)
	start := time.Now()
	brokers := newCluster(t, topic, partitions)
	sink := openSink(t)
	ident := table.Identifier{"exploration", "kafka_clicks"}
	// The table is declared up front, so which records are malformed
	// does not depend on what a first flush would infer from.
	full, err := ingest.WithLineage(eventSchema())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.EnsureTable(context.Background(), ident, full); err != nil {
		t.Fatal(err)
	}

	prod := newProducer(t, brokers, topic, partitions)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var produced sync.WaitGroup
	produced.Go(func() {
		for i := 0; i < messages && ctx.Err() == nil; i += chunk {
			if err := prod.produce(ctx, i, chunk); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(450 * time.Millisecond) // spread over the kills
		}
	})

	logPath := filepath.Join(t.TempDir(), "ingest.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := logFile.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			showLog(t, logPath)
		}
	}()
	cfg := childConfig{Catalog: lake.CatalogURL(), Brokers: brokers, Topics: []string{topic}, Group: "crash",
		InstanceID: "crash-1", Table: ident, FlushRows: 400, FlushInterval: 250 * time.Millisecond}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	advanced := 0
	last := committedTotal(t, sink, ident)
	for range kills {
		p := startIngest(t, cfg, logFile)
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		p.kill(t)
		if now := committedTotal(t, sink, ident); now > last {
			advanced++
			last = now
		}
	}
	t.Logf("%d kills in %v: %d of the runs committed, %d records committed", kills, time.Since(start).Round(time.Millisecond), advanced, last)
	if advanced < kills/4 {
		t.Errorf("only %d of %d killed runs made progress", advanced, kills)
	}

	produced.Wait()
	joined := countInLog(t, logPath, "assigned kafka partitions")
	p := startIngest(t, cfg, logFile)
	waitFor(t, "the last run to join the group", func() bool { return countInLog(t, logPath, "assigned kafka partitions") > joined })
	waitCaughtUp(t, sink, ident, prod.ends(), 60*time.Second)
	p.stop(t)
	if n := countInLog(t, logPath, "level=ERROR"); n > 0 {
		t.Errorf("the ingest processes logged %d errors", n)
	}
	t.Logf("the ingest processes committed %d flushes, rewound %d times and logged %d warnings",
		countInLog(t, logPath, "committed kafka flush"), countInLog(t, logPath, "resuming from the lake's offsets"), countInLog(t, logPath, "level=WARN"))
	all := prod.messages()
	if len(all) != messages {
		t.Fatalf("produced %d messages, want %d", len(all), messages)
	}
	verifyExactlyOnce(t, sink, ident, topic, all)
	t.Logf("verified %d messages exactly once after %v", len(all), time.Since(start).Round(time.Millisecond))
}

func countInLog(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte(s))
}

// showLog logs the end of the ingest processes' log.
func showLog(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Log(err)
		return
	}
	if len(b) > 20000 {
		b = b[len(b)-20000:]
		b = b[bytes.IndexByte(b, '\n')+1:]
	}
	t.Logf("ingest log (end):\n%s", b)
}
