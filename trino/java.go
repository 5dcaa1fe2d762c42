package trino

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const javaVersionTimeout = 30 * time.Second

// javaInstall is one java binary we looked at.
type javaInstall struct {
	home  string // what we report: the JDK directory, or the binary for PATH
	bin   string
	major int
	err   error
}

func (j javaInstall) String() string {
	if j.err != nil {
		return fmt.Sprintf("%s (unusable: %v)", j.home, j.err)
	}
	return fmt.Sprintf("%s (%d)", j.home, j.major)
}

// FindJava returns the path of a java binary whose major version is at least
// MinJavaVersion, and that version. With javaHome set only that JDK is
// considered; otherwise $JAVA_HOME wins if it is new enough, else the newest
// JDK under /usr/lib/jvm (or /Library/Java/JavaVirtualMachines), else java on
// PATH. The error wraps ErrJavaNotFound and says what to install.
func FindJava(ctx context.Context, javaHome string) (string, int, error) {
	var found []javaInstall
	if javaHome != "" {
		j := probeJava(ctx, javaHome, filepath.Join(javaHome, "bin", "java"))
		if j.err == nil && j.major >= MinJavaVersion {
			return j.bin, j.major, nil
		}
		return "", 0, javaError([]javaInstall{j})
	}
	seen := map[string]bool{}
	probe := func(home, bin string) *javaInstall {
		real, err := filepath.EvalSymlinks(bin)
		if err != nil || seen[real] {
			return nil
		}
		seen[real] = true
		j := probeJava(ctx, home, bin)
		found = append(found, j)
		return &j
	}
	if env := os.Getenv("JAVA_HOME"); env != "" {
		if j := probe(env, filepath.Join(env, "bin", "java")); j != nil && j.err == nil && j.major >= MinJavaVersion {
			return j.bin, j.major, nil
		}
	}
	var best *javaInstall
	for _, home := range jdkDirs() {
		if j := probe(home, filepath.Join(home, "bin", "java")); j != nil && j.err == nil && (best == nil || j.major > best.major) {
			best = j
		}
	}
	if best != nil && best.major >= MinJavaVersion {
		return best.bin, best.major, nil
	}
	if bin, err := exec.LookPath("java"); err == nil {
		if j := probe(bin, bin); j != nil && j.err == nil && j.major >= MinJavaVersion {
			return j.bin, j.major, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("finding java: %w", err)
	}
	return "", 0, javaError(found)
}

func javaError(found []javaInstall) error {
	list := "none"
	if len(found) > 0 {
		parts := make([]string, len(found))
		for i, j := range found {
			parts[i] = j.String()
		}
		list = strings.Join(parts, ", ")
	}
	return fmt.Errorf("%w: Trino %s needs Java %d or newer; found: %s. Install a JDK %d+ (e.g. Temurin 25) and set JAVA_HOME",
		ErrJavaNotFound, DefaultVersion, MinJavaVersion, list, MinJavaVersion)
}

// jdkDirs lists the usual JDK locations, sorted by name.
func jdkDirs() []string {
	pattern := "/usr/lib/jvm/*"
	if runtime.GOOS == "darwin" {
		pattern = "/Library/Java/JavaVirtualMachines/*/Contents/Home"
	}
	dirs, _ := filepath.Glob(pattern) // the pattern is constant and valid
	return dirs
}

func probeJava(ctx context.Context, home, bin string) javaInstall {
	j := javaInstall{home: home, bin: bin}
	if _, err := os.Stat(bin); err != nil {
		j.err = fmt.Errorf("no java binary: %w", err)
		return j
	}
	j.major, j.err = javaMajorVersion(ctx, bin)
	return j
}

// javaMajorVersion runs `java -version`, which prints to stderr.
func javaMajorVersion(ctx context.Context, bin string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, javaVersionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-version")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("running %s -version: %w", bin, err)
	}
	return parseJavaVersion(string(out))
}

// parseJavaVersion extracts the major version from `java -version` output:
// `openjdk version "25.0.3" 2026-04-21 LTS` gives 25 and the legacy
// `java version "1.8.0_402"` gives 8.
func parseJavaVersion(out string) (int, error) {
	_, rest, ok := strings.Cut(out, `version "`)
	if !ok {
		return 0, fmt.Errorf("parsing java version: no version in %q", firstLine(out))
	}
	version, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return 0, fmt.Errorf("parsing java version: unterminated version in %q", firstLine(out))
	}
	if after, ok := strings.CutPrefix(version, "1."); ok {
		version = after
	}
	end := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(version)
	}
	major, err := strconv.Atoi(version[:end])
	if err != nil {
		return 0, fmt.Errorf("parsing java version %q: %w", version, err)
	}
	return major, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
