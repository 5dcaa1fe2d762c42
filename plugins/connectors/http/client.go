package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

// fetcher makes the connector's requests: authenticated, rate-limited and
// retried.
type fetcher struct {
	cfg     Config
	client  *nethttp.Client
	limiter *rate.Limiter
	log     func(level slog.Level, msg string, attrs ...slog.Attr)
}

func newFetcher(cfg Config, log func(slog.Level, string, ...slog.Attr)) *fetcher {
	limit := rate.Inf
	if cfg.RequestsPerSecond > 0 {
		limit = rate.Limit(cfg.RequestsPerSecond)
	}
	if log == nil {
		log = func(slog.Level, string, ...slog.Attr) {}
	}
	return &fetcher{
		cfg:     cfg,
		client:  &nethttp.Client{Timeout: time.Duration(cfg.TimeoutMS) * time.Millisecond},
		limiter: rate.NewLimiter(limit, 1),
		log:     log,
	}
}

// response is a successful response's body and the headers pagination
// needs.
type response struct {
	body   []byte
	header nethttp.Header
}

// errStatus is a response that retrying will not change.
type errStatus struct {
	status int
	body   string
}

func (e errStatus) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

// get fetches u, retrying 429s, 5xx and network errors up to MaxRetries
// times: after the server's Retry-After when it sends one, else after a
// doubling backoff. Exhausted retries are sdk.Retryable: the host tries the
// whole read again later, from the last checkpoint.
func (f *fetcher) get(ctx context.Context, u string) (response, error) {
	backoff := time.Duration(f.cfg.RetryBackoffMS) * time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := f.limiter.Wait(ctx); err != nil {
			return response{}, err
		}
		res, wait, err := f.once(ctx, u)
		if err == nil {
			return res, nil
		}
		var st errStatus
		if errors.As(err, &st) || ctx.Err() != nil {
			return response{}, err
		}
		if attempt >= f.cfg.MaxRetries {
			return response{}, sdk.Retryable(fmt.Errorf("giving up after %d retries: %w", attempt, err))
		}
		if wait < 0 {
			wait = backoff
			backoff *= 2
		}
		f.log(slog.LevelWarn, "retrying request", slog.String("url", redact(u)), slog.String("err", err.Error()), slog.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return response{}, ctx.Err()
		case <-t.C:
		}
	}
}

// once makes one request. A retryable failure comes with the wait the
// server asked for (-1 when it named none).
func (f *fetcher) once(ctx context.Context, u string) (response, time.Duration, error) {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, u, nil)
	if err != nil {
		return response{}, 0, errStatus{body: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range f.cfg.Headers {
		req.Header.Set(k, v)
	}
	if err := f.authenticate(req); err != nil {
		return response{}, 0, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return response{}, -1, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, -1, fmt.Errorf("reading response of %s: %w", redact(u), err)
	}
	switch {
	case resp.StatusCode == nethttp.StatusTooManyRequests || resp.StatusCode >= 500:
		return response{}, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %d from %s", resp.StatusCode, redact(u))
	case resp.StatusCode >= 300:
		return response{}, 0, errStatus{status: resp.StatusCode, body: snippet(body)}
	}
	return response{body: body, header: resp.Header}, 0, nil
}

func (f *fetcher) authenticate(req *nethttp.Request) error {
	a := f.cfg.Auth
	switch a.Type {
	case "", "none":
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+a.Token)
	case "basic":
		req.SetBasicAuth(a.Username, a.Password)
	case "api_key":
		if a.Query != "" {
			q := req.URL.Query()
			q.Set(a.Query, a.Key)
			req.URL.RawQuery = q.Encode()
		} else {
			req.Header.Set(or(a.Header, "X-API-Key"), a.Key)
		}
	default:
		return errStatus{body: "unknown auth type " + a.Type}
	}
	return nil
}

// retryAfter reads Retry-After as seconds or an HTTP date; -1 when absent.
func retryAfter(v string) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := nethttp.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// redact drops the query, which may hold an API key, from a URL for logs.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.RawQuery = ""
	return p.String()
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
