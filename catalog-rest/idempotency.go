package catalogrest

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// captureWriter keeps a copy of what a handler wrote.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// idempotent makes a mutation with an Idempotency-Key happen once: a retry
// with the same key gets the first final answer (any status below 500)
// replayed, without running the mutation again.
func (s *Server) idempotent(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			h.ServeHTTP(w, r)
			return
		}
		mu := &s.keyLocks[keyShard(key)]
		mu.Lock()
		defer mu.Unlock()
		ctx := r.Context()
		prev, ok, err := s.store.GetIdempotent(ctx, key)
		if err != nil {
			writeError(w, s.logger, r, fmt.Errorf("checking idempotency key: %w", err))
			return
		}
		if ok && time.Since(prev.Created) < s.cfg.IdempotencyLifetime {
			if len(prev.Body) > 0 {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(prev.Status)
			_, _ = w.Write(prev.Body)
			return
		}
		rec := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 || rec.status >= 500 {
			return
		}
		now := time.Now()
		err = s.store.PutIdempotent(context.WithoutCancel(ctx), key, store.IdempotentResponse{Status: rec.status, Body: rec.body.Bytes(), Created: now})
		if err != nil {
			s.logger.Warn("keeping idempotent response", "key", key, "err", err)
		}
		s.expireKeys(ctx, now)
	})
}

// expireKeys forgets expired responses now and then.
func (s *Server) expireKeys(ctx context.Context, now time.Time) {
	s.expireMu.Lock()
	due := now.Sub(s.lastExpire) > s.cfg.IdempotencyLifetime/4
	if due {
		s.lastExpire = now
	}
	s.expireMu.Unlock()
	if !due {
		return
	}
	if err := s.store.ExpireIdempotent(context.WithoutCancel(ctx), now.Add(-2*s.cfg.IdempotencyLifetime)); err != nil {
		s.logger.Warn("expiring idempotency keys", "err", err)
	}
}

func keyShard(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(keyLocks{})))
}

// keyLocks serialise the requests that carry the same key (by shard).
type keyLocks [64]sync.Mutex

// isoDuration renders d as an ISO-8601 duration such as PT30M.
func isoDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("PT%dH", int(d/time.Hour))
	}
	if d%time.Minute == 0 {
		return fmt.Sprintf("PT%dM", int(d/time.Minute))
	}
	return fmt.Sprintf("PT%dS", int(d/time.Second))
}
