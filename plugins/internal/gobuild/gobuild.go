// Package gobuild builds plugin executables for the plugins' tests and
// benchmark, which must not rely on the Taskfile having built them.
package gobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Build builds the main packages pkgs (relative to the working directory,
// as for go build) into dir in one `go build`, and returns each
// executable's absolute path by its name: the package folder's last
// element.
func Build(ctx context.Context, dir string, pkgs ...string) (map[string]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", abs + string(filepath.Separator)}, pkgs...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s: %w", strings.Join(pkgs, " "), err)
	}
	out := map[string]string{}
	for _, p := range pkgs {
		name := path.Base(p)
		out[name] = filepath.Join(abs, name)
	}
	return out, nil
}
