package rck_test

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"os"
	"slices"
	"strings"
)

// legacyReport is the file the JUnit console launcher writes under
// --reports-dir in the (Ant/Surefire) legacy XML format.
const legacyReport = "TEST-junit-jupiter.xml"

// result is one kit run as the legacy XML report tells it.
type result struct {
	Cases []testCase `xml:"testcase"`
}

// testCase is one test. A failed assertion is a failure, any other exception
// an error; a disabled test or a failed assumption is skipped.
type testCase struct {
	Name    string   `xml:"name,attr"`
	Class   string   `xml:"classname,attr"`
	Seconds float64  `xml:"time,attr"`
	Failure *problem `xml:"failure"`
	Error   *problem `xml:"error"`
	Skipped *problem `xml:"skipped"`
}

type problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"` // stack trace, or the reason a test was skipped
}

func readReport(path string) (*result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kit's JUnit report: %w", err)
	}
	return parseReport(b)
}

func parseReport(b []byte) (*result, error) {
	var r result
	if err := xml.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parsing the kit's JUnit report: %w", err)
	}
	return &r, nil
}

func (r *result) total() int { return len(r.Cases) }

// failed lists the failed tests by name (JUnit runs them in no stable order).
func (r *result) failed() []testCase {
	return r.filter(func(c testCase) bool { return c.Failure != nil || c.Error != nil })
}

// skipped lists the skipped tests by name.
func (r *result) skipped() []testCase {
	return r.filter(func(c testCase) bool { return c.Skipped != nil && c.Failure == nil && c.Error == nil })
}

func (r *result) filter(keep func(testCase) bool) []testCase {
	var out []testCase
	for _, c := range r.Cases {
		if keep(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b testCase) int { return cmp.Compare(a.id(), b.id()) })
	return out
}

func (r *result) summary() string {
	f, s := len(r.failed()), len(r.skipped())
	return fmt.Sprintf("kit tests: %d total, %d passed, %d failed, %d skipped", r.total(), r.total()-f-s, f, s)
}

// id is the test's short name: the kit class without its package, then the
// method (and the parameters of a parameterized test).
func (c testCase) id() string {
	return c.Class[strings.LastIndex(c.Class, ".")+1:] + "." + c.Name
}

// skipReason says why the test was skipped: a @Disabled reason, or the
// description of the failed assumption (the kit's capability switches, e.g.
// supportsNestedNamespaces), or, for an assumption without a description,
// where it failed.
func (c testCase) skipReason() string {
	if c.Skipped == nil {
		return ""
	}
	text := strings.TrimSpace(c.Skipped.Message)
	if text == "" {
		text = strings.TrimSpace(c.Skipped.Text)
	}
	const assumption = "assumption was not met due to:"
	i := strings.Index(text, assumption)
	if i < 0 {
		if r := firstLines(text, 1); r != "" {
			return r
		}
		return "(no reason given)"
	}
	desc := strings.TrimSpace(text[i+len(assumption):])
	desc, _, _ = strings.Cut(desc, "\n")
	desc = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(desc), "["), "]"))
	if desc == "" {
		desc = "assumption without description"
	}
	if f := kitFrame(text); f != "" {
		desc += " (" + strings.TrimPrefix(f, "at ") + ")"
	}
	return "assumption not met: " + desc
}

// failureText is the exception type and the first n lines of its message,
// then the kit's own stack frame nearest the failure (which says what the
// test was doing).
func (c testCase) failureText(n int) string {
	p := c.Failure
	if p == nil {
		p = c.Error
	}
	if p == nil {
		return ""
	}
	msg := p.Message
	if msg == "" {
		// the first line of the trace is "type: message"
		msg = strings.TrimPrefix(p.Text, p.Type+": ")
		msg = msg[:max(0, strings.Index(msg, "\n\tat "))]
	}
	var b strings.Builder
	b.WriteString(p.Type)
	if m := firstLines(msg, n); m != "" {
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(m, "\n", "\n      "))
	}
	if f := kitFrame(p.Text); f != "" {
		b.WriteString("\n      ")
		b.WriteString(f)
	}
	return b.String()
}

// kitFrame is the first stack frame in Iceberg's test suites
// (CatalogTests, ViewCatalogTests, the kit's classes).
func kitFrame(trace string) string {
	for line := range strings.Lines(trace) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "at org.apache.iceberg.") &&
			(strings.Contains(line, "CatalogTests.") || strings.Contains(line, "RESTCompatibilityKit")) {
			return line
		}
	}
	return ""
}

func firstLines(s string, n int) string {
	var out []string
	for line := range strings.Lines(strings.TrimSpace(s)) {
		if len(out) == n {
			out = append(out, "…")
			break
		}
		out = append(out, strings.TrimRight(line, "\r\n"))
	}
	return strings.Join(out, "\n")
}

// formatFailures lists failed tests one per paragraph, with n lines of each
// failure message.
func formatFailures(cases []testCase, n int) string {
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "  ✗ %s\n      %s\n", c.id(), c.failureText(n))
	}
	return b.String()
}
