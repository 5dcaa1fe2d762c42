package trino

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Real `java -version` outputs (stderr).
const (
	java17Output = `openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
`
	java25Output = `openjdk version "25.0.3" 2026-04-21 LTS
OpenJDK Runtime Environment Temurin-25.0.3+9 (build 25.0.3+9-LTS)
OpenJDK 64-Bit Server VM Temurin-25.0.3+9 (build 25.0.3+9-LTS, mixed mode, sharing)
`
)

func TestParseJavaVersion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		output string
		want   int
	}{
		{"Debian OpenJDK 17", java17Output, 17},
		{"Temurin 25", java25Output, 25},
		{"a GA release without a minor version", `openjdk version "24" 2025-03-18` + "\n", 24},
		{"an early-access build", `openjdk version "26-ea" 2026-03-17` + "\n", 26},
		{"legacy 1.x numbering", `java version "1.8.0_402"` + "\n", 8},
		{"a JAVA_TOOL_OPTIONS banner first", "Picked up JAVA_TOOL_OPTIONS: -Xss1m\n" + java25Output, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJavaVersion(tc.output)
			if err != nil {
				t.Fatalf("parseJavaVersion: %v", err)
			}
			if got != tc.want {
				t.Errorf("parseJavaVersion = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseJavaVersionRejectsGarbage(t *testing.T) {
	for _, out := range []string{"", "bash: java: command not found", `openjdk version "x.y"`} {
		if v, err := parseJavaVersion(out); err == nil {
			t.Errorf("parseJavaVersion(%q) = %d, want an error", out, v)
		}
	}
}

// fakeJDK makes a JDK directory whose bin/java prints output to stderr.
func fakeJDK(t *testing.T, output string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "bin", "version.txt"), []byte(output), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ncat \"$(dirname \"$0\")/version.txt\" >&2\n"
	if err := os.WriteFile(filepath.Join(home, "bin", "java"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestFindJavaWithExplicitHome(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the fake java")
	}
	ctx := context.Background()

	t.Run("a JDK 25 home is accepted", func(t *testing.T) {
		home := fakeJDK(t, java25Output)
		bin, major, err := FindJava(ctx, home)
		if err != nil {
			t.Fatal(err)
		}
		if bin != filepath.Join(home, "bin", "java") || major != 25 {
			t.Errorf("FindJava = %q, %d", bin, major)
		}
	})

	t.Run("a JDK 17 home says what to install", func(t *testing.T) {
		home := fakeJDK(t, java17Output)
		_, _, err := FindJava(ctx, home)
		if !errors.Is(err, ErrJavaNotFound) {
			t.Fatalf("FindJava error = %v, want ErrJavaNotFound", err)
		}
		for _, want := range []string{
			"Trino 476 needs Java 24 or newer",
			"found: " + home + " (17)",
			"Install a JDK 24+ (e.g. Temurin 25) and set JAVA_HOME",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})

	t.Run("a home without java is reported", func(t *testing.T) {
		_, _, err := FindJava(ctx, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "no java binary") {
			t.Fatalf("FindJava error = %v", err)
		}
	})
}
