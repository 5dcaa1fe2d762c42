package benchmd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lakehouse-go/lakehouse/lakehouse/benchmd"
)

func TestWriteSectionReplacesOnlyItsRegion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := benchmd.WriteSection(path, "x", "X", "first\n"); err != nil {
		t.Fatal(err)
	}
	if err := benchmd.WriteSection(path, "y", "Y", "other"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := string(b) + "\nprose after\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := benchmd.WriteSection(path, "x", "X", "second"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmarks\n\n## X\n\n<!-- x:begin -->\nsecond\n<!-- x:end -->\n\n## Y\n\n<!-- y:begin -->\nother\n<!-- y:end -->\n\nprose after\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWriteSection(t *testing.T) {
	const begin, end = "<!-- catalogbench:begin -->", "<!-- catalogbench:end -->"
	tests := []struct {
		name, old, want string
	}{
		{"a missing file gets a heading and the section", "",
			"# Benchmarks\n\n## Catalog\n\n" + begin + "\nnew\n" + end + "\n"},
		{"a file without markers gets the section at its end", "# Benchmarks\n\nIngest: fast.\n",
			"# Benchmarks\n\nIngest: fast.\n\n## Catalog\n\n" + begin + "\nnew\n" + end + "\n"},
		{"only the text between the markers is replaced", "# B\n\n## Catalog\n\nkept\n" + begin + "\nold\n" + end + "\ntail\n",
			"# B\n\n## Catalog\n\nkept\n" + begin + "\nnew\n" + end + "\ntail\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := benchmd.WriteSection(path, "catalogbench", "Catalog", "new\n"); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
