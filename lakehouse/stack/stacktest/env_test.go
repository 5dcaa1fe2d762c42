package stacktest

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
)

// tests stands for testing.M: it records what the tests would have seen.
type tests struct {
	env  *Env
	code int
	ran  bool
	skip string
}

func (m *tests) Run() int {
	m.ran = true
	m.skip = m.env.Skip
	return m.code
}

// These cases start no part (Short, or a failing Prepare): the parts
// themselves are exercised by every package that calls Run.
func TestRunWithoutPartsRunsTheTestsThenCleansUpAndRemovesItsFolder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		testCode int
		prepErr  error
		cleanErr error
		wantCode int
		wantRan  bool
	}{
		{name: "the tests' exit code is the run's", testCode: 3, wantCode: 3, wantRan: true},
		{name: "a failing cleanup fails passing tests", cleanErr: errors.New("stop failed"), wantCode: 1, wantRan: true},
		{name: "a failing Prepare runs no test but still cleans up", prepErr: errors.New("build failed"), wantCode: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env Env
			m := &tests{env: &env, code: tc.testCode}
			var order []string
			code := Run(m, &env, Options{
				Name:  "stacktest-test",
				Short: true,
				Trino: true,
				Prepare: func(_ context.Context, env *Env) error {
					if _, err := os.Stat(env.Dir); err != nil {
						t.Errorf("Prepare runs without the folder: %v", err)
					}
					env.Cleanup(func() error { order = append(order, "first"); return nil })
					env.Cleanup(func() error { order = append(order, "second"); return tc.cleanErr })
					return tc.prepErr
				},
				Setup: func(context.Context, *Env) error {
					t.Error("Setup ran without a stack")
					return nil
				},
			})
			if code != tc.wantCode || m.ran != tc.wantRan {
				t.Errorf("Run = %d, tests ran %v; want %d, %v", code, m.ran, tc.wantCode, tc.wantRan)
			}
			if tc.wantRan && m.skip != "integration test: needs the embedded stack and Trino, not started under -short" {
				t.Errorf("the tests saw Skip %q", m.skip)
			}
			if env.Lake != nil || env.Trino != nil {
				t.Error("a part started under Short")
			}
			if !slices.Equal(order, []string{"second", "first"}) {
				t.Errorf("cleanups ran as %v, want the last registered first", order)
			}
			if _, err := os.Stat(env.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the folder %s is left: %v", env.Dir, err)
			}
		})
	}
}
