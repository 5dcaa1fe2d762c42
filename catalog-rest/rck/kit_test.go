package rck_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/internal/jvm"
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
	java, major, err := jvm.Find(t.Context(), os.Getenv("LAKEHOUSE_RCK_JAVA"), minJava, jvm.Oldest)
	if err != nil {
		unavailable("%v", err)
	}
	pom, err := os.ReadFile("pom.xml")
	if err != nil {
		t.Fatalf("reading the kit's pom.xml: %v", err)
	}
	jars, err := jvm.Classpath(t.Context(), pom, filepath.Join("lakehouse", "rck"), "-Dmdep.includeScope=runtime")
	if errors.Is(err, jvm.ErrNoMaven) {
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

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return jvm.LastLines(string(b), n)
}
