// Package extclient is the HTTP plumbing shared by the clients of the
// catalog's lakehouse extensions (leases, halts): where a name's resource
// lives, and how an answer is read, decoded or turned into an error.
package extclient

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Client talks to one catalog.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the catalog at catalogURL (e.g.
// http://127.0.0.1:8181); hc nil means a client with a 30 s timeout.
func New(catalogURL string, hc *http.Client) Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return Client{base: strings.TrimRight(catalogURL, "/"), hc: hc}
}

// URL is the address of the extension's collection (e.g. "leases") or, with
// a name, of the name's resource in it.
func (c Client) URL(collection, name string) string {
	u := c.base + "/lakehouse/v1/" + collection
	if name != "" {
		u += "/" + (&url.URL{Path: name}).EscapedPath()
	}
	return u
}

// StatusError is an answer whose status was not among those wanted.
type StatusError struct {
	Status int    // e.g. 404
	Line   string // e.g. "404 Not Found"
	// Type and Message are the Iceberg error body's, when it had one;
	// Message is otherwise the answer's text.
	Type, Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("catalog answered %s: %s", e.Line, e.Message)
}

// NotOffered tells that the catalog has no such extension (it is not the
// lakehouse's own catalog, or a release before it).
func (e *StatusError) NotOffered() bool {
	return e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed
}

type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// Do sends req and, when the answer's status is one of want, decodes its
// body into out (unless out is nil) and returns the status. Any other
// status is a *StatusError.
func (c Client) Do(req *http.Request, out any, want ...int) (int, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("reading the catalog's answer: %w", err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		se := &StatusError{Status: resp.StatusCode, Line: resp.Status, Message: strings.TrimSpace(string(raw))}
		var eb errorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Message != "" {
			se.Type, se.Message = eb.Error.Type, eb.Error.Message
		}
		return 0, se
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return 0, fmt.Errorf("decoding the catalog's answer: %w", err)
	}
	return resp.StatusCode, nil
}
