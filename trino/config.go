// Package trino fetches, configures, runs and queries a local Trino server
// with an Iceberg REST catalog named "lakehouse" and the TPC-H connector.
package trino

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultVersion is the Trino release this package is built and tested
	// against.
	DefaultVersion = "476"
	// MinJavaVersion is the oldest Java major version Trino 476 runs on.
	MinJavaVersion = 24
	// DefaultHTTPPort is Trino's usual HTTP port.
	DefaultHTTPPort = 8080
	// DefaultMirror is Maven Central.
	DefaultMirror = "https://repo1.maven.org/maven2"
	// DefaultStartTimeout bounds how long Start waits for Trino to be ready.
	DefaultStartTimeout = 5 * time.Minute
	// CatalogName is the name of the Iceberg catalog in Trino.
	CatalogName = "lakehouse"
	// DefaultS3Region is the region used when CatalogConfig.S3Region is empty.
	DefaultS3Region = "us-east-1"

	minHeapMB        = 512
	minDefaultHeapMB = 1024
	maxDefaultHeapMB = 8192
)

// Config describes a managed Trino. Zero fields take the defaults documented
// on each field.
type Config struct {
	// Version is the Trino version; default "476".
	Version string
	// CacheDir holds downloads and extracted installs; default
	// <os.UserCacheDir()>/lakehouse/trino.
	CacheDir string
	// DataDir is where etc/, var/ and the server log live for this instance
	// (required).
	DataDir string
	// HTTPPort is the port Trino listens on, on 127.0.0.1; default 8080.
	HTTPPort int
	// JavaHome is the JDK to run Trino with; optional. Default: $JAVA_HOME if
	// its java is >= 24, else the newest /usr/lib/jvm/* with java >= 24.
	JavaHome string
	// HeapMB is the JVM maximum heap; default a quarter of physical memory
	// (or of the cgroup limit) clamped to [1024, 8192].
	HeapMB int
	// Catalog is the Iceberg REST catalog named "lakehouse".
	Catalog CatalogConfig
	// Progress receives download progress (e.g. os.Stderr); nil means none.
	Progress io.Writer
	// Mirror is the Maven repository base URL; default
	// "https://repo1.maven.org/maven2".
	Mirror string
	// StartTimeout bounds how long Start waits for Trino to report ready;
	// default 5 minutes. The context passed to Start still governs.
	StartTimeout time.Duration
}

// CatalogConfig configures the Iceberg REST catalog and its S3 storage.
type CatalogConfig struct {
	// URI is the Iceberg REST catalog URI, e.g. http://127.0.0.1:8181
	// (required by Start).
	URI string
	// S3Endpoint is the S3 endpoint URL, e.g. http://127.0.0.1:9000;
	// optional (AWS when empty). Path-style addressing is always used.
	S3Endpoint string
	// S3Region is the S3 region; default "us-east-1". Trino's native S3
	// client refuses to start without one, even for MinIO.
	S3Region string
	// S3AccessKey and S3SecretKey are static S3 credentials; set both or
	// neither.
	S3AccessKey string
	S3SecretKey string
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			c.CacheDir = filepath.Join(dir, "lakehouse", "trino")
		}
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = DefaultHTTPPort
	}
	if c.HeapMB == 0 {
		c.HeapMB = defaultHeapMB(physicalMemoryMB())
	}
	if c.Mirror == "" {
		c.Mirror = DefaultMirror
	}
	c.Mirror = strings.TrimRight(c.Mirror, "/")
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Catalog.S3Region == "" {
		c.Catalog.S3Region = DefaultS3Region
	}
	return c
}

// Validate reports every problem with c after defaults are applied, wrapped
// in ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.WithDefaults()
	problems := c.installProblems()
	if c.DataDir == "" {
		problems = append(problems, "DataDir is required")
	}
	if c.HTTPPort < 1 || c.HTTPPort > 65535 {
		problems = append(problems, fmt.Sprintf("HTTPPort %d is outside 1-65535", c.HTTPPort))
	}
	if c.HeapMB < minHeapMB {
		problems = append(problems, fmt.Sprintf("HeapMB %d is below %d", c.HeapMB, minHeapMB))
	}
	if c.StartTimeout < 0 {
		problems = append(problems, "StartTimeout is negative")
	}
	problems = append(problems, c.Catalog.problems()...)
	return problemsError(problems)
}

// installProblems checks only what Install needs.
func (c Config) installProblems() []string {
	var problems []string
	if !regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.-]*$`).MatchString(c.Version) {
		problems = append(problems, fmt.Sprintf("Version %q is not a release name like %q", c.Version, DefaultVersion))
	}
	if c.CacheDir == "" {
		problems = append(problems, "CacheDir is empty and the user cache directory is unknown")
	}
	if err := checkHTTPURL(c.Mirror); err != nil {
		problems = append(problems, fmt.Sprintf("Mirror: %v", err))
	}
	return problems
}

func (c CatalogConfig) problems() []string {
	var problems []string
	if c.URI == "" {
		problems = append(problems, "Catalog.URI is required")
	} else if err := checkHTTPURL(c.URI); err != nil {
		problems = append(problems, fmt.Sprintf("Catalog.URI: %v", err))
	}
	if c.S3Endpoint != "" {
		if err := checkHTTPURL(c.S3Endpoint); err != nil {
			problems = append(problems, fmt.Sprintf("Catalog.S3Endpoint: %v", err))
		}
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		problems = append(problems, "Catalog.S3AccessKey and Catalog.S3SecretKey must be set together")
	}
	for name, v := range map[string]string{
		"URI": c.URI, "S3Endpoint": c.S3Endpoint, "S3Region": c.S3Region,
		"S3AccessKey": c.S3AccessKey, "S3SecretKey": c.S3SecretKey,
	} {
		if strings.ContainsAny(v, "\r\n") {
			problems = append(problems, fmt.Sprintf("Catalog.%s contains a line break", name))
		}
	}
	return problems
}

func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return nil
}

// defaultHeapMB is a quarter of memory clamped to [1024, 8192]; Trino needs
// about a gigabyte to be useful, and more than 8 GiB is wasted on a laptop.
func defaultHeapMB(physicalMB int) int {
	return min(max(physicalMB/4, minDefaultHeapMB), maxDefaultHeapMB)
}

// physicalMemoryMB reads MemTotal and the cgroup v2 limit so a container's
// limit wins over the host's memory; 0 when unknown (the clamp then applies).
func physicalMemoryMB() int {
	total := 0
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(fields[1]); err == nil {
					total = kb / 1024
				}
				break
			}
		}
		_ = f.Close() // read-only; nothing to flush
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			if mb := int(limit / (1 << 20)); mb > 0 && (total == 0 || mb < total) {
				total = mb
			}
		}
	}
	return total
}
