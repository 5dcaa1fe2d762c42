// Command lakehouse-http is the bundled REST/JSON API connector plugin.
package main

import (
	"github.com/lakehouse-go/lakehouse/plugins/connectors/http"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

func main() { sdk.Serve(http.Connector{}) }
