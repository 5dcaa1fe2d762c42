package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// maxFileRetry bounds the wait before a file that failed is tried again.
const maxFileRetry = 10 * time.Minute

// filesRunner picks up the new files of one pipeline. What it has handled
// survives restarts of the pipeline; after a restart of the process every
// file is looked at again, and those landed before are skipped from the
// table's history (files.ID.BatchID) without being parsed.
type filesRunner struct {
	logger *slog.Logger
	sink   *ingest.Sink
	p      Pipeline
	cfg    *Files
	ident  table.Identifier
	m      *metrics
	seen   map[string]fileMark // by absolute path
}

// fileMark is what the runner knows of a file as it was at one size and
// modification time.
type fileMark struct {
	size     int64
	mod      time.Time
	landed   bool
	failures int
	retryAt  time.Time
}

// candidate is a file found under the pipeline's paths.
type candidate struct {
	path string
	size int64
	mod  time.Time
}

func newFilesRunner(logger *slog.Logger, sink *ingest.Sink, p Pipeline, m *metrics) *filesRunner {
	ident, _ := parseTable(p.Table)
	return &filesRunner{logger: logger, sink: sink, p: p, cfg: p.Source.Files, ident: ident, m: m, seen: map[string]fileMark{}}
}

// run scans the paths every PollInterval until ctx ends. A file that fails
// to land is logged and tried again later, doubling the wait; it does not
// hold up the others. Only a failure to list the paths fails the pipeline.
func (r *filesRunner) run(ctx context.Context) error {
	r.logger.Info("watching files", "paths", r.cfg.Paths, "every", r.cfg.PollInterval)
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := r.scan(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scan lands, oldest first, the settled files not landed yet.
func (r *filesRunner) scan(ctx context.Context) error {
	found, err := listFiles(r.cfg.Paths)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, c := range found {
		present[c.path] = true
		mk, ok := r.seen[c.path]
		if !ok || mk.size != c.size || !mk.mod.Equal(c.mod) {
			mk = fileMark{size: c.size, mod: c.mod}
		}
		now := time.Now()
		if mk.landed || now.Before(mk.retryAt) || now.Sub(c.mod) < r.cfg.Settle {
			r.seen[c.path] = mk
			continue
		}
		rep, err := landFile(ctx, r.sink, r.ident, r.cfg, r.p.Rules.Required, c.path)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			mk.failures++
			wait := min(r.cfg.PollInterval<<min(mk.failures, 16), maxFileRetry)
			mk.retryAt = time.Now().Add(wait)
			r.seen[c.path] = mk
			r.m.files.WithLabelValues(r.p.Name, "failed").Inc()
			r.logger.Error("landing file failed; trying again later", "file", c.path, "failures", mk.failures, "retry_in", wait, "err", err)
			continue
		}
		mk.landed, mk.failures = true, 0
		r.seen[c.path] = mk
		if rep.Received > 0 && rep.Skipped == rep.Received {
			r.m.files.WithLabelValues(r.p.Name, "skipped").Inc()
			r.logger.Debug("file landed before", "file", c.path)
			continue
		}
		r.m.files.WithLabelValues(r.p.Name, "landed").Inc()
		r.logger.Info("landed file", "file", c.path, "batch", rep.BatchID, "received", rep.Received, "accepted", rep.Accepted,
			"quarantined", rep.Quarantined, "skipped", rep.Skipped, "duration", rep.Duration.Round(time.Millisecond))
	}
	for path := range r.seen {
		if !present[path] {
			delete(r.seen, path)
		}
	}
	return nil
}

// listFiles expands the paths into the files of a known format they name,
// oldest first. A missing path names no file.
func listFiles(paths []string) ([]candidate, error) {
	var out []candidate
	seen := map[string]bool{}
	add := func(path string, info fs.FileInfo, explicit bool) {
		base := filepath.Base(path)
		if seen[path] || !info.Mode().IsRegular() || (!explicit && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_"))) {
			return
		}
		if _, err := files.FormatOf(path); err != nil {
			return
		}
		seen[path] = true
		out = append(out, candidate{path: path, size: info.Size(), mod: info.ModTime()})
	}
	for _, pattern := range paths {
		if strings.ContainsAny(pattern, "*?[") {
			matches, err := filepath.Glob(pattern)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", pattern, err)
			}
			for _, m := range matches {
				if info, err := os.Stat(m); err == nil {
					add(m, info, false)
				}
			}
			continue
		}
		info, err := os.Stat(pattern)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", pattern, err)
		}
		if !info.IsDir() {
			add(pattern, info, true)
			continue
		}
		entries, err := os.ReadDir(pattern)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", pattern, err)
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				add(filepath.Join(pattern, e.Name()), info, false)
			}
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		return cmp.Or(a.mod.Compare(b.mod), strings.Compare(a.path, b.path))
	})
	return out, nil
}

// landFile lands one file once, as files.Land does, with the rules
// applied to its records.
func landFile(ctx context.Context, sink *ingest.Sink, ident table.Identifier, cfg *Files, required []string, path string) (files.Report, error) {
	before, err := os.Stat(path)
	if err != nil {
		return files.Report{}, fmt.Errorf("landing %s: %w", path, err)
	}
	id, err := files.Identify(path)
	if err != nil {
		return files.Report{}, fmt.Errorf("landing %s: %w", path, err)
	}
	t := ingest.Target{Table: ident, Source: id.Path, BatchID: id.BatchID()}
	open := func(ctx context.Context, declared *arrow.Schema) (ingest.Source, error) {
		src, err := files.Open(ctx, id.Path, declared, nil, files.Options{SampleRows: cfg.SampleRows})
		if err != nil || len(required) == 0 {
			return src, err
		}
		return &requireFields{Source: src, required: required}, nil
	}
	rep, err := sink.Land(ctx, open, t)
	if err != nil {
		return files.Report{}, fmt.Errorf("landing %s: %w", path, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		return files.Report{}, fmt.Errorf("landing %s: %w", path, err)
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return files.Report{}, fmt.Errorf("landing %s: %w: it landed under batch %s, which may not match its content now", path, files.ErrChanged, t.BatchID)
	}
	return files.Report{Path: path, BatchID: t.BatchID, Report: rep}, nil
}

// requireFields moves the records that lack a required field, or hold
// null there, from a batch's records to its rejects.
type requireFields struct {
	ingest.Source
	required []string
}

func (r *requireFields) Next(ctx context.Context) (ingest.Batch, error) {
	b, err := r.Source.Next(ctx)
	if err != nil || b.Records == nil {
		return b, err
	}
	rec := b.Records
	cols := make([]arrow.Array, len(r.required))
	for i, name := range r.required {
		if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
			cols[i] = rec.Column(idx[0])
		}
	}
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	var kept []string
	var rejects []ingest.Reject
	for row := range int(rec.NumRows()) {
		var missing []string
		for i, c := range cols {
			if c == nil || c.IsNull(row) {
				missing = append(missing, r.required[i])
			}
		}
		pos := ""
		if row < len(b.Positions) {
			pos = b.Positions[row]
		}
		mask.Append(len(missing) == 0)
		if len(missing) == 0 {
			kept = append(kept, pos)
			continue
		}
		rejects = append(rejects, ingest.Reject{Position: pos, Reason: "missing required field " + strings.Join(missing, ", "), Raw: rowJSON(rec, row)})
	}
	if len(rejects) == 0 {
		return b, nil
	}
	m := mask.NewArray()
	defer m.Release()
	filtered, err := compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
	rec.Release()
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("applying required fields: %w", err)
	}
	if filtered.NumRows() == 0 {
		filtered.Release()
		filtered = nil
	}
	b.Records, b.Positions, b.Rejects = filtered, kept, append(b.Rejects, rejects...)
	return b, nil
}

// rowJSON writes one record as a JSON object: the raw payload of a reject
// the source had accepted.
func rowJSON(rec arrow.RecordBatch, row int) []byte {
	obj := make(map[string]any, rec.NumCols())
	for i, f := range rec.Schema().Fields() {
		obj[f.Name] = rec.Column(i).GetOneForMarshal(row)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return []byte(fmt.Sprintf("%v", obj))
	}
	return raw
}
