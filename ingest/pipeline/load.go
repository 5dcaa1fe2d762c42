package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the pipelines file at path and returns its pipelines, checked
// and completed: see Parse. Relative paths in it resolve against the
// file's folder.
func Load(path, stateDir string) ([]Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading pipelines file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving pipelines file: %w", err)
	}
	pls, err := Parse(data, filepath.Dir(abs), stateDir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return pls, nil
}

// Parse decodes a pipelines document, a YAML list of pipelines, strictly:
// an unknown or repeated key is an error naming its line. It then expands
// ${VAR} references to the environment (in poll URLs, headers and DSNs),
// makes relative paths absolute against dir (the file's folder), fills in
// the defaults each field documents, placing the local state the document
// does not place under stateDir (an HTTP collector's spool goes to
// <stateDir>/pipelines/<name>/spool), and checks the result with
// Validate. dir and stateDir are made absolute at once, so a later change
// of the working directory does not move them.
func Parse(data []byte, dir, stateDir string) ([]Pipeline, error) {
	var pls []Pipeline
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pls); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the document is empty: want a list of pipelines", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: decoding YAML: %s", ErrInvalid, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: want one YAML document, found more", ErrInvalid)
	}
	if stateDir == "" {
		stateDir = ".lakehouse"
	}
	var err error
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", stateDir, err)
	}
	var errs []error
	for i := range pls {
		if err := pls[i].expandEnv(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label(pls[i], i), err))
		}
		pls[i] = pls[i].withDefaults(dir, stateDir)
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	if err := Validate(pls); err != nil {
		return nil, err
	}
	return pls, nil
}

// yamlMessage drops the "yaml: unmarshal errors:" preamble and Go type
// names, keeping the line numbers.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if j := strings.Index(m, " in type pipeline."); j >= 0 {
			m = m[:j] + inSection(m[j+len(" in type pipeline."):])
		}
		m = strings.Replace(m, "into []pipeline.Pipeline", "into a list of pipelines", 1)
		if j := strings.Index(m, " into pipeline."); j >= 0 {
			m = m[:j]
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// sections name the YAML mappings by where they are, for "field x not
// found" errors.
var sections = map[string]struct {
	where string
	typ   reflect.Type
}{
	"Pipeline":  {"a pipeline", reflect.TypeFor[Pipeline]()},
	"Source":    {"source", reflect.TypeFor[Source]()},
	"Files":     {"source.files", reflect.TypeFor[Files]()},
	"HTTP":      {"source.http", reflect.TypeFor[HTTP]()},
	"Kafka":     {"source.kafka", reflect.TypeFor[Kafka]()},
	"Poll":      {"source.poll", reflect.TypeFor[Poll]()},
	"PollHTTP":  {"source.poll.http", reflect.TypeFor[PollHTTP]()},
	"PollSQL":   {"source.poll.sql", reflect.TypeFor[PollSQL]()},
	"PollRetry": {"source.poll.retry", reflect.TypeFor[PollRetry]()},
	"Column":    {"a schema column", reflect.TypeFor[Column]()},
	"Flush":     {"flush", reflect.TypeFor[Flush]()},
	"Rules":     {"rules", reflect.TypeFor[Rules]()},
}

// inSection says where an unknown key was and which keys fit there.
func inSection(typeName string) string {
	sec, ok := sections[typeName]
	if !ok {
		return ""
	}
	keys := make([]string, sec.typ.NumField())
	for i := range keys {
		keys[i] = sec.typ.Field(i).Tag.Get("yaml")
	}
	return " in " + sec.where + " (want " + strings.Join(keys, ", ") + ")"
}

// withDefaults fills in what each field's comment names as its default and
// resolves relative paths against dir.
func (p Pipeline) withDefaults(dir, stateDir string) Pipeline {
	abs := func(path string) string {
		if path == "" || filepath.IsAbs(path) {
			return path
		}
		return filepath.Join(dir, path)
	}
	switch {
	case p.Source.Files != nil:
		f := *p.Source.Files
		f.Paths = append([]string(nil), f.Paths...)
		for i := range f.Paths {
			f.Paths[i] = abs(f.Paths[i])
		}
		f.PollInterval = orDuration(f.PollInterval, 10*time.Second)
		f.Settle = orDuration(f.Settle, 2*time.Second)
		if f.SampleRows == 0 {
			f.SampleRows = 10000
		}
		p.Source.Files = &f
	case p.Source.HTTP != nil:
		h := *p.Source.HTTP
		if h.Addr == "" {
			h.Addr = "127.0.0.1:8088"
		}
		if h.SpoolDir == "" && p.Name != "" {
			h.SpoolDir = filepath.Join(stateDir, "pipelines", p.Name, "spool")
		}
		h.SpoolDir = abs(h.SpoolDir)
		if h.MaxBodyBytes == 0 {
			h.MaxBodyBytes = 4 << 20
		}
		p.Source.HTTP = &h
		if p.Flush.Rows == 0 {
			p.Flush.Rows = 10000
		}
		p.Flush.Interval = orDuration(p.Flush.Interval, 5*time.Second)
	case p.Source.Kafka != nil:
		k := *p.Source.Kafka
		if k.Group == "" && p.Name != "" {
			k.Group = "lakehouse-" + p.Name
		}
		p.Source.Kafka = &k
		if p.Flush.Rows == 0 {
			p.Flush.Rows = 100000
		}
		p.Flush.Interval = orDuration(p.Flush.Interval, 10*time.Second)
	case p.Source.Poll != nil:
		pl := *p.Source.Poll
		if pl.HTTP != nil {
			h := *pl.HTTP
			if h.MaxPages == 0 {
				h.MaxPages = 1000
			}
			h.Timeout = orDuration(h.Timeout, time.Minute)
			pl.HTTP = &h
		}
		if pl.Retry.Attempts == 0 {
			pl.Retry.Attempts = 3
		}
		pl.Retry.Backoff = orDuration(pl.Retry.Backoff, time.Second)
		pl.Retry.After = orDuration(pl.Retry.After, time.Minute)
		p.Source.Poll = &pl
	}
	return p
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// expandEnv replaces ${VAR} in the fields that carry secrets; an unset
// variable is an error rather than an empty credential.
func (p *Pipeline) expandEnv() error {
	pl := p.Source.Poll
	if pl == nil {
		return nil
	}
	var errs []error
	expand := func(field, s string) string {
		return os.Expand(s, func(name string) string {
			v, ok := os.LookupEnv(name)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: environment variable %s is not set", field, name))
			}
			return v
		})
	}
	if pl.HTTP != nil {
		h := *pl.HTTP
		h.URL = expand("source.poll.http.url", h.URL)
		if h.Headers != nil {
			headers := make(map[string]string, len(h.Headers))
			for k, v := range h.Headers {
				headers[k] = expand("source.poll.http.headers."+k, v)
			}
			h.Headers = headers
		}
		cp := *pl
		cp.HTTP = &h
		p.Source.Poll = &cp
	}
	if pl.SQL != nil {
		s := *pl.SQL
		s.DSN = expand("source.poll.sql.dsn", s.DSN)
		cp := *p.Source.Poll
		cp.SQL = &s
		p.Source.Poll = &cp
	}
	return errors.Join(errs...)
}
