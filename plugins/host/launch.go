package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// Host launches the plugins installed in one folder.
type Host struct {
	logger *slog.Logger
	dir    string
	cfg    Config
}

// Config tunes a Host.
type Config struct {
	// StartTimeout bounds a plugin's start up to its handshake. Default 30s.
	StartTimeout time.Duration
	// Env is passed to plugins: they do not inherit the host's
	// environment, which holds the lake's credentials. Default: PATH, TZ,
	// LANG and TMPDIR as the host has them.
	Env []string
}

// DefaultConfig is the configuration New starts from.
func DefaultConfig() Config {
	var env []string
	for _, k := range []string{"PATH", "TZ", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return Config{StartTimeout: 30 * time.Second, Env: env}
}

// New returns a host of the plugins in dir.
func New(logger *slog.Logger, dir string, cfg Config) *Host {
	return &Host{logger: logger, dir: dir, cfg: cfg}
}

// Dir is the plugin folder.
func (h *Host) Dir() string { return h.dir }

// Plugin is one running plugin process.
type Plugin struct {
	Manifest Manifest
	client   *plugin.Client
	conn     *sdk.Client
}

// Connector is the plugin's connector, over the protocol.
func (p *Plugin) Connector() *sdk.Client { return p.conn }

// Pid is the plugin's process id.
func (p *Plugin) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Close stops the plugin process.
func (p *Plugin) Close() { p.client.Kill() }

// Launch starts installed plugin name after verifying its executable
// against its manifest's checksum.
func (h *Host) Launch(ctx context.Context, name string) (*Plugin, error) {
	m, err := LoadManifest(h.dir, name)
	if err != nil {
		return nil, err
	}
	if err := m.verify(); err != nil {
		return nil, err
	}
	p, err := h.launch(ctx, m.path, m.SHA256, name)
	if err != nil {
		return nil, fmt.Errorf("launching plugin %q: %w", name, err)
	}
	p.Manifest = m
	if p.conn.Info().Name != m.Name {
		p.Close()
		return nil, fmt.Errorf("launching plugin %q: %w: it calls itself %q", name, ErrProtocol, p.conn.Info().Name)
	}
	return p, nil
}

// launch starts the executable at path, which must have checksum sum
// (hex), and asks it for its info.
func (h *Host) launch(ctx context.Context, path, sum, name string) (*Plugin, error) {
	want, err := hex.DecodeString(sum)
	if err != nil {
		return nil, fmt.Errorf("decoding checksum: %w", err)
	}
	cmd := exec.Command(path)
	cmd.Env = append([]string{}, h.cfg.Env...)
	dieWithHost(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: want, Hash: sha256.New()},
		AutoMTLS:         true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     h.cfg.StartTimeout,
		Logger:           relayLogger(h.logger, name),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, classifyStart(err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("dispensing the connector: %w", err)
	}
	conn, ok := raw.(*sdk.Client)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("%w: dispensed %T", ErrProtocol, raw)
	}
	info, _, err := conn.Describe(ctx)
	if err != nil {
		client.Kill()
		return nil, err
	}
	if info.Protocol != client.NegotiatedVersion() {
		client.Kill()
		return nil, fmt.Errorf("%w: it says protocol %d, negotiated %d", ErrProtocol, info.Protocol, client.NegotiatedVersion())
	}
	return &Plugin{client: client, conn: conn}, nil
}

// classifyStart names go-plugin's start errors the way a data engineer
// can act on them.
func classifyStart(err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w (checked again at launch): %w", ErrChecksumMismatch, err)
	case strings.Contains(msg, "unrecognized remote plugin message"):
		_, rest, _ := strings.Cut(err.Error(), "message: ")
		line, _, _ := strings.Cut(rest, "\n")
		return fmt.Errorf("%w: it printed %q; a plugin must leave stdout to go-plugin's handshake and log to stderr", ErrStdoutGarbage, line)
	case strings.Contains(msg, "incompatible api version"), strings.Contains(msg, "incompatible core api version"):
		return fmt.Errorf("%w: this lakehouse speaks protocol version %d: %w", ErrProtocol, sdk.ProtocolVersion, err)
	}
	return fmt.Errorf("starting: %w", err)
}

// Install copies the plugin executable at path into the plugin folder and
// writes its manifest, after launching it once to learn its name, version
// and protocol. Installing a plugin again replaces it.
func (h *Host) Install(ctx context.Context, path string) (Manifest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: %w", path, err)
	}
	sum, err := fileSHA256(abs)
	if err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: checksumming: %w", path, err)
	}
	p, err := h.launch(ctx, abs, sum, filepath.Base(abs))
	if err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: %w", path, err)
	}
	info := p.conn.Info()
	p.Close()
	if !validName.MatchString(info.Name) {
		return Manifest{}, fmt.Errorf("installing plugin %s: %w: name %q is not lower-case letters, digits, - and _", path, ErrProtocol, info.Name)
	}
	dir := filepath.Join(h.dir, info.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: %w", info.Name, err)
	}
	m := Manifest{Name: info.Name, Version: info.Version, Protocol: info.Protocol, SHA256: sum,
		Executable: filepath.Base(abs), InstalledAt: time.Now().UTC().Truncate(time.Second)}
	if err := copyExecutable(abs, filepath.Join(dir, m.Executable)); err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: copying executable: %w", info.Name, err)
	}
	if err := writeManifest(dir, m); err != nil {
		return Manifest{}, fmt.Errorf("installing plugin %s: writing manifest: %w", info.Name, err)
	}
	h.logger.Info("installed plugin", "name", m.Name, "version", m.Version, "sha256", m.SHA256)
	return LoadManifest(h.dir, m.Name)
}

// Check launches plugin name, validates config against its spec and asks
// it to check config.
func (h *Host) Check(ctx context.Context, name string, config []byte) error {
	p, err := h.Launch(ctx, name)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := sdk.ValidateConfig(p.conn.Spec(), config); err != nil {
		return fmt.Errorf("plugin %q: %w", name, err)
	}
	if err := p.conn.Check(ctx, config); err != nil {
		return fmt.Errorf("plugin %q: check failed: %w", name, err)
	}
	return nil
}

// Discover launches plugin name and returns its streams for config.
func (h *Host) Discover(ctx context.Context, name string, config []byte) ([]sdk.Stream, error) {
	p, err := h.Launch(ctx, name)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := sdk.ValidateConfig(p.conn.Spec(), config); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	streams, err := p.conn.Discover(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	return streams, nil
}

// relayLogger turns go-plugin's logger, to which it relays each JSON log
// line of the plugin's stderr, into slog records.
func relayLogger(logger *slog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Output:     &slogWriter{logger: logger.With("plugin", name)},
		JSONFormat: true,
		Level:      hclog.Debug,
	})
}
