// Command garbage is a plugin that prints to stdout before its handshake,
// for the host's test of that mistake.
package main

import (
	"fmt"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

type quiet struct{ sdk.Unimplemented }

func (quiet) Info() sdk.Info { return sdk.Info{Name: "garbage", Version: "0.0.1"} }

func main() {
	fmt.Println("hello from a chatty plugin")
	sdk.Serve(quiet{})
}
