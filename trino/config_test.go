package trino

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		DataDir:  "/data/trino",
		CacheDir: "/cache/trino",
		HTTPPort: 8080,
		HeapMB:   2048,
		Catalog: CatalogConfig{
			URI:         "http://127.0.0.1:8181",
			S3Endpoint:  "http://127.0.0.1:9000",
			S3Region:    "us-east-1",
			S3AccessKey: "minio",
			S3SecretKey: `se\cret`,
		},
	}
}

func TestWithDefaults(t *testing.T) {
	c := Config{Mirror: "https://mirror.example/maven2/"}.WithDefaults()
	if c.Version != DefaultVersion || c.HTTPPort != DefaultHTTPPort || c.StartTimeout != DefaultStartTimeout {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Mirror != "https://mirror.example/maven2" {
		t.Errorf("Mirror = %q, want the trailing slash trimmed", c.Mirror)
	}
	if c.HeapMB < minDefaultHeapMB || c.HeapMB > maxDefaultHeapMB {
		t.Errorf("HeapMB = %d, want within [%d, %d]", c.HeapMB, minDefaultHeapMB, maxDefaultHeapMB)
	}
	if !strings.HasSuffix(c.CacheDir, filepath.Join("lakehouse", "trino")) {
		t.Errorf("CacheDir = %q, want .../lakehouse/trino", c.CacheDir)
	}
	if d := (Config{}).WithDefaults().Mirror; d != DefaultMirror {
		t.Errorf("default Mirror = %q", d)
	}
}

func TestDefaultHeapMB(t *testing.T) {
	for _, tc := range []struct {
		name       string
		physicalMB int
		want       int
	}{
		{"unknown memory gets the floor", 0, 1024},
		{"a small machine gets the floor", 2048, 1024},
		{"24 GiB gets a quarter", 24 * 1024, 6144},
		{"a big server is capped at 8 GiB", 256 * 1024, 8192},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultHeapMB(tc.physicalMB); got != tc.want {
				t.Errorf("defaultHeapMB(%d) = %d, want %d", tc.physicalMB, got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"a complete config is valid", func(*Config) {}, ""},
		{"zero fields with defaults are valid", func(c *Config) { c.HTTPPort, c.HeapMB, c.CacheDir = 0, 0, "" }, ""},
		{"S3 settings are optional", func(c *Config) { c.Catalog = CatalogConfig{URI: "http://cat:8181"} }, ""},
		{"DataDir is required", func(c *Config) { c.DataDir = "" }, "DataDir is required"},
		{"the catalog URI is required", func(c *Config) { c.Catalog.URI = "" }, "Catalog.URI is required"},
		{"the catalog URI must be http", func(c *Config) { c.Catalog.URI = "thrift://hms:9083" }, "Catalog.URI"},
		{"a port above 65535 is rejected", func(c *Config) { c.HTTPPort = 70000 }, "HTTPPort 70000"},
		{"a tiny heap is rejected", func(c *Config) { c.HeapMB = 100 }, "HeapMB 100"},
		{"a version with a slash is rejected", func(c *Config) { c.Version = "../476" }, "Version"},
		{"the mirror must be a URL", func(c *Config) { c.Mirror = "repo1.maven.org" }, "Mirror"},
		{"keys come in pairs", func(c *Config) { c.Catalog.S3SecretKey = "" }, "set together"},
		{"a line break cannot reach a properties file", func(c *Config) { c.Catalog.S3Region = "x\ns3.endpoint=evil" }, "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() error does not wrap ErrInvalidConfig")
			}
		})
	}
}

func TestEtcFilesRenderTheLakehouseCatalog(t *testing.T) {
	files := etcFiles(validConfig(), layout{installDir: "/cache/trino/476/trino-server-476", dataDir: "/data/trino"}, "node-1")
	want := `connector.name=iceberg
iceberg.catalog.type=rest
iceberg.rest-catalog.uri=http://127.0.0.1:8181
iceberg.rest-catalog.nested-namespace-enabled=false
fs.native-s3.enabled=true
s3.endpoint=http://127.0.0.1:9000
s3.region=us-east-1
s3.path-style-access=true
s3.aws-access-key=minio
s3.aws-secret-key=se\\cret
iceberg.file-format=PARQUET
`
	if got := files["catalog/lakehouse.properties"]; got != want {
		t.Errorf("lakehouse.properties:\n%s\nwant:\n%s", got, want)
	}
	if got := files["catalog/tpch.properties"]; got != "connector.name=tpch\n" {
		t.Errorf("tpch.properties = %q", got)
	}
}

func TestEtcFilesRenderASingleNodeCoordinator(t *testing.T) {
	cfg := validConfig()
	cfg.HTTPPort = 18080
	files := etcFiles(cfg, layout{installDir: "/cache/trino/476/trino-server-476", dataDir: "/data/trino"}, "node-1")
	for file, lines := range map[string][]string{
		"config.properties": {
			"coordinator=true",
			"node-scheduler.include-coordinator=true",
			"http-server.http.port=18080",
			"discovery.uri=http://127.0.0.1:18080",
			"query.max-memory=1024MB",
			"query.max-memory-per-node=614MB",
			"plugin.dir=/cache/trino/476/trino-server-476/plugin",
			"catalog.config-dir=/data/trino/etc/catalog",
		},
		"node.properties": {
			"node.environment=lakehouse",
			"node.id=node-1",
			"node.data-dir=/data/trino",
			"node.internal-address=127.0.0.1",
		},
		"jvm.config":     {"-Xmx2048m", "--add-modules=jdk.incubator.vector"},
		"log.properties": {"io.trino=WARN"},
	} {
		got := strings.Split(files[file], "\n")
		for _, l := range lines {
			if !slices.Contains(got, l) {
				t.Errorf("%s lacks %q:\n%s", file, l, files[file])
			}
		}
	}
}

func TestLaunchArgsMirrorTheLauncher(t *testing.T) {
	l := layout{installDir: "/i", dataDir: "/d"}
	args := launchArgs(validConfig(), l, "node-1", defaultMain)
	if args[0] != "-cp" || args[1] != "/i/lib/*" {
		t.Errorf("class path args = %q", args[:2])
	}
	if args[len(args)-1] != defaultMain {
		t.Errorf("last arg = %q, want the main class", args[len(args)-1])
	}
	for _, want := range []string{"-Dnode.id=node-1", "-Dnode.data-dir=/d", "-Dconfig=/d/etc/config.properties", "-Dlog.levels-file=/d/etc/log.properties", "-Xmx2048m"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %q: %q", want, args)
		}
	}
}

func TestFormatPropertiesEscapes(t *testing.T) {
	got := formatProperties([]property{{"a", `x\y`}, {"b", " lead"}, {"c", "k=v:w"}})
	want := "a=x\\\\y\nb=\\ lead\nc=k=v:w\n"
	if got != want {
		t.Errorf("formatProperties = %q, want %q", got, want)
	}
}

func TestNodeIDIsStable(t *testing.T) {
	dir := t.TempDir()
	first, err := loadNodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := loadNodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || !strings.HasPrefix(first, "lakehouse-") {
		t.Errorf("node ids %q and %q, want one stable lakehouse-… id", first, second)
	}
}

func TestWriteEtcKeepsSecretsPrivate(t *testing.T) {
	l := layout{installDir: "/i", dataDir: t.TempDir()}
	if err := writeEtc(validConfig(), l, "node-1"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(l.catalogDir(), "lakehouse.properties"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("lakehouse.properties mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestMainClassComesFromLauncherProperties(t *testing.T) {
	dir := t.TempDir()
	if got := mainClass(dir); got != defaultMain {
		t.Errorf("without launcher.properties: %q", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	props := "main-class=io.trino.server.Other\nprocess-name=trino-server\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "launcher.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mainClass(dir); got != "io.trino.server.Other" {
		t.Errorf("mainClass = %q", got)
	}
}
