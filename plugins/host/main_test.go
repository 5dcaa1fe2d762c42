package host

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
)

var (
	env  stacktest.Env
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
	os.Exit(stacktest.Run(m, &env, stacktest.Options{
		Name:  "plugins-host-test",
		Short: testing.Short(),
		Prepare: func(ctx context.Context, env *stacktest.Env) (err error) {
			bins, err = gobuild.Build(ctx, env.Dir, "../examples/minimal", "./testdata/garbage", "./testdata/probe", "./testdata/future")
			return err
		},
	}))
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
