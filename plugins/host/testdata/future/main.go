// Command future is a plugin that speaks only protocol version 2, which
// this host does not know, for the host's version negotiation test.
package main

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

func main() {
	hs := sdk.Handshake()
	hs.ProtocolVersion = 2
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{2: {sdk.PluginName: &sdk.GRPCPlugin{}}},
		GRPCServer:       func(opts []grpc.ServerOption) *grpc.Server { return grpc.NewServer(opts...) },
		Logger:           sdk.Logger("future"),
	})
}
