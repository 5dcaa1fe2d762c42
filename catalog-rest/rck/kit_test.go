package rck_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The kit's suites, as the Iceberg release publishes them in the
// iceberg-open-api tests jar.
var kitClasses = []string{
	"org.apache.iceberg.rest.RESTCompatibilityKitCatalogTests",
	"org.apache.iceberg.rest.RESTCompatibilityKitViewCatalogTests",
}

// minJava is the oldest Java the kit's Iceberg release (1.11) runs on.
const minJava = 17

// launcherJar is how the JUnit console launcher's file name starts.
const launcherJar = "junit-platform-console-standalone-"

// kit is the REST Compatibility Kit, ready to run.
type kit struct {
	java      string   // java binary, minJava or newer
	javaMajor int      // its major version
	launcher  string   // junit-platform-console-standalone jar
	classpath []string // every other jar the kit needs
}

// prepareKit finds Java and the kit's classpath, resolving it with Maven when
// no cached copy exists. It skips t when either is missing, except under
// CI=true where it fails.
func prepareKit(t *testing.T) *kit {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and the REST Compatibility Kit cannot run: " + msg)
		}
		t.Skip("the REST Compatibility Kit cannot run: " + msg)
	}
	java, major, err := findJava(t.Context())
	if err != nil {
		unavailable("%v", err)
	}
	pom, err := filepath.Abs("pom.xml")
	if err != nil {
		t.Fatalf("resolving pom.xml: %v", err)
	}
	jars, err := kitClasspath(t.Context(), pom)
	if errors.Is(err, errNoMaven) {
		unavailable("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	k := &kit{java: java, javaMajor: major}
	for _, j := range jars {
		if strings.HasPrefix(filepath.Base(j), launcherJar) {
			k.launcher = j
			continue
		}
		k.classpath = append(k.classpath, j)
	}
	if k.launcher == "" {
		t.Fatalf("the resolved classpath has no %s*.jar: is it still in pom.xml?", launcherJar)
	}
	t.Logf("REST Compatibility Kit: Java %d at %s, %d jars", major, java, len(jars))
	return k
}

// run runs the kit against tg, writing the JUnit XML report and the
// launcher's output to reports, and returns the parsed report. A run in which
// tests fail is no error; a launcher that writes no report is.
func (k *kit) run(ctx context.Context, tg target, reports string) (*result, error) {
	args := []string{
		// rck.local=false: test the catalog at uri, start no reference server.
		// It is read as a JUnit configuration parameter, which falls back to
		// system properties; --config below sets it both ways.
		"-Drck.local=false",
		"-Drck.requires-namespace-create=true",
		// RCKUtils puts every system property into the catalog client's
		// properties, so uri and warehouse reach RESTCatalog.initialize.
		"-Duri=" + tg.catalogURL,
		"-Dwarehouse=" + tg.warehouse,
		"-jar", k.launcher,
		"execute",
		"--disable-banner", "--disable-ansi-colors",
		"--details=tree",
		"--include-engine=junit-jupiter",
		"--class-path", strings.Join(k.classpath, string(os.PathListSeparator)),
		"--reports-dir", reports,
		"--config=rck.local=false",
		// The Open Test Reporting XML has each test's start and end time, to
		// match failures with the catalog's request log (LAKEHOUSE_TEST_LOG=debug).
		"--config=junit.platform.reporting.open.xml.enabled=true",
	}
	for _, c := range kitClasses {
		args = append(args, "--select-class", c)
	}
	out, err := os.Create(filepath.Join(reports, "launcher.log"))
	if err != nil {
		return nil, fmt.Errorf("creating the launcher log: %w", err)
	}
	cmd := exec.CommandContext(ctx, k.java, args...)
	cmd.Dir = reports
	cmd.Env = kitEnv()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("writing the launcher log: %w", err)
	}
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return nil, fmt.Errorf("starting the JUnit console launcher: %w", runErr)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("the kit did not finish in time (%w); launcher output ends:\n%s", ctx.Err(), tail(filepath.Join(reports, "launcher.log"), 30))
	}
	res, err := readReport(filepath.Join(reports, legacyReport))
	if err != nil {
		return nil, fmt.Errorf("%w (launcher %v); launcher output ends:\n%s", err, runErr, tail(filepath.Join(reports, "launcher.log"), 30))
	}
	return res, nil
}

// kitEnv is the environment of the kit's JVM: ours without CATALOG_*
// variables, which RCKUtils would turn into catalog properties.
func kitEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CATALOG_") })
}

// findJava returns the java binary LAKEHOUSE_RCK_JAVA names, or else the
// oldest installed Java that is minJava or newer (the kit's Iceberg release is
// built and tested on 17 and 21), looking at JAVA_HOME, /usr/lib/jvm and PATH.
func findJava(ctx context.Context) (string, int, error) {
	if java := os.Getenv("LAKEHOUSE_RCK_JAVA"); java != "" {
		major, err := javaMajor(ctx, java)
		if err != nil {
			return "", 0, fmt.Errorf("LAKEHOUSE_RCK_JAVA: %w", err)
		}
		if major < minJava {
			return "", 0, fmt.Errorf("LAKEHOUSE_RCK_JAVA is Java %d; the kit needs %d or newer", major, minJava)
		}
		return java, major, nil
	}
	var candidates []string
	if home := os.Getenv("JAVA_HOME"); home != "" {
		candidates = append(candidates, filepath.Join(home, "bin", "java"))
	}
	homes, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
	candidates = append(candidates, homes...)
	if p, err := exec.LookPath("java"); err == nil {
		candidates = append(candidates, p)
	}
	best, bestMajor := "", 0
	var seen []string
	for _, c := range candidates {
		major, err := javaMajor(ctx, c)
		if err != nil {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s (%d)", c, major))
		if major >= minJava && (best == "" || major < bestMajor) {
			best, bestMajor = c, major
		}
	}
	if best == "" {
		return "", 0, fmt.Errorf("no Java %d or newer found in JAVA_HOME, /usr/lib/jvm or PATH (found: %v)", minJava, seen)
	}
	return best, bestMajor, nil
}

var javaVersionRE = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// javaMajor runs java -version and returns the major version.
func javaMajor(ctx context.Context, java string) (int, error) {
	if _, err := os.Stat(java); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("running %s -version: %w", java, err)
	}
	m := javaVersionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("reading the version of %s from %q", java, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	if major == 1 && len(m[2]) > 0 { // 1.8 and older
		major, _ = strconv.Atoi(string(m[2]))
	}
	return major, nil
}

var errNoMaven = errors.New("mvn is not on PATH and the kit's classpath is not cached yet")

// kitClasspath returns the absolute paths of the jars pom lists with their
// dependencies. The list is cached per pom.xml content in the user's cache
// folder, so Maven runs (and downloads, into ~/.m2) only when pom.xml changes
// or a jar went missing.
func kitClasspath(ctx context.Context, pom string) ([]string, error) {
	content, err := os.ReadFile(pom)
	if err != nil {
		return nil, fmt.Errorf("reading the kit's pom.xml: %w", err)
	}
	sum := sha256.Sum256(content)
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding the cache folder: %w", err)
	}
	cached := filepath.Join(cacheRoot, "lakehouse", "rck", "classpath-"+hex.EncodeToString(sum[:8])+".txt")
	if jars, err := readClasspath(cached); err == nil {
		return jars, nil
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return nil, errNoMaven
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return nil, fmt.Errorf("creating the classpath cache: %w", err)
	}
	tmp := cached + ".tmp"
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, "-B", "-q", "-f", pom,
		"dependency:build-classpath", "-Dmdep.outputFile="+tmp, "-Dmdep.includeScope=runtime")
	cmd.Dir = filepath.Dir(pom)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("resolving the kit's classpath with %s: %w\n%s", mvn, err, lastLines(string(out), 40))
	}
	jars, err := readClasspath(tmp)
	if err != nil {
		return nil, fmt.Errorf("reading the classpath Maven resolved: %w", err)
	}
	if err := os.Rename(tmp, cached); err != nil {
		return nil, fmt.Errorf("caching the kit's classpath: %w", err)
	}
	// Lists for older versions of pom.xml are stale now.
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(cached), "classpath-*.txt"))
	for _, o := range old {
		if o != cached {
			_ = os.Remove(o) // best effort: a leftover list is harmless
		}
	}
	return jars, nil
}

// readClasspath reads a classpath file and checks that every jar exists.
func readClasspath(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	jars := strings.Split(strings.TrimSpace(string(b)), string(os.PathListSeparator))
	if len(jars) == 0 || jars[0] == "" {
		return nil, fmt.Errorf("%s lists no jars", path)
	}
	for _, j := range jars {
		if _, err := os.Stat(j); err != nil {
			return nil, fmt.Errorf("classpath entry: %w", err)
		}
	}
	return jars, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewBufferString(s))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
