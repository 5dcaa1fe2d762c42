// Package jvm finds a Java runtime and the jars Maven resolves, for the
// tools that run Apache Iceberg's Java code beside the catalog: the REST
// Compatibility Kit and the reference server of the catalog benchmark.
package jvm

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
	"strconv"
	"strings"
	"time"
)

// ErrNoMaven means a classpath is not cached yet and mvn is not on PATH.
var ErrNoMaven = errors.New("mvn is not on PATH and the classpath is not cached yet")

// Prefer says which of several suitable installed runtimes Find picks.
type Prefer int

// The choices of Find.
const (
	Oldest Prefer = iota // what a release was built and tested on
	Newest               // the newest JIT and collectors
)

// Find returns explicit when set, checked to be Java min or newer; else the
// oldest or newest installed Java min or newer, looking at JAVA_HOME,
// /usr/lib/jvm and PATH. It returns the binary and its major version.
func Find(ctx context.Context, explicit string, min int, prefer Prefer) (string, int, error) {
	if explicit != "" {
		major, err := Major(ctx, explicit)
		if err != nil {
			return "", 0, err
		}
		if major < min {
			return "", 0, fmt.Errorf("%s is Java %d; Java %d or newer is needed", explicit, major, min)
		}
		return explicit, major, nil
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
		major, err := Major(ctx, c)
		if err != nil {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s (%d)", c, major))
		if major < min {
			continue
		}
		if best == "" || (prefer == Oldest && major < bestMajor) || (prefer == Newest && major > bestMajor) {
			best, bestMajor = c, major
		}
	}
	if best == "" {
		return "", 0, fmt.Errorf("no Java %d or newer found in JAVA_HOME, /usr/lib/jvm or PATH (found: %v)", min, seen)
	}
	return best, bestMajor, nil
}

var versionRE = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// Major runs java -version and returns the major version.
func Major(ctx context.Context, java string) (int, error) {
	if _, err := os.Stat(java); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("running %s -version: %w", java, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("reading the version of %s from %q", java, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	if major == 1 && len(m[2]) > 0 { // 1.8 and older
		major, _ = strconv.Atoi(string(m[2]))
	}
	return major, nil
}

// Classpath returns the absolute paths of the jars a pom.xml's dependencies
// resolve to. The list is cached per pom content under the user's cache
// folder in cacheDir (e.g. "lakehouse/rck"), so Maven runs (and downloads,
// into ~/.m2) only when the pom changes or a jar went missing; lists of
// older poms there are removed. args are extra Maven arguments.
func Classpath(ctx context.Context, pom []byte, cacheDir string, args ...string) ([]string, error) {
	sum := sha256.Sum256(pom)
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding the cache folder: %w", err)
	}
	dir := filepath.Join(cacheRoot, cacheDir)
	key := hex.EncodeToString(sum[:8])
	cached := filepath.Join(dir, "classpath-"+key+".txt")
	if jars, err := ReadClasspath(cached); err == nil {
		return jars, nil
	}
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return nil, ErrNoMaven
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the classpath cache: %w", err)
	}
	pomPath := filepath.Join(dir, "pom-"+key+".xml")
	if err := os.WriteFile(pomPath, pom, 0o644); err != nil {
		return nil, fmt.Errorf("writing pom.xml: %w", err)
	}
	tmp := cached + ".tmp"
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, append([]string{"-B", "-q", "-f", pomPath,
		"dependency:build-classpath", "-Dmdep.outputFile=" + tmp}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("resolving the classpath with %s: %w\n%s", mvn, err, LastLines(string(out), 40))
	}
	jars, err := ReadClasspath(tmp)
	if err != nil {
		return nil, fmt.Errorf("reading the classpath Maven resolved: %w", err)
	}
	if err := os.Rename(tmp, cached); err != nil {
		return nil, fmt.Errorf("caching the classpath: %w", err)
	}
	for _, pattern := range []string{"classpath-*.txt", "pom-*.xml"} {
		old, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, o := range old {
			if o != cached && o != pomPath {
				_ = os.Remove(o) // best effort: a leftover list is harmless
			}
		}
	}
	return jars, nil
}

// ReadClasspath reads a classpath file and checks that every jar exists.
func ReadClasspath(path string) ([]string, error) {
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

// LastLines returns the last n lines of s, for error messages.
func LastLines(s string, n int) string {
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
