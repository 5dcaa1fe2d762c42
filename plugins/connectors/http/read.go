package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// state is a stream's checkpoint. A run reads every page; an incremental
// run skips records at or before the cursor where the last run ended.
type state struct {
	// Page is where the run goes on; nil once the run has ended (Done).
	Page *page `json:"page,omitempty"`
	Done bool  `json:"done,omitempty"`
	// Since and SinceKeys: this run skips records whose cursor is before
	// Since, or equal to it with a primary key in SinceKeys (read by the
	// run before).
	Since     string   `json:"since,omitempty"`
	SinceKeys []string `json:"since_keys,omitempty"`
	// Max and MaxKeys: the highest cursor this run has read and the keys
	// read at it; the next run's Since and SinceKeys.
	Max     string   `json:"max,omitempty"`
	MaxKeys []string `json:"max_keys,omitempty"`
}

// page is a position in the pagination.
type page struct {
	Number int    `json:"number,omitempty"` // page
	Offset int    `json:"offset,omitempty"` // offset
	Cursor string `json:"cursor,omitempty"` // cursor
	URL    string `json:"url,omitempty"`    // link
}

// streamReader reads one stream.
type streamReader struct {
	f      *fetcher
	spec   StreamSpec
	schema *arrow.Schema
	incr   bool
	kind   string // the cursor field's type
	st     state
	since  map[string]bool
}

func newStreamReader(f *fetcher, spec StreamSpec, sr sdk.StreamRead) (*streamReader, error) {
	schema, err := spec.schema()
	if err != nil {
		return nil, err
	}
	r := &streamReader{f: f, spec: spec, schema: schema, incr: sr.Mode == sdk.Incremental}
	if r.incr {
		if spec.Incremental == nil {
			return nil, fmt.Errorf("stream %s has no incremental field configured", spec.Name)
		}
		i, _ := spec.field(spec.Incremental.Field)
		r.kind = spec.Fields[i].Type
	}
	var prev state
	if len(sr.State) > 0 {
		if err := json.Unmarshal(sr.State, &prev); err != nil {
			return nil, fmt.Errorf("parsing state %s: %w", sr.State, err)
		}
	}
	switch {
	case prev.Page != nil && !prev.Done:
		r.st = prev // an interrupted run goes on
	case r.incr:
		r.st = state{Since: prev.Max, SinceKeys: prev.MaxKeys, Max: prev.Max, MaxKeys: slices.Clone(prev.MaxKeys)}
	}
	if r.st.Page == nil {
		r.st.Page = &page{Number: spec.Pagination.StartPage}
	}
	r.since = map[string]bool{}
	for _, k := range r.st.SinceKeys {
		r.since[k] = true
	}
	return r, nil
}

// run reads page after page, each followed by its checkpoint.
func (r *streamReader) run(ctx context.Context, w sdk.Writer) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, r.schema)
	defer b.Release()
	for {
		u, err := r.url()
		if err != nil {
			return err
		}
		res, err := r.f.get(ctx, u)
		if err != nil {
			return fmt.Errorf("fetching %s: %w", redact(u), err)
		}
		records, next, err := r.parse(res, u)
		if err != nil {
			return fmt.Errorf("reading %s: %w", redact(u), err)
		}
		n, err := r.append(b, records, r.pageLabel(u), w)
		if err != nil {
			return err
		}
		if n > 0 {
			rec := b.NewRecordBatch()
			err := w.Records(r.spec.Name, rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
		r.st.Page = next
		r.st.Done = next == nil
		raw, err := json.Marshal(r.st)
		if err != nil {
			return err
		}
		if err := w.Checkpoint(r.spec.Name, raw); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
	}
}

// url is the current page's address.
func (r *streamReader) url() (string, error) {
	p := r.spec.Pagination
	if p.Type == "link" && r.st.Page.URL != "" {
		return r.st.Page.URL, nil
	}
	u, err := url.Parse(r.f.cfg.BaseURL + r.spec.Path)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", r.spec.Name, err)
	}
	q := u.Query()
	switch p.Type {
	case "page":
		q.Set(p.PageParam, strconv.Itoa(r.st.Page.Number))
		q.Set(p.SizeParam, strconv.Itoa(p.Size))
	case "offset":
		q.Set(p.OffsetParam, strconv.Itoa(r.st.Page.Offset))
		q.Set(p.SizeParam, strconv.Itoa(p.Size))
	case "cursor":
		if r.st.Page.Cursor != "" {
			q.Set(p.CursorParam, r.st.Page.Cursor)
		}
		q.Set(p.SizeParam, strconv.Itoa(p.Size))
	}
	if r.incr && r.spec.Incremental.Param != "" && r.st.Since != "" {
		q.Set(r.spec.Incremental.Param, paramValue(r.kind, r.st.Since))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// pageLabel names the current page for reject positions.
func (r *streamReader) pageLabel(u string) string {
	p := r.st.Page
	switch r.spec.Pagination.Type {
	case "page":
		return fmt.Sprintf("page %d", p.Number)
	case "offset":
		return fmt.Sprintf("offset %d", p.Offset)
	case "cursor":
		if p.Cursor == "" {
			return "first page"
		}
		return "cursor " + p.Cursor
	}
	return redact(u)
}

// parse returns a page's records and the next page, nil after the last.
func (r *streamReader) parse(res response, current string) ([]map[string]any, *page, error) {
	dec := json.NewDecoder(bytes.NewReader(res.body))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		return nil, nil, fmt.Errorf("decoding JSON: %w", err)
	}
	arr, ok := lookup(body, r.spec.RecordsPath)
	list, isList := arr.([]any)
	if !ok || !isList {
		return nil, nil, fmt.Errorf("records_path %q does not lead to an array", r.spec.RecordsPath)
	}
	records := make([]map[string]any, len(list))
	for i, v := range list {
		if records[i], ok = v.(map[string]any); !ok {
			return nil, nil, fmt.Errorf("record %d is a JSON %T, not an object", i, v)
		}
	}
	p, cur := r.spec.Pagination, *r.st.Page
	var next *page
	switch p.Type {
	case "page":
		if len(records) == p.Size {
			next = &page{Number: cur.Number + 1}
		}
	case "offset":
		if len(records) == p.Size {
			next = &page{Offset: cur.Offset + len(records)}
		}
	case "cursor":
		if v, ok := lookup(body, p.CursorPath); ok && v != nil {
			if s, _ := text(v); s != "" {
				next = &page{Cursor: s}
			}
		}
	case "link":
		if link := nextLink(res.header); link != "" {
			base, _ := url.Parse(current)
			ref, err := url.Parse(link)
			if err != nil {
				return nil, nil, fmt.Errorf("parsing Link header %q: %w", link, err)
			}
			next = &page{URL: base.ResolveReference(ref).String()}
		}
	}
	return records, next, nil
}

// nextLink is the rel="next" target of a Link header (RFC 8288).
func nextLink(h nethttp.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			for _, param := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "rel") && slices.Contains(strings.Fields(strings.Trim(val, `"`)), "next") {
					return strings.Trim(strings.TrimSpace(target), "<>")
				}
			}
		}
	}
	return ""
}

// append converts the records that pass the incremental filter; a record
// that does not convert goes to w as a reject, whole.
func (r *streamReader) append(b *array.RecordBuilder, records []map[string]any, from string, w sdk.Writer) (int, error) {
	n := 0
	adders := make([]adder, len(r.spec.Fields))
	for i, rec := range records {
		if r.incr {
			keep, err := r.track(rec)
			if err != nil {
				return n, fmt.Errorf("stream %s, record %d: %w", r.spec.Name, i, err)
			}
			if !keep {
				continue
			}
		}
		var bad error
		for j, f := range r.spec.Fields {
			v, _ := lookup(rec, f.Path)
			if adders[j], bad = convert(r.schema.Field(j).Type, f.Type, v); bad != nil {
				bad = fmt.Errorf("field %s: %w", f.Name, bad)
				break
			}
		}
		if bad != nil {
			raw, err := json.Marshal(rec)
			if err != nil {
				return n, err
			}
			if err := w.Reject(r.spec.Name, sdk.Reject{Position: fmt.Sprintf("%s, record %d", from, i), Reason: bad.Error(), Raw: raw}); err != nil {
				return n, err
			}
			continue
		}
		for j, add := range adders {
			add(b.Field(j))
		}
		n++
	}
	return n, nil
}

// track applies the incremental filter to one record and moves Max.
func (r *streamReader) track(rec map[string]any) (bool, error) {
	v, _ := lookup(rec, r.spec.Fields[must(r.spec.field(r.spec.Incremental.Field))].Path)
	if v == nil {
		r.f.log(slog.LevelWarn, "skipping a record without cursor value", slog.String("stream", r.spec.Name))
		return false, nil
	}
	c, err := cursorValue(r.kind, v)
	if err != nil {
		return false, err
	}
	key := r.key(rec)
	if c < r.st.Since || (c == r.st.Since && r.since[key]) {
		return false, nil
	}
	switch {
	case c > r.st.Max:
		r.st.Max, r.st.MaxKeys = c, []string{key}
	case c == r.st.Max:
		r.st.MaxKeys = append(r.st.MaxKeys, key)
	}
	return true, nil
}

func must(i int, _ bool) int { return i }

// key is a record's primary key as text.
func (r *streamReader) key(rec map[string]any) string {
	parts := make([]string, len(r.spec.PrimaryKey))
	for i, k := range r.spec.PrimaryKey {
		v, _ := lookup(rec, k)
		parts[i], _ = text(v)
	}
	return strings.Join(parts, "\x1f")
}
