package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/laketest"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

func newHost(t *testing.T) *Host {
	t.Helper()
	return New(stacktest.Logger(), t.TempDir(), DefaultConfig())
}

func TestInstallWritesAManifestThatListShows(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	m, err := h.Install(ctx, bins["minimal"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := fileSHA256(bins["minimal"])
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "minimal" || m.Version != "1.0.0" || m.Protocol != sdk.ProtocolVersion || m.SHA256 != want {
		t.Fatalf("manifest = %+v, want minimal 1.0.0 protocol 1 sha256 %s", m, want)
	}
	list, err := List(h.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "minimal" || list[0].Path() != filepath.Join(h.Dir(), "minimal", "minimal") {
		t.Fatalf("List = %+v", list)
	}
	if err := h.Check(ctx, "minimal", []byte(`{"rows":3}`)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	streams, err := h.Discover(ctx, "minimal", []byte(`{"rows":3}`))
	if err != nil || len(streams) != 1 || streams[0].Name != "numbers" || streams[0].Schema.NumFields() != 2 {
		t.Fatalf("Discover = %+v, %v", streams, err)
	}
}

func TestConfigOutsideTheSpecIsRefusedBeforeTheConnectorSeesIt(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	if _, err := h.Install(ctx, bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	err := h.Check(ctx, "minimal", []byte(`{"rows":"many"}`))
	if err == nil || !strings.Contains(err.Error(), "does not match the connector's spec") {
		t.Fatalf("Check with a string for rows = %v, want a spec violation", err)
	}
}

func TestALaunchOfAModifiedExecutableIsRefusedNamingTheChecksum(t *testing.T) {
	ctx := context.Background()
	h := newHost(t)
	m, err := h.Install(ctx, bins["minimal"])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(m.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("tampered")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := h.Launch(ctx, "minimal")
	if err == nil {
		p.Close()
		t.Fatal("Launch of a tampered executable succeeded")
	}
	if !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), `plugin "minimal"`) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Launch error = %v, want a checksum mismatch naming the plugin", err)
	}
	t.Log(err)
}

func TestAPluginThatPrintsToStdoutIsRefusedWithWhatItPrinted(t *testing.T) {
	_, err := newHost(t).Install(context.Background(), bins["garbage"])
	if !errors.Is(err, ErrStdoutGarbage) || !strings.Contains(err.Error(), "hello from a chatty plugin") {
		t.Fatalf("Install = %v, want ErrStdoutGarbage quoting the line", err)
	}
	t.Log(err)
}

func TestAnUninstalledPluginIsNotLaunched(t *testing.T) {
	_, err := newHost(t).Launch(context.Background(), "nope")
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Launch = %v, want ErrNotInstalled", err)
	}
}

func TestAPluginExitsWhenItsHostDies(t *testing.T) {
	h := newHost(t)
	if _, err := h.Install(context.Background(), bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	// The host is a child process (this test binary, see hostChild) that
	// launches the plugin, prints its pid and waits to be killed.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(self, "-test.run=^$")
	child.Env = append(os.Environ(), hostChildEnv+"="+h.Dir())
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatalf("reading the plugin's pid from the host: %v", err)
	}
	if !alive(pid) {
		t.Fatalf("plugin %d is not running while its host is", pid)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait() // killed: the error is expected
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still runs 10s after its host was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func sumOf(t *testing.T, values []any) int64 {
	t.Helper()
	var s int64
	for _, v := range values {
		s += v.(int64)
	}
	return s
}

func TestRunLandsEveryRowOnceAndAnIncrementalRunAddsOnlyNewOnes(t *testing.T) {
	ctx := context.Background()
	sink := env.Sink(t)
	h := newHost(t)
	if _, err := h.Install(ctx, bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	cfg := RunConfig{Plugin: "minimal", Config: json.RawMessage(`{"rows":5000,"batch":1000}`), TablePrefix: "inc_"}
	rep, err := h.Run(ctx, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 1 || rep[0].Rows != 5000 || rep[0].Commits != 5 || rep[0].Mode != sdk.Incremental {
		t.Fatalf("report = %+v, want 5000 rows in 5 incremental commits", rep)
	}
	cfg.Config = json.RawMessage(`{"rows":7500,"batch":1000}`)
	if rep, err = h.Run(ctx, sink, cfg); err != nil || rep[0].Rows != 2500 {
		t.Fatalf("second run = %+v, %v; want 2500 new rows", rep, err)
	}
	ident := table.Identifier{"raw", "inc_numbers"}
	ns := laketest.Column(t, sink, ident, "n")
	if len(ns) != 7500 || laketest.Distinct(ns) != 7500 || sumOf(t, ns) != 7499*7500/2 {
		t.Fatalf("table holds %d rows, %d distinct, sum %d; want 0..7499 once each", len(ns), laketest.Distinct(ns), sumOf(t, ns))
	}
}

func TestAKilledPluginIsRelaunchedAndTheRunResumesFromItsLastCommit(t *testing.T) {
	ctx := context.Background()
	sink := env.Sink(t)
	h := newHost(t)
	if _, err := h.Install(ctx, bins["minimal"]); err != nil {
		t.Fatal(err)
	}
	ident := table.Identifier{"raw", "kill_numbers"}
	const rows = 40000
	var (
		mu     sync.Mutex
		pids   []int
		killed = make(chan error, 1)
	)
	cfg := RunConfig{
		Plugin: "minimal", Config: json.RawMessage(`{"rows":40000,"batch":2000}`), TablePrefix: "kill_",
		Backoff: 100 * time.Millisecond,
		Launched: func(p *Plugin) {
			mu.Lock()
			defer mu.Unlock()
			pids = append(pids, p.Pid())
			if len(pids) > 1 {
				return
			}
			go func() { killed <- killAfterCommits(ctx, sink, ident, "plugin:minimal/numbers", p.Pid(), 3) }()
		},
	}
	rep, err := h.Run(ctx, sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	if rep[0].Attempts < 2 || len(pids) < 2 || pids[0] == pids[1] {
		t.Fatalf("report %+v, pids %v: want a second attempt in a new process", rep, pids)
	}
	ns := laketest.Column(t, sink, ident, "n")
	if len(ns) != rows || laketest.Distinct(ns) != rows || sumOf(t, ns) != (rows-1)*rows/2 {
		t.Fatalf("table holds %d rows, %d distinct, sum %d; want 0..%d once each", len(ns), laketest.Distinct(ns), sumOf(t, ns), rows-1)
	}
	t.Logf("killed pid %d after 3 commits; relaunched as %d; %d attempts, %d commits in the last one", pids[0], pids[1], rep[0].Attempts, rep[0].Commits)
}

// killAfterCommits SIGKILLs pid once the table holds at least n commits of
// source.
func killAfterCommits(ctx context.Context, sink *ingest.Sink, ident table.Identifier, source string, pid int, n int64) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		c, err := lastCommitted(ctx, sink, ident, source)
		if err != nil {
			return err
		}
		if c != nil && c.Seq >= n {
			return syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the run never reached the commit to kill at")
}

func TestAPluginDoesNotInheritTheHostsEnvironment(t *testing.T) {
	t.Setenv("LAKEHOUSE_TEST_SECRET_KEY", "do-not-leak")
	h := newHost(t)
	if _, err := h.Install(context.Background(), bins["probe"]); err != nil {
		t.Fatal(err)
	}
	p, err := h.Launch(context.Background(), "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Connector().Check(context.Background(), json.RawMessage(`{}`))
	if err == nil || !strings.HasPrefix(err.Error(), "env: ") {
		t.Fatalf("probe's Check = %v", err)
	}
	names := strings.Split(strings.TrimPrefix(err.Error(), "env: "), ",")
	if slices.Contains(names, "LAKEHOUSE_TEST_SECRET_KEY") || !slices.Contains(names, "PATH") {
		t.Fatalf("the plugin sees %v: want PATH and not the host's LAKEHOUSE_TEST_SECRET_KEY", names)
	}
}

func TestAPluginOfAnUnknownProtocolVersionIsRefused(t *testing.T) {
	_, err := newHost(t).Install(context.Background(), bins["future"])
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "version") {
		t.Fatalf("Install = %v, want ErrProtocol about the version", err)
	}
	t.Log(err)
}

// counting is a connector in-process: 3 batches of 10 numbers.
type counting struct{ sdk.Unimplemented }

func (counting) Info() sdk.Info { return sdk.Info{Name: "counting", Version: "1"} }

func (counting) Discover(context.Context, json.RawMessage) ([]sdk.Stream, error) {
	return []sdk.Stream{{Name: "n", Schema: countingSchema(), PrimaryKey: []string{"n"}, SyncModes: []sdk.SyncMode{sdk.FullRefresh}}}, nil
}

func countingSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
}

func (counting) Read(_ context.Context, _ json.RawMessage, streams []sdk.StreamRead, w sdk.Writer) error {
	start := int64(0)
	if len(streams[0].State) > 0 {
		if err := json.Unmarshal(streams[0].State, &start); err != nil {
			return err
		}
	}
	for batch := start; batch < 30; batch += 10 {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		for i := batch; i < batch+10; i++ {
			b.Append(i)
		}
		col := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(countingSchema(), []arrow.Array{col}, 10)
		col.Release()
		err := w.Records("n", rec)
		rec.Release()
		if err != nil {
			return err
		}
		if err := w.Checkpoint("n", json.RawMessage(strconv.FormatInt(batch+10, 10))); err != nil {
			return err
		}
	}
	return nil
}

func TestAnInProcessConnectorLandsThroughTheSameCommits(t *testing.T) {
	sink := env.Sink(t)
	rep, err := newHost(t).RunInProcess(context.Background(), sink, counting{}, RunConfig{TablePrefix: "inproc_"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 1 || rep[0].Rows != 30 || rep[0].Commits != 3 || strings.Join(rep[0].Table, ".") != "raw.inproc_n" {
		t.Fatalf("report %+v, want 30 rows in 3 commits into raw.inproc_n", rep)
	}
	c, err := lastCommitted(context.Background(), sink, rep[0].Table, "plugin:counting/n")
	if err != nil || c == nil || string(c.State) != "30" || !c.Done || c.Seq != 3 {
		t.Fatalf("last committed checkpoint = %+v, %v; want state 30, done, seq 3", c, err)
	}
	if n := laketest.Column(t, sink, rep[0].Table, "n"); len(n) != 30 || laketest.Distinct(n) != 30 {
		t.Fatalf("table holds %d rows, %d distinct; want 0..29", len(n), laketest.Distinct(n))
	}
}
