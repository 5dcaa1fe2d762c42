package plugintest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/lakehouse-go/lakehouse/plugins/internal/gobuild"
	"github.com/lakehouse-go/lakehouse/plugins/sdk/plugintest"
)

var bins map[string]string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugintest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if bins, err = gobuild.Build(context.Background(), dir, "../../examples/minimal", "../../examples/broken"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestTheMinimalExampleConforms(t *testing.T) {
	plugintest.Run(t, plugintest.Launch(t, bins["minimal"]), plugintest.Options{Config: json.RawMessage(`{"rows":2500,"batch":1000}`)})
}

func TestTheBrokenExampleFailsWithMessagesThatSayWhy(t *testing.T) {
	results := plugintest.Check(plugintest.Launch(t, bins["broken"]), plugintest.Options{Config: json.RawMessage(`{}`)})
	want := map[string][]string{
		"info names the connector and its version":                                           {"Info().Version is empty"},
		"spec is a valid JSON Schema that accepts the test config":                           {"Spec() is not a valid JSON Schema", "at '/type': value must be one of"},
		"check accepts the test config":                                                      nil,
		"discover lists streams with schemas keys and sync modes":                            nil,
		"discover returns the same schemas every time":                                       {`stream "items": schema changed between two Discover calls`, "int32"},
		"read sends batches of the discovered schema and ends each stream with a checkpoint": {`stream "items": Read did not end with a checkpoint`},
		"read resumed from a checkpoint neither loses nor repeats a record":                  {`stream "items": the resumed read repeated 10 record(s)`},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(want), results)
	}
	for _, r := range results {
		frags, ok := want[r.Check]
		switch {
		case !ok:
			t.Errorf("unexpected check %q", r.Check)
		case frags == nil && r.Err != nil:
			t.Errorf("%s: failed with %v, want a pass", r.Check, r.Err)
		case frags != nil && r.Err == nil:
			t.Errorf("%s: passed, want a failure mentioning %q", r.Check, frags)
		case frags != nil:
			for _, f := range frags {
				if !strings.Contains(r.Err.Error(), f) {
					t.Errorf("%s: message %q lacks %q", r.Check, r.Err, f)
				}
			}
			t.Logf("%s: %v", r.Check, r.Err)
		}
	}
}
