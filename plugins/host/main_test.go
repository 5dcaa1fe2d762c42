package host

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
)

var (
	lake *stack.Stack
	bins map[string]string // name → built executable
)

// hostChildEnv, when set to a plugin folder, makes the test binary a host
// that launches the minimal plugin, prints its pid and waits to be killed.
const hostChildEnv = "LAKEHOUSE_PLUGIN_HOST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(hostChildEnv); dir != "" {
		os.Exit(hostChild(dir))
	}
	flag.Parse()
	os.Exit(testMain(m))
}

func hostChild(dir string) int {
	p, err := New(stacktest.Logger(), dir, DefaultConfig()).Launch(context.Background(), "minimal")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.Pid())
	time.Sleep(time.Minute)
	p.Close()
	return 0
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plugins-host-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bins, err = gobuild.Build(context.Background(), dir, "../examples/minimal", "./testdata/garbage", "./testdata/probe", "./testdata/future"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if testing.Short() {
		return m.Run()
	}
	return stacktest.Main(m, "plugins-host-test-", &lake)
}
