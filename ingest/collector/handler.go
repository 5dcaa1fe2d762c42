package collector

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxListedRejects bounds the reject reasons a response lists.
const maxListedRejects = 100

// spoolRecord is what one acknowledged request leaves in the spool.
type spoolRecord struct {
	RequestID string          `json:"rid"`
	Received  int64           `json:"at"` // unix microseconds
	Accepted  []acceptedEvent `json:"ok,omitempty"`
	Rejects   []rejectedEvent `json:"bad,omitempty"`
}

// Response is the body of an acknowledgement: accepted + quarantined =
// received. The events are on disk and will land exactly once.
type Response struct {
	RequestID   string         `json:"request_id"`
	Received    int            `json:"received"`
	Accepted    int            `json:"accepted"`
	Quarantined int            `json:"quarantined"`
	Rejects     []RejectReason `json:"rejects,omitempty"` // the first 100
}

// RejectReason says why the event at Index of the body was quarantined.
type RejectReason struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// ErrorResponse is the body of every refusal.
type ErrorResponse struct {
	RequestID string `json:"request_id,omitempty"`
	Error     string `json:"error"`
}

func (c *Collector) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/events", c.handleEvents)
	mux.HandleFunc("/v1/events/{zone}/{table}", c.handleEvents)
	mux.HandleFunc("/healthz", c.handleHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.refuse(w, "", http.StatusNotFound, "not_found", "no such endpoint: POST events to /v1/events or /v1/events/{zone}/{table}")
	})
	return mux
}

func (c *Collector) handleEvents(w http.ResponseWriter, r *http.Request) {
	rid := newRequestID()
	w.Header().Set("X-Request-Id", rid)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		c.refuse(w, rid, http.StatusMethodNotAllowed, "method", "method "+r.Method+" not allowed: POST events")
		return
	}
	if zone := r.PathValue("zone"); zone != "" {
		if got, want := zone+"."+r.PathValue("table"), strings.Join(c.cfg.Table, "."); got != want {
			c.refuse(w, rid, http.StatusNotFound, "unknown_table", fmt.Sprintf("unknown table %s: this collector serves %s", got, want))
			return
		}
	}
	ndjson, err := mediaKind(r.Header.Get("Content-Type"))
	if err != nil {
		c.refuse(w, rid, http.StatusUnsupportedMediaType, "media_type", err.Error())
		return
	}
	if r.ContentLength > c.cfg.MaxBodyBytes {
		c.refuse(w, rid, http.StatusRequestEntityTooLarge, "too_large", c.tooLarge())
		return
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		c.refuse(w, rid, http.StatusTooManyRequests, "in_flight", fmt.Sprintf("%d requests in flight already: send fewer at once", c.cfg.MaxInFlight))
		return
	}
	if c.backpressure(w, rid, max(r.ContentLength, 0)) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		c.refuse(w, rid, http.StatusRequestEntityTooLarge, "too_large", c.tooLarge())
		return
	case err != nil:
		c.refuse(w, rid, http.StatusBadRequest, "read", "reading request body: "+err.Error())
		return
	case len(bytes.TrimSpace(body)) == 0:
		c.refuse(w, rid, http.StatusBadRequest, "empty", "empty body: send a JSON object, a JSON array of objects, or NDJSON")
		return
	}
	rec, err := c.check(r.Context(), rid, body, ndjson)
	if err != nil {
		c.logger.Warn("checking events", "request", rid, "err", err)
		w.Header().Set("Retry-After", c.retryAfter())
		c.refuse(w, rid, http.StatusServiceUnavailable, "check_failed", "cannot check events against the table: "+err.Error())
		return
	}
	received := len(rec.Accepted) + len(rec.Rejects)
	if received > 0 {
		if !c.spoolRecord(w, r.Context(), rec, received) {
			return
		}
	}
	c.m.acknowledged(len(body), len(rec.Accepted), len(rec.Rejects))
	resp := Response{RequestID: rid, Received: received, Accepted: len(rec.Accepted), Quarantined: len(rec.Rejects)}
	for _, rj := range rec.Rejects[:min(len(rec.Rejects), maxListedRejects)] {
		resp.Rejects = append(resp.Rejects, RejectReason{Index: rj.Index, Reason: rj.Reason})
	}
	c.reply(w, http.StatusAccepted, resp)
}

// check splits and validates a body into what the spool keeps of it.
func (c *Collector) check(ctx context.Context, rid string, body []byte, ndjson bool) (spoolRecord, error) {
	rec := spoolRecord{RequestID: rid, Received: time.Now().UnixMicro()}
	candidates, rejects := precheck(splitBody(body, ndjson), c.cfg.Required)
	sc, err := c.schemaFor(ctx, rid, candidates)
	if err != nil {
		return rec, err
	}
	accepted, more, _, err := validate(ctx, c.tmp, rid, candidates, sc)
	if err != nil {
		return rec, err
	}
	rec.Accepted = accepted
	rec.Rejects = append(rejects, more...)
	slices.SortFunc(rec.Rejects, func(a, b rejectedEvent) int { return a.Index - b.Index })
	return rec, nil
}

// spoolRecord makes rec durable; false means it answered with an error.
func (c *Collector) spoolRecord(w http.ResponseWriter, ctx context.Context, rec spoolRecord, events int) bool {
	payload, err := json.Marshal(rec)
	if err != nil {
		c.refuse(w, rec.RequestID, http.StatusInternalServerError, "encode", "encoding events for the spool: "+err.Error())
		return false
	}
	sp := c.sp.Load()
	if sp == nil {
		c.refuse(w, rec.RequestID, http.StatusServiceUnavailable, "closed", "collector is shutting down")
		return false
	}
	if _, err := sp.Append(ctx, payload, events); err != nil {
		c.logger.Warn("spooling request", "request", rec.RequestID, "err", err)
		w.Header().Set("Retry-After", c.retryAfter())
		c.refuse(w, rec.RequestID, http.StatusServiceUnavailable, "spool", "events not stored, send them again: "+err.Error())
		return false
	}
	return true
}

// backpressure refuses the request when the spool is full or the flusher
// lags: 503 while the table cannot be written, 429 otherwise. It reports
// whether it refused.
func (c *Collector) backpressure(w http.ResponseWriter, rid string, incoming int64) bool {
	sp := c.sp.Load()
	if sp == nil {
		c.refuse(w, rid, http.StatusServiceUnavailable, "closed", "collector is not serving")
		return true
	}
	if _, ok := c.schema.current(); !ok {
		w.Header().Set("Retry-After", c.retryAfter())
		c.refuse(w, rid, http.StatusServiceUnavailable, "not_ready", errNotReady.Error())
		return true
	}
	st := sp.Stats()
	var why string
	switch lag := time.Since(st.Oldest); {
	case st.Bytes+incoming > c.cfg.MaxSpoolBytes:
		why = fmt.Sprintf("spool full: %d bytes wait to be flushed (limit %d)", st.Bytes, c.cfg.MaxSpoolBytes)
	case !st.Oldest.IsZero() && lag > c.cfg.MaxLag:
		why = fmt.Sprintf("flush lags: the oldest waiting event is %s old (limit %s)", lag.Round(time.Second), c.cfg.MaxLag)
	default:
		return false
	}
	w.Header().Set("Retry-After", c.retryAfter())
	if ferr := c.fl.failing(); ferr != nil {
		c.refuse(w, rid, http.StatusServiceUnavailable, "sink_unavailable", why+"; the table cannot be written: "+ferr.Error())
		return true
	}
	c.refuse(w, rid, http.StatusTooManyRequests, "backpressure", why)
	return true
}

func (c *Collector) retryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(c.cfg.FlushInterval.Seconds()))))
}

func (c *Collector) tooLarge() string {
	return fmt.Sprintf("request body over %d bytes: send fewer events per request", c.cfg.MaxBodyBytes)
}

// mediaKind accepts JSON and NDJSON bodies; ndjson tells which.
func mediaKind(contentType string) (ndjson bool, err error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		return false, fmt.Errorf("content type %q: send application/json or application/x-ndjson", contentType)
	}
	switch mt {
	case "application/json":
		return false, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return true, nil
	}
	return false, fmt.Errorf("content type %s not supported: send application/json or application/x-ndjson", mt)
}

// Health is the body of GET /healthz.
type Health struct {
	Ready        bool    `json:"ready"`
	SpoolBytes   int64   `json:"spool_bytes"`
	SpoolSealed  int     `json:"spool_sealed_segments"`
	LagSeconds   float64 `json:"lag_seconds"`
	FlushFailing string  `json:"flush_failing,omitempty"`
}

func (c *Collector) handleHealth(w http.ResponseWriter, r *http.Request) {
	var h Health
	sp := c.sp.Load()
	_, resolved := c.schema.current()
	h.Ready = sp != nil && resolved
	if sp != nil {
		st := sp.Stats()
		h.SpoolBytes, h.SpoolSealed = st.Bytes, st.Sealed
		if !st.Oldest.IsZero() {
			h.LagSeconds = time.Since(st.Oldest).Seconds()
		}
	}
	if err := c.fl.failing(); err != nil {
		h.FlushFailing = err.Error()
	}
	code := http.StatusOK
	if !h.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func (c *Collector) refuse(w http.ResponseWriter, rid string, code int, reason, msg string) {
	c.m.refused(reason)
	c.reply(w, code, ErrorResponse{RequestID: rid, Error: msg})
}

// reply answers an events request.
func (c *Collector) reply(w http.ResponseWriter, code int, body any) {
	c.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body) // the client went away: nothing to do
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
