package trino

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

const (
	nodeEnvironment = "lakehouse"
	nodeIDFile      = "node-id"
	defaultMain     = "io.trino.server.TrinoServer"
)

// property is one key=value line of a Java properties file.
type property struct{ key, value string }

// layout is where one instance's files live. All paths are absolute because
// Trino runs with DataDir as its working directory.
type layout struct {
	installDir string
	dataDir    string
}

func (l layout) etcDir() string     { return filepath.Join(l.dataDir, "etc") }
func (l layout) catalogDir() string { return filepath.Join(l.etcDir(), "catalog") }
func (l layout) serverLog() string  { return filepath.Join(l.dataDir, "var", "log", "server.log") }

// nodeProperties are what bin/launcher would turn into -D flags.
func nodeProperties(l layout, nodeID string) []property {
	return []property{
		{"node.environment", nodeEnvironment},
		{"node.id", nodeID},
		{"node.data-dir", l.dataDir},
		// Without these Trino announces (and calls itself on) the first
		// non-loopback address, which may be unroutable in containers and
		// VMs, and it would serve an unauthenticated SQL endpoint on every
		// interface.
		{"node.internal-address", "127.0.0.1"},
		{"node.bind-ip", "127.0.0.1"},
	}
}

// jvmOptions follows Trino's recommended jvm.config, sized by heapMB.
func jvmOptions(heapMB int) []string {
	return []string{
		"-server",
		fmt.Sprintf("-Xmx%dm", heapMB),
		"-XX:+UseG1GC",
		"-XX:G1HeapRegionSize=32M",
		"-XX:+ExplicitGCInvokesConcurrent",
		"-XX:+ExitOnOutOfMemoryError",
		"-XX:-OmitStackTraceInFastThrow",
		"-XX:ReservedCodeCacheSize=256M",
		"-XX:PerMethodRecompilationCutoff=10000",
		"-XX:PerBytecodeRecompilationCutoff=10000",
		"-Djdk.attach.allowAttachSelf=true",
		"-Djdk.nio.maxCachedBufferSize=2000000",
		"-XX:+EnableDynamicAgentLoading",
		// bin/launcher adds the Vector API module itself (Trino's Parquet
		// decoder uses it); we run java directly, so we add it too.
		"--add-modules=jdk.incubator.vector",
		// Silence JDK 24+ warnings about JNA and sun.misc.Unsafe that would
		// otherwise open every server.log.
		"--enable-native-access=ALL-UNNAMED",
		"--sun-misc-unsafe-memory-access=allow",
	}
}

func configProperties(cfg Config, l layout) []property {
	port := strconv.Itoa(cfg.HTTPPort)
	return []property{
		{"coordinator", "true"},
		{"node-scheduler.include-coordinator", "true"},
		{"http-server.http.port", port},
		{"discovery.uri", "http://127.0.0.1:" + port},
		{"query.max-memory", fmt.Sprintf("%dMB", cfg.HeapMB/2)},
		{"query.max-memory-per-node", fmt.Sprintf("%dMB", cfg.HeapMB*3/10)},
		// The coordinator is the only worker and registers itself a few
		// seconds after startup; make early queries wait for it rather
		// than fail with "No nodes available to run query".
		{"query-manager.required-workers", "1"},
		{"query-manager.required-workers-max-wait", "1m"},
		{"http-server.log.enabled", "false"},
		// Both default to paths relative to the working directory; pin them
		// so the install stays read-only and shared between instances.
		{"plugin.dir", filepath.Join(l.installDir, "plugin")},
		{"catalog.config-dir", l.catalogDir()},
	}
}

// logProperties keeps server.log to warnings plus the startup banner.
func logProperties() []property {
	return []property{
		// airlift's config dump (~900 lines) logs under the bare name
		// "Bootstrap"; io.airlift does not cover it.
		{"Bootstrap", "WARN"},
		{"io.airlift", "WARN"},
		{"org.hibernate.validator", "WARN"},
		{"io.trino", "WARN"},
		{"io.trino.server.Server", "INFO"},
		{"org.eclipse.jetty", "WARN"},
		{"org.apache.iceberg", "WARN"},
	}
}

func lakehouseCatalog(c CatalogConfig) []property {
	props := []property{
		{"connector.name", "iceberg"},
		{"iceberg.catalog.type", "rest"},
		{"iceberg.rest-catalog.uri", c.URI},
		{"iceberg.rest-catalog.nested-namespace-enabled", "false"},
		{"fs.native-s3.enabled", "true"},
	}
	if c.S3Endpoint != "" {
		props = append(props, property{"s3.endpoint", c.S3Endpoint})
	}
	region := c.S3Region
	if region == "" {
		region = DefaultS3Region // WithDefaults normally fills it in
	}
	props = append(props, property{"s3.region", region})
	props = append(props, property{"s3.path-style-access", "true"})
	if c.S3AccessKey != "" {
		props = append(props,
			property{"s3.aws-access-key", c.S3AccessKey},
			property{"s3.aws-secret-key", c.S3SecretKey})
	}
	return append(props, property{"iceberg.file-format", "PARQUET"})
}

// etcFiles renders every file under DataDir/etc, keyed by relative path.
func etcFiles(cfg Config, l layout, nodeID string) map[string]string {
	return map[string]string{
		"node.properties":                        formatProperties(nodeProperties(l, nodeID)),
		"jvm.config":                             strings.Join(jvmOptions(cfg.HeapMB), "\n") + "\n",
		"config.properties":                      formatProperties(configProperties(cfg, l)),
		"log.properties":                         formatProperties(logProperties()),
		"catalog/" + CatalogName + ".properties": formatProperties(lakehouseCatalog(cfg.Catalog)),
		"catalog/tpch.properties":                formatProperties([]property{{"connector.name", "tpch"}}),
	}
}

// writeEtc writes etc/ afresh on every start so it always matches cfg. Other
// files (extra catalogs a user dropped in) are left alone. Files are 0600
// because the catalog holds the S3 secret.
func writeEtc(cfg Config, l layout, nodeID string) error {
	for rel, content := range etcFiles(cfg, l, nodeID) {
		path := filepath.Join(l.etcDir(), filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// launchArgs is the java command line bin/launcher would build: the class
// path, jvm.config, node.properties as system properties, then the config
// files and the main class.
func launchArgs(cfg Config, l layout, nodeID, mainClass string) []string {
	args := []string{"-cp", filepath.Join(l.installDir, "lib", "*")}
	args = append(args, jvmOptions(cfg.HeapMB)...)
	for _, p := range nodeProperties(l, nodeID) {
		args = append(args, "-D"+p.key+"="+p.value)
	}
	return append(args,
		"-Dconfig="+filepath.Join(l.etcDir(), "config.properties"),
		"-Dlog.levels-file="+filepath.Join(l.etcDir(), "log.properties"),
		mainClass)
}

// formatProperties writes Java properties, escaping values so backslashes
// and leading spaces survive (secrets may contain either).
func formatProperties(props []property) string {
	var b strings.Builder
	for _, p := range props {
		b.WriteString(p.key)
		b.WriteByte('=')
		v := strings.ReplaceAll(p.value, `\`, `\\`)
		if strings.HasPrefix(v, " ") {
			v = `\` + v
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

// loadNodeID returns the node id stored in dataDir, creating one on first
// use so the node keeps its identity across restarts.
func loadNodeID(dataDir string) (string, error) {
	valid := regexp.MustCompile(`^[A-Za-z0-9][_A-Za-z0-9-]*$`)
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil && valid.MatchString(strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading node id: %w", err)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generating node id: %w", err)
	}
	id := "lakehouse-" + hex.EncodeToString(raw)
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("storing node id: %w", err)
	}
	return id, nil
}

// mainClass reads main-class from bin/launcher.properties, the launcher's
// own source of truth, falling back to the class Trino 476 uses.
func mainClass(installDir string) string {
	f, err := os.Open(filepath.Join(installDir, "bin", "launcher.properties"))
	if err != nil {
		return defaultMain
	}
	defer func() { _ = f.Close() }() // read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "main-class="); ok && v != "" {
			return strings.TrimSpace(v)
		}
	}
	return defaultMain
}

// writeFileAtomic writes via a temp file and rename so a crash never leaves
// a truncated file behind.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name()) // best effort; the write error matters more
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
