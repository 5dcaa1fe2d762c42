// Command lakehouse-postgres is the bundled PostgreSQL connector plugin.
package main

import (
	"github.com/lakehouse-go/lakehouse/plugins/connectors/postgres"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

func main() { sdk.Serve(postgres.Connector{}) }
