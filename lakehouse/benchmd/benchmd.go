// Package benchmd keeps the generated figures of the benchmark commands in
// BENCHMARKS.md: each command owns the region between its two markers and
// leaves the prose around it alone.
package benchmd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// WriteSection puts body between the markers <!-- name:begin --> and
// <!-- name:end --> in the Markdown file at path. A file without them gets
// a "## heading" section at its end holding them; a missing file is
// created.
func WriteSection(path, name, heading, body string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	region := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	var out []byte
	i, j := bytes.Index(old, []byte(begin)), bytes.Index(old, []byte(end))
	switch {
	case i >= 0 && j > i:
		out = slices.Concat(old[:i], []byte(region), old[j+len(end):])
	case len(old) == 0:
		out = []byte("# Benchmarks\n\n## " + heading + "\n\n" + region + "\n")
	default:
		out = slices.Concat(bytes.TrimRight(old, "\n"), []byte("\n\n## "+heading+"\n\n"+region+"\n"))
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
