package plugintest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Launch starts the plugin executable at path the way the lakehouse does
// (go-plugin, gRPC, AutoMTLS, raised message limits) and returns its
// connector, so that Run checks the executable over the real protocol. The
// process is stopped when the test ends; its log goes to stderr.
func Launch(t testing.TB, path string) *sdk.Client {
	t.Helper()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              exec.Command(path),
		AutoMTLS:         true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: os.Stderr, Level: hclog.Warn}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("launching plugin %s: %v", path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispensing the connector of %s: %v", path, err)
	}
	c := raw.(*sdk.Client)
	if _, _, err := c.Describe(context.Background()); err != nil {
		t.Fatalf("describing plugin %s: %v", path, err)
	}
	return c
}
