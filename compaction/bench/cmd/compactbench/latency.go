package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// latencyProxy forwards every request to the S3 gateway after a fixed
// delay: the first-byte latency of a remote object store, which the
// embedded gateway on the same machine does not have. The Host header is
// kept, so SigV4 signatures made for the proxy's address still verify.
type latencyProxy struct {
	delay atomic.Int64 // nanoseconds; 0 until set
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

func startLatencyProxy(target string) (*latencyProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parsing the S3 endpoint: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the latency proxy: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	p := &latencyProxy{ln: ln, done: make(chan error, 1)}
	p.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(time.Duration(p.delay.Load())):
				rp.ServeHTTP(w, r)
			case <-r.Context().Done():
			}
		}),
	}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// setDelay sets the delay of every request from now on; a nil proxy
// (none started) takes only 0.
func (p *latencyProxy) setDelay(d time.Duration) {
	if p != nil {
		p.delay.Store(int64(d))
	}
}

func (p *latencyProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *latencyProxy) Close() error {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
