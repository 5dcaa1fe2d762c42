package catalogrest

import (
	"context"
	"net"
	"sync"
)

// net/http writes a response through a 4 KiB buffer, so a load response of
// a table with some history (10 KiB and up) leaves in two or three writes,
// and each write costs the system call, a trip through the TCP stack and,
// on loopback or a busy host, a wake-up of the reader. A handler that has
// its whole response at hand holds the connection's writes and releases
// them as one.

// coalescingListener hands out connections whose writes can be held.
type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coalescingConn{Conn: c}, nil
}

// maxHeldBuffer: a held buffer that grew past it is not kept for the
// connection's next response.
const maxHeldBuffer = 256 << 10

// coalescingConn collects writes between hold and release.
type coalescingConn struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	buf     []byte
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection, as it would a TCP
// connection's.
func (c *coalescingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *coalescingConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release writes what was held in one write.
func (c *coalescingConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxHeldBuffer {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

type connKey struct{}

// withConn is http.Server's ConnContext: handlers find their connection.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*coalescingConn); ok {
		return context.WithValue(ctx, connKey{}, cc)
	}
	return ctx
}

// holdWrites holds the writes of the request's connection until the
// returned function releases them; without a coalescing connection (a
// test's httptest server) both do nothing.
func holdWrites(ctx context.Context) (release func() error) {
	cc, ok := ctx.Value(connKey{}).(*coalescingConn)
	if !ok {
		return func() error { return nil }
	}
	cc.hold()
	return cc.release
}
