package rck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdataDir is testdata/ as an absolute path, resolved before any test
// starts the embedded stack (which changes the working directory).
var testdataDir string

func TestMain(m *testing.M) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testdataDir = dir
	os.Exit(m.Run())
}

// TestReadReport checks the harness's reading of the launcher's XML report
// on a trimmed real one, so that a failed kit test is never counted as
// passed. It runs in -short mode too.
func TestReadReport(t *testing.T) {
	res, err := readReport(filepath.Join(testdataDir, legacyReport))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.summary(), "kit tests: 6 total, 1 passed, 2 failed, 3 skipped"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	byName := map[string]testCase{}
	for _, c := range res.Cases {
		byName[c.id()] = c
	}
	cases := []struct {
		name string
		test string
		// the outcome text must contain each of these
		want []string
		skip bool
	}{
		{
			name: "an assertion failure shows the exception, both messages and the kit's frame",
			test: "RESTCompatibilityKitCatalogTests.testUpdateTableSchemaConflict()",
			want: []string{
				"java.lang.AssertionError: Expecting throwable message:",
				`"Commit failed: Requirement failed: current schema id has changed: expected 0, found 1"`,
				`"Requirement failed: current schema changed"`,
				"at org.apache.iceberg.catalog.CatalogTests.testUpdateTableSchemaConflict(CatalogTests.java:1549)",
			},
		},
		{
			name: "an error shows the exception type and message",
			test: "RESTCompatibilityKitViewCatalogTests.basicCreateView()",
			want: []string{
				"java.lang.UnsupportedOperationException: Server does not support endpoint: POST /v1/{prefix}/namespaces/{namespace}/views",
				"ViewCatalogTests.basicCreateView(ViewCatalogTests.java:169)",
			},
		},
		{
			name: "a failed assumption shows its description",
			test: "RESTCompatibilityKitCatalogTests.testListNestedNamespaces()",
			want: []string{"assumption not met: Only valid when the catalog supports nested namespaces"},
			skip: true,
		},
		{
			name: "a failed assumption without description shows where it failed",
			test: "RESTCompatibilityKitCatalogTests.testNamespaceWithDot()",
			want: []string{"assumption not met: Expecting value to be true but was false", "CatalogTests.testNamespaceWithDot(CatalogTests.java:573)"},
			skip: true,
		},
		{
			name: "a disabled test shows the reason given to @Disabled",
			test: "RESTCompatibilityKitCatalogTests.createTableInUniqueLocation()",
			want: []string{"RESTServerExtension isn’t configurable per test"},
			skip: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := byName[tc.test]
			if !ok {
				t.Fatalf("%s is not in the report", tc.test)
			}
			got := c.failureText(6)
			if tc.skip {
				got = c.skipReason()
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("outcome of %s lacks %q:\n%s", tc.test, w, got)
				}
			}
		})
	}
}
