// Package halt is the client of the catalog's halt extension: a worker of
// a lakehouse service that finds a unit of work it must not touch (a
// table whose metadata is corrupt) halts it in the catalog, so that every
// worker sharing the catalog leaves it alone, across restarts, until an
// operator lifts the halt.
package halt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/internal/extclient"
)

// Errors of the client.
var (
	// ErrNotHalted is returned by Lift when the name is not halted.
	ErrNotHalted = errors.New("not halted")
	// ErrUnsupported means the catalog has no halt extension (it is not
	// the lakehouse's own catalog, or a release before halts).
	ErrUnsupported = errors.New("the catalog does not offer halts")
)

// Halt stops work on Name until lifted.
type Halt struct {
	Name   string
	Reason string
	// Holder names the worker that halted it.
	Holder string
	// Since is when the catalog recorded it.
	Since time.Time
}

// Client talks to one catalog.
type Client struct{ ext extclient.Client }

// NewClient returns a client of the catalog at catalogURL (e.g.
// http://127.0.0.1:8181); hc nil means a client with a 30 s timeout.
func NewClient(catalogURL string, hc *http.Client) *Client {
	return &Client{ext: extclient.New(catalogURL, hc)}
}

func (c *Client) url(name string) string { return c.ext.URL("halts", name) }

type putRequest struct {
	Reason string `json:"reason"`
	Holder string `json:"holder"`
}

type haltBody struct {
	Name     string    `json:"name"`
	Reason   string    `json:"reason"`
	Holder   string    `json:"holder"`
	HaltedAt time.Time `json:"halted-at"`
}

func (b haltBody) halt() Halt {
	return Halt{Name: b.Name, Reason: b.Reason, Holder: b.Holder, Since: b.HaltedAt}
}

// Put halts name for reason, on behalf of holder, and returns the halt in
// force, created true when it is this one: an earlier halt of name is
// kept, with its reason and time.
func (c *Client) Put(ctx context.Context, name, reason, holder string) (_ Halt, created bool, _ error) {
	body, err := json.Marshal(putRequest{Reason: reason, Holder: holder})
	if err != nil {
		return Halt{}, false, fmt.Errorf("halting %q: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url(name), bytes.NewReader(body))
	if err != nil {
		return Halt{}, false, fmt.Errorf("halting %q: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	var hb haltBody
	status, err := c.do(req, &hb, http.StatusCreated, http.StatusOK)
	if err != nil {
		return Halt{}, false, fmt.Errorf("halting %q: %w", name, err)
	}
	return hb.halt(), status == http.StatusCreated, nil
}

// Lift removes the halt of name and returns it; ErrNotHalted (errors.Is)
// when name is not halted.
func (c *Client) Lift(ctx context.Context, name string) (Halt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.url(name), nil)
	if err != nil {
		return Halt{}, fmt.Errorf("lifting the halt of %q: %w", name, err)
	}
	var hb haltBody
	if _, err := c.do(req, &hb, http.StatusOK); err != nil {
		return Halt{}, fmt.Errorf("lifting the halt of %q: %w", name, err)
	}
	return hb.halt(), nil
}

// List returns every halt, sorted by name.
func (c *Client) List(ctx context.Context) ([]Halt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ext.URL("halts", ""), nil)
	if err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	var lb struct {
		Halts []haltBody `json:"halts"`
	}
	if _, err := c.do(req, &lb, http.StatusOK); err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	out := make([]Halt, len(lb.Halts))
	for i, hb := range lb.Halts {
		out[i] = hb.halt()
	}
	return out, nil
}

// do sends req and decodes the answer into out when its status is one
// of want, which it returns.
func (c *Client) do(req *http.Request, out any, want ...int) (int, error) {
	status, err := c.ext.Do(req, out, want...)
	var se *extclient.StatusError
	switch {
	case !errors.As(err, &se):
		return status, err
	case se.Status == http.StatusNotFound && se.Type == "NoSuchHaltException":
		return 0, fmt.Errorf("%s: %w", se.Message, ErrNotHalted)
	case se.NotOffered():
		return 0, fmt.Errorf("catalog answered %s: %w", se.Line, ErrUnsupported)
	}
	return 0, err
}
