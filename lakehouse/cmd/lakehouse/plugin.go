package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/plugins/host"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

const pluginUsage = `usage: lakehouse plugin <command> [flags]

commands:
  install PATH...   install connector plugin executables into the plugin folder
  list [--paths]    list installed plugins (--paths: each executable's path)
  check NAME        check a configuration (--config FILE) against the plugin's source
  discover NAME     list the streams the plugin offers for --config FILE
  run NAME          land the plugin's streams (--config FILE) in zone tables

The plugin folder is --plugin-dir, env LAKEHOUSE_PLUGIN_DIR, default
$LAKEHOUSE_STATE_DIR/plugins (.lakehouse/plugins). Plugins are verified
against their manifest's sha256 before every launch. Run
'lakehouse plugin <command> -h' for its flags; plugins/GUIDE.md explains
how to write one.
`

// pluginFlags are the flags every plugin command has.
type pluginFlags struct {
	dir, config string
}

func (f *pluginFlags) register(fs *flag.FlagSet, withConfig bool) {
	def := filepath.Join(envOr("LAKEHOUSE_STATE_DIR", ".lakehouse"), "plugins")
	fs.StringVar(&f.dir, "plugin-dir", envOr("LAKEHOUSE_PLUGIN_DIR", def), "plugin folder (env LAKEHOUSE_PLUGIN_DIR)")
	if withConfig {
		fs.StringVar(&f.config, "config", "", "the connector's configuration, a JSON file (required)")
	}
}

func (f *pluginFlags) host(logger *slog.Logger) (*host.Host, error) {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return nil, fmt.Errorf("resolving plugin folder: %w", err)
	}
	return host.New(logger, dir, host.DefaultConfig()), nil
}

func (f *pluginFlags) readConfig() ([]byte, error) {
	if f.config == "" {
		return nil, errors.New("--config is required")
	}
	b, err := os.ReadFile(f.config)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return b, nil
}

func runPlugin(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	cmds := map[string]func(context.Context, *slog.Logger, []string, io.Writer) error{
		"install": runPluginInstall, "list": runPluginList, "check": runPluginCheck,
		"discover": runPluginDiscover, "run": runPluginRun,
	}
	if cmd, ok := cmds[sub]; ok {
		return cmd(ctx, logger, args[1:], stdout)
	}
	fmt.Fprint(os.Stderr, pluginUsage)
	if sub == "-h" || sub == "--help" || sub == "help" {
		return flag.ErrHelp
	}
	return errUsage
}

// pluginArgs parses flags around the positional arguments and wants n of
// them (-1: at least one).
func pluginArgs(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if (n < 0 && len(pos) == 0) || (n >= 0 && len(pos) != n) {
		fmt.Fprintf(fs.Output(), "lakehouse %s: wrong number of arguments\n", fs.Name())
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

func runPluginInstall(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pluginFlags
	fs := flag.NewFlagSet("plugin install", flag.ContinueOnError)
	f.register(fs, false)
	paths, err := pluginArgs(fs, args, -1)
	if err != nil {
		return err
	}
	h, err := f.host(logger)
	if err != nil {
		return err
	}
	for _, p := range paths {
		m, err := h.Install(ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "installed %s %s (protocol %d, sha256 %s)\n", m.Name, m.Version, m.Protocol, m.SHA256)
	}
	return nil
}

func runPluginList(_ context.Context, _ *slog.Logger, args []string, stdout io.Writer) error {
	var f pluginFlags
	fs := flag.NewFlagSet("plugin list", flag.ContinueOnError)
	f.register(fs, false)
	paths := fs.Bool("paths", false, "show each plugin executable's path")
	if _, err := pluginArgs(fs, args, 0); err != nil {
		return err
	}
	list, err := host.List(f.dir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "NAME\tVERSION\tPROTOCOL\tSHA256")
	if *paths {
		fmt.Fprint(tw, "\tPATH")
	}
	fmt.Fprintln(tw)
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s", m.Name, m.Version, m.Protocol, m.SHA256[:16])
		if *paths {
			fmt.Fprintf(tw, "\t%s", m.Path())
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func runPluginCheck(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pluginFlags
	fs := flag.NewFlagSet("plugin check", flag.ContinueOnError)
	f.register(fs, true)
	name, h, cfg, err := pluginCommand(fs, &f, logger, args)
	if err != nil {
		return err
	}
	if err := h.Check(ctx, name, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "plugin %s: configuration OK\n", name)
	return nil
}

func runPluginDiscover(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pluginFlags
	fs := flag.NewFlagSet("plugin discover", flag.ContinueOnError)
	f.register(fs, true)
	name, h, cfg, err := pluginCommand(fs, &f, logger, args)
	if err != nil {
		return err
	}
	streams, err := h.Discover(ctx, name, cfg)
	if err != nil {
		return err
	}
	for _, st := range streams {
		var modes []string
		for _, m := range st.SyncModes {
			modes = append(modes, m.String())
		}
		fmt.Fprintf(stdout, "stream %s  key [%s]  cursor [%s]  modes [%s]\n", st.Name,
			strings.Join(st.PrimaryKey, ", "), strings.Join(st.CursorFields, ", "), strings.Join(modes, ", "))
		for _, fld := range st.Schema.Fields() {
			fmt.Fprintf(stdout, "  %-32s %s\n", fld.Name, fld.Type)
		}
	}
	return nil
}

func runPluginRun(ctx context.Context, logger *slog.Logger, args []string, stdout io.Writer) error {
	var f pluginFlags
	fs := flag.NewFlagSet("plugin run", flag.ContinueOnError)
	f.register(fs, true)
	catalogURI := fs.String("catalog", envOr("LAKEHOUSE_CATALOG_URI", "http://127.0.0.1:8181"), "REST catalog URI (env LAKEHOUSE_CATALOG_URI)")
	streams := fs.String("streams", "", "comma-separated streams to read (default all)")
	zone := fs.String("zone", "raw", "zone (namespace) of the tables")
	prefix := fs.String("table-prefix", "", "prefix of the table names (default <plugin>_)")
	mode := fs.String("mode", "", "full_refresh or incremental (default incremental where the stream supports it)")
	name, h, cfg, err := pluginCommand(fs, &f, logger, args)
	if err != nil {
		return err
	}
	run := host.RunConfig{Plugin: name, Config: cfg, Zone: *zone, TablePrefix: *prefix}
	if *streams != "" {
		run.Streams = strings.Split(*streams, ",")
	}
	if *mode != "" {
		if run.Mode, err = sdk.ParseSyncMode(*mode); err != nil {
			return fmt.Errorf("%w: --mode: %w", errUsage, err)
		}
	}
	sink, err := ingest.Open(ctx, logger, *catalogURI)
	if err != nil {
		return err
	}
	reports, err := h.Run(ctx, sink, run)
	for _, r := range reports {
		fmt.Fprintf(stdout, "stream %s → %s: %d rows in %d commits (%s, %d attempt(s))\n",
			r.Stream, strings.Join(r.Table, "."), r.Rows, r.Commits, r.Mode, r.Attempts)
	}
	return err
}

// pluginCommand parses the NAME --config FILE commands.
func pluginCommand(fs *flag.FlagSet, f *pluginFlags, logger *slog.Logger, args []string) (string, *host.Host, []byte, error) {
	pos, err := pluginArgs(fs, args, 1)
	if err != nil {
		return "", nil, nil, err
	}
	cfg, err := f.readConfig()
	if err != nil {
		return "", nil, nil, err
	}
	h, err := f.host(logger)
	if err != nil {
		return "", nil, nil, err
	}
	return pos[0], h, cfg, nil
}
