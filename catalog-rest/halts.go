package catalogrest

import (
	"errors"
	"net/http"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// Halts are our extension to the REST API, next to leases: a worker of a
// lakehouse service (compaction) that finds a unit of work it must not
// touch (a table with corrupt metadata) halts it here, so that every
// worker sharing this catalog leaves it alone, across restarts, until an
// operator lifts the halt.
const (
	haltsPath = "/lakehouse/v1/halts"
	haltPath  = "/lakehouse/v1/halts/{name...}"
)

// maxHaltReason caps a halt's reason: an error message, not a log.
const maxHaltReason = 16 << 10

type haltRequest struct {
	Reason string `json:"reason"`
	Holder string `json:"holder"`
}

type haltResponse struct {
	Name     string `json:"name"`
	Reason   string `json:"reason"`
	Holder   string `json:"holder"`
	HaltedAt string `json:"halted-at"` // RFC 3339, UTC
}

func haltBody(h store.Halt) haltResponse {
	return haltResponse{Name: h.Name, Reason: h.Reason, Holder: h.Holder, HaltedAt: h.Since.UTC().Format(time.RFC3339Nano)}
}

// listHalts answers 200 with every halt, sorted by name.
func (s *Server) listHalts(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.store.ListHalts(r.Context())
	if err != nil {
		return err
	}
	out := make([]haltResponse, len(hs))
	for i, h := range hs {
		out[i] = haltBody(h)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"halts": out})
}

// putHalt halts the name in the path: 201 with the new halt, or 200 with
// the earlier one when the name is halted already (it is kept).
func (s *Server) putHalt(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := checkName("halt name", name); err != nil {
		return err
	}
	var req haltRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := checkName("halt holder", req.Holder); err != nil {
		return err
	}
	if req.Reason == "" || len(req.Reason) > maxHaltReason {
		return badRequest("Invalid halt reason: 1 to %d bytes", maxHaltReason)
	}
	h, created, err := s.store.PutHalt(r.Context(), store.Halt{Name: name, Reason: req.Reason, Holder: req.Holder})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, haltBody(h))
}

// deleteHalt lifts the halt of the name in the path: 200 with what was
// lifted, or 404 NoSuchHaltException.
func (s *Server) deleteHalt(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := checkName("halt name", name); err != nil {
		return err
	}
	h, err := s.store.DeleteHalt(r.Context(), name)
	if errors.Is(err, store.ErrNoSuchHalt) {
		return apiErr(store.ErrNoSuchHalt, "Not halted: %s", name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, haltBody(h))
}
