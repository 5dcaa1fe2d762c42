package poll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxPageBytes bounds one response body: a page is held in memory while
// its records are spooled.
const maxPageBytes = 512 << 20

// StatusError is an HTTP response outside 2xx.
type StatusError struct {
	Code int
	Body string // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Body)
}

type httpFetcher struct {
	cfg    *HTTP
	client *http.Client
}

func newHTTPFetcher(cfg *HTTP) *httpFetcher {
	return &httpFetcher{cfg: cfg, client: cfg.client()}
}

func (h *httpFetcher) Close() error { return nil }

// fetch reads every page of the window into a spool.
func (h *httpFetcher) fetch(ctx context.Context, w Window) (_ *spool, err error) {
	sp, err := newSpool()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, sp.remove())
		}
	}()
	numbered := strings.Contains(h.cfg.URL, "{page}")
	next := h.expand(h.cfg.URL, w, 1, true)
	seen := map[string]bool{}
	for page := 1; next != ""; page++ {
		if page > h.cfg.maxPages() {
			return nil, fmt.Errorf("window %v has more than %d pages", w, h.cfg.maxPages())
		}
		if seen[next] {
			return nil, fmt.Errorf("page %d of window %v points back to %s", page, w, redact(next))
		}
		seen[next] = true
		body, header, err := h.get(ctx, next, w)
		if err != nil {
			return nil, err
		}
		items, nextRef, err := h.parse(body)
		if err != nil {
			return nil, fmt.Errorf("reading page %d of %s: %w", page, redact(next), err)
		}
		for i, raw := range items {
			if err := sp.add(raw, fmt.Sprintf("page %d item %d", page, i+1)); err != nil {
				return nil, err
			}
		}
		switch {
		case numbered && len(items) == 0:
			next = ""
		case numbered:
			next = h.expand(h.cfg.URL, w, page+1, true)
		case h.cfg.Next != "":
			next, err = resolve(next, nextRef)
		default:
			next, err = resolve(next, linkNext(header))
		}
		if err != nil {
			return nil, fmt.Errorf("following page %d of window %v: %w", page, w, err)
		}
	}
	if err := sp.finish(); err != nil {
		return nil, err
	}
	return sp, nil
}

// expand fills in the window's bounds and the page number.
func (h *httpFetcher) expand(tmpl string, w Window, page int, escape bool) string {
	start, end := fmt.Sprint(h.cfg.TimeFormat.format(w.Start)), fmt.Sprint(h.cfg.TimeFormat.format(w.End))
	if escape {
		start, end = url.QueryEscape(start), url.QueryEscape(end)
	}
	return strings.NewReplacer("{start}", start, "{end}", end, "{page}", strconv.Itoa(page)).Replace(tmpl)
}

func (h *httpFetcher) get(ctx context.Context, target string, w Window) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building request %s: %w", redact(target), err)
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	for k, v := range h.cfg.Headers {
		req.Header.Set(k, h.expand(v, w, 0, false))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("requesting %s: %w", redact(target), err)
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if cerr := resp.Body.Close(); rerr == nil {
		rerr = cerr
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, fmt.Errorf("requesting %s: %w", redact(target), &StatusError{Code: resp.StatusCode, Body: snippet(body)})
	}
	if rerr != nil {
		return nil, nil, fmt.Errorf("reading response of %s: %w", redact(target), rerr)
	}
	if len(body) > maxPageBytes {
		return nil, nil, fmt.Errorf("response of %s exceeds %d MiB; page it", redact(target), maxPageBytes>>20)
	}
	return body, resp.Header, nil
}

// parse splits a page into its records and the reference to the next page
// (when Next names one).
func (h *httpFetcher) parse(body []byte) ([][]byte, string, error) {
	if h.cfg.Items == "" {
		return splitRecords(body)
	}
	items, ok, err := lookup(body, h.cfg.Items)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("the response has no %q", h.cfg.Items)
	}
	var recs [][]byte
	if !bytes.Equal(bytes.TrimSpace(items), []byte("null")) {
		var arr []json.RawMessage
		if err := json.Unmarshal(items, &arr); err != nil {
			return nil, "", fmt.Errorf("%q is not an array: %w", h.cfg.Items, err)
		}
		for _, r := range arr {
			recs = append(recs, r)
		}
	}
	if h.cfg.Next == "" {
		return recs, "", nil
	}
	ref, ok, err := lookup(body, h.cfg.Next)
	if err != nil || !ok {
		return recs, "", err
	}
	var next *string
	if err := json.Unmarshal(ref, &next); err != nil {
		return nil, "", fmt.Errorf("%q is not a URL string: %w", h.cfg.Next, err)
	}
	if next == nil {
		return recs, "", nil
	}
	return recs, *next, nil
}

// splitRecords reads a JSON array of records or NDJSON. An array must be
// valid JSON as a whole (a cut-off response is an error, not records);
// NDJSON lines that are not JSON become rejects.
func splitRecords(body []byte) ([][]byte, string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, "", nil
	}
	if trimmed[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, "", fmt.Errorf("reading the JSON array: %w", err)
		}
		recs := make([][]byte, len(arr))
		for i, r := range arr {
			recs[i] = r
		}
		return recs, "", nil
	}
	var recs [][]byte
	for line := range bytes.SplitSeq(trimmed, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			recs = append(recs, line)
		}
	}
	return recs, "", nil
}

// lookup follows a dotted path of object keys.
func lookup(doc []byte, path string) (json.RawMessage, bool, error) {
	cur := json.RawMessage(doc)
	walked := ""
	for key := range strings.SplitSeq(path, ".") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, false, fmt.Errorf("looking up %q: %s is not a JSON object: %w", path, orTop(walked), err)
		}
		v, ok := obj[key]
		if !ok {
			return nil, false, nil
		}
		cur, walked = v, strings.TrimPrefix(walked+"."+key, ".")
	}
	return cur, true, nil
}

func orTop(path string) string {
	if path == "" {
		return "the response"
	}
	return strconv.Quote(path)
}

// resolve makes ref, when not empty, absolute against the page it came from.
func resolve(base, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("next page %q: %w", ref, err)
	}
	return b.ResolveReference(r).String(), nil
}

// linkNext is the target of a Link header's rel="next" (RFC 8288).
func linkNext(h http.Header) string {
	for _, v := range h.Values("Link") {
		for link := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && slicesContainsFold(strings.Fields(strings.Trim(val, `"`)), "next") {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

func slicesContainsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// redact hides the values of query parameters that look like credentials,
// for errors and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		for _, s := range []string{"key", "token", "secret", "sig", "pass", "auth"} {
			if strings.Contains(lk, s) {
				q.Set(k, "REDACTED")
				changed = true
				break
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
