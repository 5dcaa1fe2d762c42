package catalogrest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Leases are our extension to the REST API, outside the spec's /v1 paths:
// workers of the lakehouse's services (compaction, ingestion) that share
// this catalog claim units of work (a table, a window) through them.
const leasesPath = "/lakehouse/v1/leases/{name...}"

// Bounds of a lease request.
const (
	maxLeaseName = 256
	minLeaseTTL  = 100 * time.Millisecond
	maxLeaseTTL  = time.Hour
)

type leaseRequest struct {
	Holder string `json:"holder"`
	TTLMS  int64  `json:"ttl-ms"`
}

type leaseResponse struct {
	Name    string `json:"name"`
	Holder  string `json:"holder"`
	Token   int64  `json:"token"`
	Expires string `json:"expires-at"` // RFC 3339, UTC
}

func leaseName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	return name, checkName("lease name", name)
}

func validHolder(holder string) error { return checkName("lease holder", holder) }

// checkName refuses an empty, overlong or unprintable name of an extension
// resource (a lease, a halt, their holders).
func checkName(what, name string) error {
	if name == "" || len(name) > maxLeaseName || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return badRequest("Invalid %s %q: 1 to %d characters, no control characters", what, name, maxLeaseName)
	}
	return nil
}

// acquireLease gives the holder the lease (or renews it): 200 with the
// lease, or 409 LeaseHeldException naming the current holder.
func (s *Server) acquireLease(w http.ResponseWriter, r *http.Request) error {
	name, err := leaseName(r)
	if err != nil {
		return err
	}
	var req leaseRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := validHolder(req.Holder); err != nil {
		return err
	}
	ttl := time.Duration(req.TTLMS) * time.Millisecond
	if ttl < minLeaseTTL || ttl > maxLeaseTTL {
		return badRequest("Invalid ttl-ms %d: between %d and %d", req.TTLMS, minLeaseTTL.Milliseconds(), maxLeaseTTL.Milliseconds())
	}
	l, err := s.store.AcquireLease(r.Context(), name, req.Holder, ttl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, leaseResponse{
		Name: l.Name, Holder: l.Holder, Token: l.Token,
		Expires: l.Expires.UTC().Format(time.RFC3339Nano),
	})
}

// releaseLease ends the lease named in the path if holder (query) still
// has it with token (query): 204 either way.
func (s *Server) releaseLease(w http.ResponseWriter, r *http.Request) error {
	name, err := leaseName(r)
	if err != nil {
		return err
	}
	holder := r.URL.Query().Get("holder")
	if err := validHolder(holder); err != nil {
		return err
	}
	token, err := strconv.ParseInt(r.URL.Query().Get("token"), 10, 64)
	if err != nil {
		return badRequest("Invalid lease token %q: an integer", r.URL.Query().Get("token"))
	}
	if err := s.store.ReleaseLease(r.Context(), name, holder, token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
