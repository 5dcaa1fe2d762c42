package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// ManifestFile is the name of the manifest in a plugin's folder.
const ManifestFile = "manifest.json"

// Manifest describes one installed plugin: <dir>/<name>/manifest.json next
// to its executable.
type Manifest struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Protocol    int       `json:"protocol"`
	SHA256      string    `json:"sha256"`     // hex, of the executable
	Executable  string    `json:"executable"` // file name inside the plugin's folder
	InstalledAt time.Time `json:"installed_at"`

	path string // the executable's absolute path, set by Load
}

// Path is the installed executable's path.
func (m Manifest) Path() string { return m.path }

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// LoadManifest reads the manifest of plugin name in dir.
func LoadManifest(dir, name string) (Manifest, error) {
	if !validName.MatchString(name) {
		return Manifest{}, fmt.Errorf("plugin name %q: %w", name, ErrNotInstalled)
	}
	b, err := os.ReadFile(filepath.Join(dir, name, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("plugin %q in %s: %w", name, dir, ErrNotInstalled)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("reading manifest of plugin %q: %w", name, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("parsing manifest of plugin %q: %w", name, err)
	}
	if m.Name != name || m.Executable == "" || filepath.Base(m.Executable) != m.Executable || len(m.SHA256) != 64 {
		return Manifest{}, fmt.Errorf("manifest of plugin %q is malformed (name %q, executable %q)", name, m.Name, m.Executable)
	}
	abs, err := filepath.Abs(filepath.Join(dir, name, m.Executable))
	if err != nil {
		return Manifest{}, fmt.Errorf("locating plugin %q: %w", name, err)
	}
	m.path = abs
	return m, nil
}

// List returns the manifests of every plugin installed in dir, by name. A
// missing folder holds none.
func List(dir string) ([]Manifest, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing plugins in %s: %w", dir, err)
	}
	var out []Manifest
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := LoadManifest(dir, e.Name())
		if errors.Is(err, ErrNotInstalled) {
			continue // a folder that is not a plugin's
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// verify compares the executable's checksum with the manifest's.
func (m Manifest) verify() error {
	sum, err := fileSHA256(m.path)
	if err != nil {
		return fmt.Errorf("checksumming plugin %q: %w", m.Name, err)
	}
	if sum != m.SHA256 {
		return fmt.Errorf("plugin %q: %w: %s has sha256 %s, the manifest says %s; refusing to launch it (reinstall with `lakehouse plugin install`)",
			m.Name, ErrChecksumMismatch, m.path, sum, m.SHA256)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyExecutable copies src to dst (mode 0755) through a temporary file, so
// a reader never sees half a binary.
func copyExecutable(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".install-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}
