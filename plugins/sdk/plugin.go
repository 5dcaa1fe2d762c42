package sdk

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginv1 "github.com/lakehouse-go/lakehouse/plugins/proto/v1"
)

// PluginName is the name of the connector service in go-plugin's plugin
// set.
const PluginName = "connector"

// MaxMessageSize bounds one gRPC message either way: a record batch of a
// wide table can be tens of megabytes, far above gRPC's 4 MiB default
// receive limit. The host and the SDK's server set it explicitly (go-plugin's
// client would otherwise allow 2 GiB).
const MaxMessageSize = 256 << 20

// Handshake is what host and plugin check before anything else: a plugin
// started by hand (not by a host) says so and exits.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "LAKEHOUSE_PLUGIN_COOKIE",
		MagicCookieValue: "lakehouse-connector-v1-f2b0c1d7",
	}
}

// PluginSets maps each protocol version the SDK speaks to its plugin set;
// impl is nil on the host's side.
func PluginSets(impl Connector) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		1: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCPlugin is the go-plugin glue of protocol version 1.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Connector // the plugin's side; nil on the host's
}

// GRPCServer registers the connector service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterConnectorServer(s, &grpcServer{c: p.Impl})
	return nil
}

// GRPCClient returns a *Client.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// Serve runs c as a plugin until the host stops it or dies. Call it from
// main; it does not return before the plugin is done. Logs written with
// Logger (or any hclog logger on stderr) reach the host's log; nothing
// may be written to stdout before the handshake.
func Serve(c Connector) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	info := c.Info()
	logger := Logger(info.Name)
	parent := os.Getppid()
	go func() {
		if waitForParentExit(ctx, parent, os.Getppid, time.Second) {
			logger.Warn("host process is gone, exiting", "host_pid", parent)
			os.Exit(3)
		}
	}()
	logger.Info("serving connector", "name", info.Name, "version", info.Version, "protocol", ProtocolVersion)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: PluginSets(c),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
}

// Logger is a logger whose lines the host relays into its own log: JSON on
// the plugin's stderr, the format go-plugin parses.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: os.Stderr, JSONFormat: true, Level: hclog.Info})
}

// waitForParentExit reports true once the process's parent is no longer
// parent (the host died and the plugin was re-parented), false when ctx
// ends first. go-plugin alone leaves an orphaned plugin running.
func waitForParentExit(ctx context.Context, parent int, getppid func() int, every time.Duration) bool {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			if getppid() != parent {
				return true
			}
		}
	}
}
