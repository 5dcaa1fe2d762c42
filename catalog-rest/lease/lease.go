// Package lease is the client of the catalog's lease extension: workers of
// a lakehouse service that share one catalog claim units of work (a table
// to compact, a window to poll) so that exactly one of them does each.
//
// A lease runs until its expiry unless renewed (Acquire again by the same
// holder) or released. Its Token grows each time the lease changes hands: a
// worker whose lease ran out can tell it lost the work.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/internal/extclient"
)

// Errors of the client.
var (
	// ErrHeld is returned by Acquire when another holder has an unexpired lease.
	ErrHeld = errors.New("lease held by another holder")
	// ErrUnsupported means the catalog has no lease extension (it is not
	// the lakehouse's own catalog).
	ErrUnsupported = errors.New("the catalog does not offer leases")
)

// Lease is one holder's claim on a name until Expires.
type Lease struct {
	Name    string
	Holder  string
	Token   int64
	Expires time.Time
}

// Client talks to one catalog.
type Client struct{ ext extclient.Client }

// NewClient returns a client of the catalog at catalogURL (e.g.
// http://127.0.0.1:8181); hc nil means a client with a 30 s timeout.
func NewClient(catalogURL string, hc *http.Client) *Client {
	return &Client{ext: extclient.New(catalogURL, hc)}
}

func (c *Client) url(name string) string { return c.ext.URL("leases", name) }

type acquireRequest struct {
	Holder string `json:"holder"`
	TTLMS  int64  `json:"ttl-ms"`
}

type leaseBody struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires-at"`
}

// Acquire claims name for holder for ttl, or renews holder's own lease.
// It fails with ErrHeld (errors.Is) while another holder has the lease.
func (c *Client) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error) {
	body, err := json.Marshal(acquireRequest{Holder: holder, TTLMS: ttl.Milliseconds()})
	if err != nil {
		return Lease{}, fmt.Errorf("acquiring lease %q: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(name), bytes.NewReader(body))
	if err != nil {
		return Lease{}, fmt.Errorf("acquiring lease %q: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	var lb leaseBody
	if err := c.do(req, http.StatusOK, &lb); err != nil {
		return Lease{}, fmt.Errorf("acquiring lease %q: %w", name, err)
	}
	return Lease{Name: lb.Name, Holder: lb.Holder, Token: lb.Token, Expires: lb.Expires}, nil
}

// Release gives l up if its holder still has it; releasing a lease already
// lost is not an error.
func (c *Client) Release(ctx context.Context, l Lease) error {
	q := url.Values{"holder": {l.Holder}, "token": {strconv.FormatInt(l.Token, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.url(l.Name)+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("releasing lease %q: %w", l.Name, err)
	}
	if err := c.do(req, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("releasing lease %q: %w", l.Name, err)
	}
	return nil
}

// do sends req and decodes the answer into out (unless nil) when its
// status is want.
func (c *Client) do(req *http.Request, want int, out any) error {
	_, err := c.ext.Do(req, out, want)
	var se *extclient.StatusError
	switch {
	case !errors.As(err, &se):
		return err
	case se.Status == http.StatusConflict && se.Type == "LeaseHeldException":
		return fmt.Errorf("%s: %w", se.Message, ErrHeld)
	case se.NotOffered():
		return fmt.Errorf("catalog answered %s: %w", se.Line, ErrUnsupported)
	}
	return err
}
