// Command probe is a plugin whose Check reports the names of its
// environment variables, for the host's test that plugins do not inherit
// the host's environment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

type probe struct{ sdk.Unimplemented }

func (probe) Info() sdk.Info { return sdk.Info{Name: "probe", Version: "0.0.1"} }

func (probe) Check(context.Context, json.RawMessage) error {
	var names []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	sort.Strings(names)
	return errors.New("env: " + strings.Join(names, ","))
}

func main() { sdk.Serve(probe{}) }
