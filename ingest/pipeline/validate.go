package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

var (
	namePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks pipelines as Run takes them (Load fills in the
// defaults first): every problem is reported, each naming its pipeline and
// field, e.g. `pipeline "orders": source.files.paths: want at least one`.
func Validate(pipelines []Pipeline) error {
	if len(pipelines) == 0 {
		return fmt.Errorf("%w: no pipelines", ErrInvalid)
	}
	var errs []error
	names, tables, addrs, spools := map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	unique := func(seen map[string]string, key, who, what string) {
		if key == "" {
			return
		}
		if other, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s: %s %q is also %s's", who, what, key, other))
			return
		}
		seen[key] = who
	}
	for i, p := range pipelines {
		who := label(p, i)
		for _, err := range p.problems() {
			errs = append(errs, fmt.Errorf("%s: %w", who, err))
		}
		unique(names, p.Name, who, "name")
		unique(tables, p.Table, who, "table")
		if h := p.Source.HTTP; h != nil {
			unique(addrs, h.Addr, who, "source.http.addr")
			unique(spools, h.SpoolDir, who, "source.http.spool_dir")
		}
	}
	if len(errs) > 0 {
		return invalid(errs)
	}
	return nil
}

// label names a pipeline in errors: by name, or by place when it has none.
func label(p Pipeline, i int) string {
	if p.Name != "" {
		return fmt.Sprintf("pipeline %q", p.Name)
	}
	return fmt.Sprintf("pipeline #%d", i+1)
}

// problems lists what is wrong with p, each error starting with the field.
func (p Pipeline) problems() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case p.Name == "":
		bad("name", "required")
	case !namePattern.MatchString(p.Name):
		bad("name", "%q: want lower-case letters, digits, '-' and '_'", p.Name)
	}
	if _, err := parseTable(p.Table); err != nil {
		bad("table", "%v", err)
	}
	kinds := 0
	for _, set := range []bool{p.Source.Files != nil, p.Source.HTTP != nil, p.Source.Kafka != nil, p.Source.Poll != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		bad("source", "want exactly one of files, http, kafka and poll, found %d", kinds)
	}
	columns := map[string]string{}
	for i, c := range p.Schema {
		field := fmt.Sprintf("schema[%d]", i)
		switch {
		case !identPattern.MatchString(c.Name):
			bad(field+".name", "%q: want letters, digits and '_', not starting with a digit", c.Name)
		case strings.HasPrefix(c.Name, "_") && slices.Contains(lineageColumns(), c.Name):
			bad(field+".name", "%q is a lineage column, added to every table", c.Name)
		case columns[c.Name] != "":
			bad(field+".name", "%q is declared twice", c.Name)
		}
		if _, ok := columnTypes[strings.ToLower(c.Type)]; !ok {
			bad(field+".type", "%q: want one of %s", c.Type, typeNames())
		}
		columns[c.Name] = strings.ToLower(c.Type)
	}
	if len(p.Partition) > 0 && len(p.Schema) == 0 {
		bad("partition", "needs schema: the table is created with its columns before the first records")
	}
	for i, spec := range p.Partition {
		if _, err := parsePartition(spec, columns); err != nil && len(p.Schema) > 0 {
			bad(fmt.Sprintf("partition[%d]", i), "%v", err)
		}
	}
	if p.Flush.Rows < 0 || p.Flush.Interval < 0 {
		bad("flush", "rows and interval cannot be negative")
	}
	if (p.Flush != Flush{}) && (p.Source.Files != nil || p.Source.Poll != nil) {
		bad("flush", "applies to the http and kafka sources; %s commits one %s at a time", p.Source.Kind(), map[bool]string{true: "file", false: "window"}[p.Source.Files != nil])
	}
	for i, name := range p.Rules.Required {
		if name == "" {
			bad(fmt.Sprintf("rules.required[%d]", i), "empty field name")
		} else if len(p.Schema) > 0 && columns[name] == "" {
			bad(fmt.Sprintf("rules.required[%d]", i), "%q is not a column of schema", name)
		}
	}
	if len(p.Rules.Required) > 0 && (p.Source.Kafka != nil || p.Source.Poll != nil) {
		bad("rules.required", "not supported by the %s source yet (files and http only)", p.Source.Kind())
	}
	switch {
	case p.Source.Files != nil:
		errs = append(errs, p.Source.Files.problems()...)
	case p.Source.HTTP != nil:
		errs = append(errs, p.Source.HTTP.problems()...)
	case p.Source.Kafka != nil:
		errs = append(errs, p.Source.Kafka.problems()...)
	case p.Source.Poll != nil:
		errs = append(errs, p.Source.Poll.problems()...)
	}
	if len(errs) == 0 {
		// The source packages' own checks, as a backstop: a pipeline that
		// passed the checks above should pass these.
		if err := p.sourceConfigError(); err != nil {
			bad("source."+p.Source.Kind(), "%v", err)
		}
	}
	return errs
}

func (f *Files) problems() []error {
	var errs []error
	if len(f.Paths) == 0 {
		errs = append(errs, errors.New("source.files.paths: want at least one file, folder or glob"))
	}
	for i, path := range f.Paths {
		if path == "" {
			errs = append(errs, fmt.Errorf("source.files.paths[%d]: empty", i))
		} else if _, err := filepath.Match(path, ""); err != nil {
			errs = append(errs, fmt.Errorf("source.files.paths[%d]: %q: %w", i, path, err))
		} else if ext := filepath.Ext(path); ext != "" && !strings.ContainsAny(ext, "*?[") {
			// A folder rarely has an extension; a file or glob with an
			// unknown one would never match anything.
			if _, err := files.FormatOf(path); err != nil {
				errs = append(errs, fmt.Errorf("source.files.paths[%d]: %w", i, err))
			}
		}
	}
	if f.PollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("source.files.poll_interval: %s: want at least 100ms", f.PollInterval))
	}
	if f.Settle < 0 || f.SampleRows < 0 {
		errs = append(errs, errors.New("source.files: settle and sample_rows cannot be negative"))
	}
	return errs
}

func (h *HTTP) problems() []error {
	var errs []error
	if h.Addr == "" || !strings.Contains(h.Addr, ":") {
		errs = append(errs, fmt.Errorf("source.http.addr: %q: want host:port", h.Addr))
	}
	if h.SpoolDir == "" {
		errs = append(errs, errors.New("source.http.spool_dir: required (Load places it under the state dir)"))
	}
	if h.MaxBodyBytes < 0 || h.MaxBodyBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("source.http.max_body_bytes: %d: want at most 16 MiB", h.MaxBodyBytes))
	}
	return errs
}

func (k *Kafka) problems() []error {
	var errs []error
	if len(k.Brokers) == 0 {
		errs = append(errs, errors.New("source.kafka.brokers: want at least one host:port"))
	}
	for i, b := range k.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("source.kafka.brokers[%d]: %q: want host:port", i, b))
		}
	}
	if len(k.Topics) == 0 || slices.Contains(k.Topics, "") {
		errs = append(errs, errors.New("source.kafka.topics: want at least one topic, none empty"))
	}
	if k.Group == "" {
		errs = append(errs, errors.New("source.kafka.group: required"))
	}
	return errs
}

func (pl *Poll) problems() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("source.poll.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if pl.Every < time.Second || pl.Every%time.Second != 0 {
		bad("every", "%s: want whole seconds, at least 1s", pl.Every)
	}
	if pl.Start.IsZero() {
		bad("start", "required: the start of the first window, e.g. 2025-01-01T00:00:00Z")
	} else if pl.Start.Nanosecond() != 0 {
		bad("start", "%s: want whole seconds", pl.Start.Format(time.RFC3339Nano))
	}
	if pl.Delay < 0 || pl.Horizon < 0 {
		bad("delay", "delay and horizon cannot be negative")
	}
	if pl.Retry.Attempts < 0 || pl.Retry.Backoff < 0 || pl.Retry.After < 0 {
		bad("retry", "attempts, backoff and after cannot be negative")
	}
	switch {
	case (pl.HTTP == nil) == (pl.SQL == nil):
		bad("http", "want exactly one of http and sql")
	case pl.HTTP != nil:
		if pl.HTTP.URL == "" {
			bad("http.url", "required")
		}
		if !slices.Contains([]string{"", "rfc3339", "unix", "unixms"}, pl.HTTP.TimeFormat) {
			bad("http.time_format", "%q: want rfc3339, unix or unixms", pl.HTTP.TimeFormat)
		}
		if pl.HTTP.MaxPages < 0 || pl.HTTP.Timeout < 0 {
			bad("http", "max_pages and timeout cannot be negative")
		}
	default:
		if pl.SQL.Driver == "" {
			bad("sql.driver", "required: sqlite or pgx")
		}
		if strings.TrimSpace(pl.SQL.Query) == "" {
			bad("sql.query", "required")
		}
		if !slices.Contains([]string{"", "rfc3339", "unix", "unixms", "native"}, pl.SQL.TimeFormat) {
			bad("sql.time_format", "%q: want rfc3339, unix, unixms or native", pl.SQL.TimeFormat)
		}
	}
	return errs
}

// parseTable reads <zone>.<table>.
func parseTable(s string) (table.Identifier, error) {
	zone, name, ok := strings.Cut(s, ".")
	if s == "" {
		return nil, errors.New("required: <zone>.<table>, e.g. raw.orders")
	}
	if !ok || !identPattern.MatchString(zone) || !identPattern.MatchString(name) {
		return nil, fmt.Errorf("%q: want <zone>.<table>, e.g. raw.orders", s)
	}
	if strings.HasSuffix(name, ingest.QuarantineSuffix) {
		return nil, fmt.Errorf("%q: tables ending in %s hold another table's rejects", s, ingest.QuarantineSuffix)
	}
	return table.Identifier{zone, name}, nil
}

// parseWidth reads the number argument of bucket and truncate.
func parseWidth(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive whole number", strings.TrimSpace(s))
	}
	return n, nil
}
